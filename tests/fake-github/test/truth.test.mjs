import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fake, collectAll } from './helpers.mjs';

const closers = [];
after(() => Promise.all(closers.map((c) => c())));

async function truthText(f, repo) {
  const r = await fetch(`${f.url}/_fake/truth?repo=${repo}`);
  assert.equal(r.status, 200);
  // base URLs differ between servers (ports); normalise them
  return (await r.text()).replaceAll(f.url, 'http://FAKE');
}

test('determinism: same seed => byte-identical truth; different seed differs', async () => {
  const a = await fake({ dataset: 'standard', seed: 7 }); closers.push(a.close);
  const b = await fake({ dataset: 'standard', seed: 7 }); closers.push(b.close);
  const c = await fake({ dataset: 'standard', seed: 8 }); closers.push(c.close);
  for (const repo of ['acme/widgets', 'acme/pathological']) {
    const ta = await truthText(a, repo), tb = await truthText(b, repo), tc = await truthText(c, repo);
    assert.equal(ta, tb, `${repo} differs between identical seeds`);
    assert.notEqual(ta, tc);
  }
  const ra = await a.api.get('/repos/acme/widgets/pulls?state=all&per_page=100&page=2');
  const rb = await b.api.get('/repos/acme/widgets/pulls?state=all&per_page=100&page=2');
  assert.equal(ra.text.replaceAll(a.url, ''), rb.text.replaceAll(b.url, ''));
  const sa = (await a.api.ctl('GET', '/_fake/truth/summary')).json.repositories;
  assert.equal(Object.values(sa).filter((x) => !x.private).reduce((n, x) => n + x.pull_requests, 0) >= 600, true);
});

test('truth is exactly what the REST API returns', async () => {
  const f = await fake(); closers.push(f.close);
  const t = (await f.api.ctl('GET', '/_fake/truth?repo=acme/pathological')).json;
  assert.equal(t.pull_requests.length, 18);
  for (const pr of t.pull_requests.slice(0, 6)) {
    assert.deepEqual((await f.api.get(`/repos/acme/pathological/pulls/${pr.number}`)).json, pr);
    assert.deepEqual((await collectAll(f.api, `/repos/acme/pathological/pulls/${pr.number}/reviews?per_page=100`)).items, t.reviews[pr.number]);
    assert.deepEqual((await collectAll(f.api, `/repos/acme/pathological/pulls/${pr.number}/comments?per_page=100`)).items, t.review_comments[pr.number]);
    assert.deepEqual((await collectAll(f.api, `/repos/acme/pathological/issues/${pr.number}/comments?per_page=100`)).items, t.issue_comments[pr.number]);
  }
  assert.deepEqual((await f.api.get('/repos/acme/pathological')).json.id, t.repository.id);
  assert.ok(t.users.some((u) => u.type === 'Bot'));
  // ids: unique per type, some beyond 2^31
  const ids = t.pull_requests.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  const all = (await f.api.ctl('GET', '/_fake/truth?repo=acme/widgets')).json;
  const allIds = [...all.pull_requests.map((p) => p.id), ...Object.values(all.issue_comments).flat().map((c) => c.id)];
  assert.ok(allIds.some((x) => x > 2 ** 31) && allIds.some((x) => x < 2 ** 31));
  for (const p of all.pull_requests) {
    assert.ok(p.created_at < p.updated_at, `#${p.number}`);
    if (p.merged) assert.ok(p.merged_at && p.closed_at === p.merged_at && p.state === 'closed');
    if (p.state === 'open') assert.equal(p.closed_at, null);
  }
});

test('truth reflects mutations', async () => {
  const f = await fake(); closers.push(f.close);
  const before = (await f.api.ctl('GET', '/_fake/truth?repo=acme/widgets&numbers=3')).json;
  const m = await f.api.ctl('POST', '/_fake/mutate', [
    { op: 'add_review', repo: 'acme/widgets', number: 3, state: 'CHANGES_REQUESTED' },
    { op: 'add_review_comment', repo: 'acme/widgets', number: 3, body: 'nit' },
    { op: 'add_comment', repo: 'acme/widgets', number: 3, body: 'hello' },
    { op: 'add_pr', repo: 'acme/widgets', title: 'Brand new' },
    { op: 'advance_time', seconds: 3600 },
  ]);
  assert.equal(m.status, 200, m.text);
  const after2 = (await f.api.ctl('GET', '/_fake/truth?repo=acme/widgets&numbers=3')).json;
  assert.equal(after2.reviews['3'].length, before.reviews['3'].length + 2); // + the comment's own review
  assert.equal(after2.review_comments['3'].length, before.review_comments['3'].length + 1);
  assert.equal(after2.issue_comments['3'].length, before.issue_comments['3'].length + 1);
  assert.ok(after2.pull_requests[0].updated_at > before.pull_requests[0].updated_at);
  const newNum = m.json.results[3].number;
  const pr = await f.api.get(`/repos/acme/widgets/pulls/${newNum}`);
  assert.equal(pr.json.title, 'Brand new');
  assert.equal(pr.json.state, 'open');
  const sum = (await f.api.ctl('GET', '/_fake/truth/summary')).json;
  assert.ok(sum.now >= '2026-11-29T01:00:00Z' && sum.now < '2026-11-29T01:01:00Z', sum.now);
});

test('bench dataset: 10,000 PRs generate quickly and serve', async () => {
  const t = Date.now();
  const f = await fake({ dataset: 'bench' }); closers.push(f.close);
  const ms = Date.now() - t;
  assert.ok(ms < 15000, `generation took ${ms} ms`);
  const s = (await f.api.ctl('GET', '/_fake/truth/summary')).json.repositories['bench/big'];
  assert.equal(s.pull_requests, 10000);
  const r = await f.api.get('/repos/bench/big/pulls?state=all&per_page=100&page=100');
  assert.equal(r.json.length, 100);
});
