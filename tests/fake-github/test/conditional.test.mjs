import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fake } from './helpers.mjs';

let f, api;
before(async () => { f = await fake(); api = f.api; });
after(() => f.close());

const remaining = (r) => Number(r.headers.get('x-ratelimit-remaining'));

test('ETag + If-None-Match -> 304 with empty body that does not consume quota', async () => {
  const r1 = await api.get('/repos/acme/widgets/pulls/3');
  assert.equal(r1.status, 200);
  const etag = r1.headers.get('etag');
  assert.match(etag, /^"[0-9a-f]{64}"$/);
  assert.ok(r1.headers.get('last-modified'));
  const before = remaining(r1);
  for (let i = 0; i < 3; i++) {
    const r = await api.get('/repos/acme/widgets/pulls/3', { headers: { 'if-none-match': etag } });
    assert.equal(r.status, 304);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('etag'), etag);
    assert.equal(remaining(r), before, '304 must not count');
    assert.equal(r.headers.get('x-ratelimit-resource'), 'core');
  }
  // weak form and lists of tags also match
  assert.equal((await api.get('/repos/acme/widgets/pulls/3', { headers: { 'if-none-match': `"nope", W/${etag}` } })).status, 304);
  const r3 = await api.get('/repos/acme/widgets/pulls/3', { headers: { 'if-none-match': '"other"' } });
  assert.equal(r3.status, 200);
  assert.equal(remaining(r3), before - 1);
  const stats = (await api.ctl('GET', '/_fake/stats')).json;
  assert.equal(stats.not_modified, 4);
  assert.equal(stats.by_status['304'], 4);
});

test('ETag on list pages; touch_pr invalidates it', async () => {
  const p = '/repos/acme/widgets/pulls?state=all&sort=updated&direction=desc&per_page=10';
  const r1 = await api.get(p);
  const etag = r1.headers.get('etag');
  assert.equal((await api.get(p, { headers: { 'if-none-match': etag } })).status, 304);
  const m = await api.ctl('POST', '/_fake/mutate', { op: 'touch_pr', repo: 'acme/widgets', number: 5, fields: { title: 'Touched!' } });
  assert.equal(m.status, 200);
  const r2 = await api.get(p, { headers: { 'if-none-match': etag } });
  assert.equal(r2.status, 200);
  assert.notEqual(r2.headers.get('etag'), etag);
  assert.equal(r2.json[0].number, 5);
  assert.equal(r2.json[0].title, 'Touched!');
  assert.ok(r2.json[0].updated_at >= '2026-11-29T00:00:00Z');
});

test('push_commit: new head sha, one more commit and file, PR totals follow', async () => {
  const before = (await api.get('/repos/acme/widgets/pulls/13')).json;
  const files0 = (await api.get('/repos/acme/widgets/pulls/13/files?per_page=100')).json;
  const m = await api.ctl('POST', '/_fake/mutate', { op: 'push_commit', repo: 'acme/widgets', number: 13, path: 'src/pushed.cc', additions: 7 });
  assert.equal(m.status, 200);
  const after = (await api.get('/repos/acme/widgets/pulls/13')).json;
  assert.notEqual(after.head.sha, before.head.sha);
  assert.equal(m.json.results.head_sha, after.head.sha);
  assert.equal(after.commits, before.commits + 1);
  assert.equal(after.changed_files, before.changed_files + 1);
  assert.equal(after.additions, before.additions + 7);
  assert.ok(after.updated_at > before.updated_at);
  const files1 = (await api.get('/repos/acme/widgets/pulls/13/files?per_page=100')).json;
  assert.equal(files1.length, files0.length + 1);
  assert.deepEqual(files1.filter((x) => x.filename === 'src/pushed.cc').map((x) => [x.status, x.additions]), [['added', 7]]);
});

test('If-Modified-Since -> 304 without quota; newer change -> 200', async () => {
  const r1 = await api.get('/repos/acme/widgets/pulls/7');
  const lm = r1.headers.get('last-modified');
  const rem = remaining(r1);
  const r2 = await api.get('/repos/acme/widgets/pulls/7', { headers: { 'if-modified-since': lm } });
  assert.equal(r2.status, 304);
  assert.equal(remaining(r2), rem);
  await api.ctl('POST', '/_fake/mutate', { op: 'add_comment', repo: 'acme/widgets', number: 7, body: 'new comment' });
  const r3 = await api.get('/repos/acme/widgets/pulls/7', { headers: { 'if-modified-since': lm } });
  assert.equal(r3.status, 200);
  assert.equal(r3.json.comments, r1.json.comments + 1);
});
