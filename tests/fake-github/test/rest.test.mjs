import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fake, links, collectAll } from './helpers.mjs';

let f, api;
before(async () => { f = await fake({ dataset: 'standard' }); api = f.api; });
after(() => f.close());

describe('pagination', () => {
  test('Link header: GitHub format, absolute URLs, /repositories/{id} form, no next on last page', async () => {
    const repo = (await api.get('/repos/acme/widgets')).json;
    const r1 = await api.get('/repos/acme/widgets/pulls?state=all&per_page=100');
    assert.equal(r1.status, 200);
    assert.equal(r1.json.length, 100);
    const raw = r1.headers.get('link');
    assert.match(raw, /^<http:\/\/127\.0\.0\.1:\d+\/repositories\/\d+\/pulls\?state=all&per_page=100&page=2>; rel="next", <[^>]+page=3>; rel="last"$/);
    const l1 = links(raw);
    assert.ok(l1.next.startsWith(`${f.url}/repositories/${repo.id}/pulls?`));
    const r2 = await api.get(l1.next);
    const l2 = links(r2.headers.get('link'));
    assert.deepEqual(Object.keys(l2), ['prev', 'next', 'last', 'first']);
    const r3 = await api.get(l2.next);
    assert.equal(r3.json.length, 100);
    const l3 = links(r3.headers.get('link'));
    assert.deepEqual(Object.keys(l3), ['prev', 'first']);
    assert.equal(l3.next, undefined);
    const nums = [...r1.json, ...r2.json, ...r3.json].map((p) => p.number);
    assert.equal(new Set(nums).size, 300);
  });

  test('per_page defaults to 30 and is clamped to 100', async () => {
    assert.equal((await api.get('/repos/acme/widgets/pulls?state=all')).json.length, 30);
    assert.equal((await api.get('/repos/acme/widgets/pulls?state=all&per_page=1000')).json.length, 100);
  });

  test('a page past the end is an empty array', async () => {
    const r = await api.get('/repos/acme/widgets/pulls?state=all&per_page=100&page=99');
    assert.deepEqual(r.json, []);
  });

  test('/files stops at the 3,000-file cap; truth has all files', async () => {
    const { items, pages } = await collectAll(api, '/repos/acme/pathological/pulls/2/files?per_page=100');
    assert.equal(items.length, 3000);
    assert.equal(pages, 30);
    const pr = (await api.get('/repos/acme/pathological/pulls/2')).json;
    assert.equal(pr.changed_files, 3105);
    const truth = (await api.ctl('GET', '/_fake/truth?repo=acme/pathological&numbers=2&include=files')).json;
    assert.equal(truth.files['2'].length, 3105);
    assert.equal(truth.files['2'].filter((x) => x._fake_beyond_cap).length, 105);
  });

  test('reviews, review comments and issue comments paginate beyond 100', async () => {
    const rv = await collectAll(api, '/repos/acme/pathological/pulls/1/reviews?per_page=100');
    assert.ok(rv.items.length > 100 && rv.pages >= 2);
    const rc = await collectAll(api, '/repos/acme/pathological/pulls/1/comments?per_page=100');
    assert.ok(rc.items.length >= 150);
    const ic = await collectAll(api, '/repos/acme/pathological/issues/3/comments?per_page=100');
    assert.equal(ic.items.length, 240);
    // chronological, ids unique
    assert.equal(new Set(ic.items.map((c) => c.id)).size, 240);
  });
});

describe('shapes', () => {
  test('list PR objects lack the full-only fields; GET /pulls/{n} has them', async () => {
    const list = (await api.get('/repos/acme/widgets/pulls?state=all&per_page=5')).json;
    for (const k of ['additions', 'deletions', 'changed_files', 'commits', 'mergeable', 'merged', 'merged_by', 'comments', 'review_comments', 'rebaseable', 'mergeable_state', 'maintainer_can_modify']) {
      assert.ok(!(k in list[0]), `list object should not have ${k}`);
    }
    for (const k of ['url', 'id', 'node_id', 'html_url', 'number', 'state', 'locked', 'title', 'user', 'body', 'labels', 'milestone', 'created_at', 'updated_at', 'closed_at', 'merged_at', 'merge_commit_sha', 'head', 'base', '_links', 'author_association', 'auto_merge', 'draft', 'requested_reviewers']) {
      assert.ok(k in list[0], `missing ${k}`);
    }
    const full = (await api.get(`/repos/acme/widgets/pulls/${list[0].number}`)).json;
    for (const k of ['additions', 'deletions', 'changed_files', 'commits', 'mergeable', 'merged', 'merged_by', 'comments', 'review_comments']) assert.ok(k in full, k);
    assert.equal(full.id, list[0].id);
    assert.ok(full.url.startsWith(f.url));
    assert.ok(full.html_url.startsWith('https://github.com/acme/widgets/pull/'));
    assert.match(full.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(full.created_at < full.updated_at);
  });

  test('review comments carry the review id, reply ids, diff hunk and positions', async () => {
    const rcs = (await collectAll(api, '/repos/acme/pathological/pulls/1/comments?per_page=100')).items;
    const reviews = (await collectAll(api, '/repos/acme/pathological/pulls/1/reviews?per_page=100')).items;
    const reviewIds = new Set(reviews.map((r) => r.id));
    for (const c of rcs) {
      for (const k of ['pull_request_review_id', 'diff_hunk', 'path', 'position', 'original_position', 'commit_id', 'original_commit_id', 'user', 'body', 'created_at', 'updated_at', 'html_url', 'pull_request_url', '_links']) assert.ok(k in c, k);
      assert.ok(reviewIds.has(c.pull_request_review_id));
    }
    const replies = rcs.filter((c) => 'in_reply_to_id' in c);
    assert.ok(replies.length > 0);
    const ids = new Set(rcs.map((c) => c.id));
    for (const r of replies) assert.ok(ids.has(r.in_reply_to_id));
    const states = new Set((await api.get('/repos/acme/pathological/pulls/15/reviews')).json.map((r) => r.state));
    assert.deepEqual([...states].sort(), ['APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED', 'PENDING']);
  });

  test('ghosts, bots, renamed files, unicode, hostile strings, huge body', async () => {
    const ghost = (await api.get('/repos/acme/pathological/pulls/4')).json;
    assert.equal(ghost.user, null);
    assert.equal(ghost.merged_by, null);
    const bot = (await api.get('/repos/acme/pathological/pulls/5')).json;
    assert.equal(bot.user.login, 'dependabot[bot]');
    assert.equal(bot.user.type, 'Bot');
    const files = (await api.get('/repos/acme/pathological/pulls/13/files')).json;
    const renamed = files.filter((x) => x.status === 'renamed');
    assert.equal(renamed.length, 2);
    assert.ok(renamed.every((x) => typeof x.previous_filename === 'string'));
    const uni = (await api.get('/repos/acme/pathological/pulls/7')).json;
    assert.match(uni.title, /🚀.*日本語.*مرحبا/);
    const hostile = (await api.get('/repos/acme/pathological/pulls/14')).json;
    assert.ok(hostile.title.includes("'; DROP TABLE pull_requests; --"));
    assert.ok(hostile.body.includes('\u2028'));
    assert.ok(!hostile.body.includes('\u0000'));
    const huge = await api.get('/repos/acme/pathological/pulls/8');
    assert.ok(Buffer.byteLength(huge.json.body) >= 1_000_000);
    const states = new Map();
    for (const n of [9, 10, 11, 12]) {
      const p = (await api.get(`/repos/acme/pathological/pulls/${n}`)).json;
      states.set(n, `${p.state}/${p.draft}/${p.merged}`);
    }
    assert.deepEqual([...states.values()], ['open/true/false', 'open/false/false', 'closed/false/false', 'closed/false/true']);
  });

  test('issues endpoint mixes issues and PRs (pull_request key) and honours since', async () => {
    const all = (await collectAll(api, '/repos/acme/widgets/issues?state=all&per_page=100')).items;
    const prs = all.filter((i) => i.pull_request);
    assert.equal(prs.length, 300);
    assert.ok(all.length > 300);
    const since = '2026-11-22T00:00:00Z';
    const recent = (await collectAll(api, `/repos/acme/widgets/issues?state=all&per_page=100&since=${since}`)).items;
    assert.ok(recent.length > 0 && recent.length < all.length);
    assert.ok(recent.every((i) => i.updated_at >= since));
    const repoComments = (await collectAll(api, '/repos/acme/pathological/issues/comments?per_page=100')).items;
    assert.ok(repoComments.some((c) => c.html_url.includes('/issues/16#')));
  });

  test('repo-wide review comments: since + sort + direction', async () => {
    const since = '2026-10-01T00:00:00Z';
    const r = (await collectAll(api, `/repos/acme/widgets/pulls/comments?sort=updated&direction=desc&since=${since}&per_page=100`)).items;
    assert.ok(r.length > 0);
    for (let i = 1; i < r.length; i++) assert.ok(r[i - 1].updated_at >= r[i].updated_at);
    assert.ok(r.every((c) => c.updated_at >= since));
  });

  test('sort=updated&direction=desc orders by updated_at', async () => {
    const r = (await api.get('/repos/acme/widgets/pulls?state=all&sort=updated&direction=desc&per_page=50')).json;
    for (let i = 1; i < r.length; i++) assert.ok(r[i - 1].updated_at >= r[i].updated_at);
    assert.ok(Date.parse(r[0].updated_at) > Date.parse('2026-11-28T00:00:00Z'), 'some PRs updated in the last 24 h');
  });
});

describe('errors and auth', () => {
  test('404s look like GitHub', async () => {
    const r = await api.get('/repos/acme/nope/pulls');
    assert.equal(r.status, 404);
    assert.equal(r.json.message, 'Not Found');
    assert.match(r.json.documentation_url, /^https:\/\/docs\.github\.com\/rest/);
    assert.equal((await api.get('/repos/acme/widgets/pulls/999999')).status, 404);
    assert.equal((await api.get('/repos/acme/pathological/pulls/16')).status, 404, 'an issue is not a PR');
  });

  test('private repo is invisible (404) to the default PAT', async () => {
    const r = await api.get('/repos/acme/secret');
    assert.equal(r.status, 404);
    assert.equal(r.json.message, 'Not Found');
  });

  test('bad / missing credentials: 401 Bad credentials', async () => {
    for (const tok of ['nope', null]) {
      const r = await api.get('/repos/acme/widgets', { tok });
      assert.equal(r.status, 401);
      assert.deepEqual({ message: r.json.message, documentation_url: r.json.documentation_url }, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    }
    const bearer = await fetch(`${f.url}/repos/acme/widgets`, { headers: { authorization: 'Bearer ghp_testtoken0000000000000000000000000000' } });
    assert.equal(bearer.status, 200);
  });

  test('users endpoint returns the current login; renames move it', async () => {
    const u = (await api.get('/users/rename-me')).json;
    assert.equal(u.type, 'User');
    await api.ctl('POST', '/_fake/mutate', { op: 'rename_user', id: u.id, login: 'renamed-now' });
    assert.equal((await api.get('/users/rename-me')).status, 404);
    assert.equal((await api.get('/users/renamed-now')).json.id, u.id);
    const pr = (await api.get('/repos/acme/pathological/pulls/6')).json;
    assert.equal(pr.user.login, 'renamed-now');
    // someone else takes the old name
    const other = (await api.get('/users/progcap-tester')).json;
    await api.ctl('POST', '/_fake/mutate', { op: 'rename_user', id: other.id, login: 'rename-me' });
    assert.equal((await api.get('/users/rename-me')).json.id, other.id);
    assert.equal((await api.get('/users/dependabot[bot]')).json.type, 'Bot');
  });

  test('unknown /_fake routes are 404 JSON', async () => {
    const r = await api.ctl('GET', '/_fake/nope');
    assert.equal(r.status, 404);
    assert.equal(r.json.message, 'Not Found');
  });

  test('garbage input does not crash the server', async () => {
    for (const p of ['/repos/%E0%A4%A/x', '/repos//pulls', '/repos/acme/widgets/pulls/abc', '/repos/acme/widgets/pulls?per_page=-5&page=zzz', '/../../etc/passwd']) {
      const r = await api.get(p);
      assert.ok([200, 404, 422].includes(r.status), `${p} -> ${r.status}`);
    }
    const r = await api.post('/graphql', '{not json');
    assert.equal(r.status, 400);
    assert.equal((await api.get('/repos/acme/widgets')).status, 200);
  });
});
