// packaging/sql/migrations/0003_progcap_resolvers.sql called directly over SQL.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  getPg, stopPg, createDb, connect, migrate, FIXTURES, T0, xmins,
  repoRow, userRow, prRow, reviewRow, commentRow, fileRow,
} from './helpers.mjs';

await getPg();

let db;
let c;
before(async () => {
  db = await createDb('res');
  c = await connect(db);
  await migrate(c);
});
after(async () => { if (c) await c.end(); await stopPg(); });

async function call(fn, rows, ...extra) {
  const args = [JSON.stringify(rows), ...extra];
  const ph = args.map((_, i) => `$${i + 1}${i === 0 ? '::jsonb' : ''}`).join(', ');
  return (await c.query(`SELECT ${fn}(${ph}) AS r`, args)).rows[0].r;
}

const one = async (sql, params = []) => (await c.query(sql, params)).rows[0];

test('contributors: insert, unchanged rows are not rewritten, resolve returns ids', async () => {
  const rows = [userRow(1), userRow(2), userRow(3)];
  const r1 = await call('progcap_upsert_contributors', rows, true);
  assert.equal(r1.inserted, 3);
  assert.equal(r1.unchanged, 0);
  assert.equal(r1.ids.length, 3);
  const xm = await xmins(c, 'contributors');
  const r2 = await call('progcap_upsert_contributors', rows);
  assert.deepEqual([r2.inserted, r2.updated, r2.unchanged], [0, 0, 3]);
  assert.deepEqual(await xmins(c, 'contributors'), xm, 'unchanged rows keep their xmin');
  const resolved = (await c.query('SELECT * FROM progcap_resolve_contributors($1::jsonb) ORDER BY github_id', [JSON.stringify(rows)])).rows;
  const ids = (await c.query('SELECT github_id, id FROM contributors WHERE github_id IN (1,2,3) ORDER BY github_id')).rows;
  assert.deepEqual(resolved, ids);
  assert.deepEqual(await xmins(c, 'contributors'), xm, 'resolving does not rewrite either');
});

test('contributors: a rename does not fail with 23505; the old holder is renamed', async () => {
  await call('progcap_upsert_contributors', [userRow(11, { username: 'octocat' })]);
  // github_id 11 renamed itself away, github_id 12 now owns "octocat"
  const r = await call('progcap_upsert_contributors', [userRow(12, { username: 'octocat' })]);
  assert.equal(r.inserted, 1);
  assert.deepEqual(r.renamed, [{ github_id: 11, from: 'octocat', to: 'octocat__renamed_11' }]);
  assert.deepEqual((await c.query('SELECT github_id::int, username FROM contributors WHERE github_id IN (11,12) ORDER BY 1')).rows,
    [{ github_id: 11, username: 'octocat__renamed_11' }, { github_id: 12, username: 'octocat' }]);
  // when 11 shows up again with its new login, it simply takes it
  const r2 = await call('progcap_upsert_contributors', [userRow(11, { username: 'octocat-old' })]);
  assert.equal(r2.updated, 1);
  assert.equal((await one('SELECT username FROM contributors WHERE github_id = 11')).username, 'octocat-old');
});

test('contributors: two users swapping logins in one call', async () => {
  await call('progcap_upsert_contributors', [userRow(21, { username: 'left' }), userRow(22, { username: 'right' })]);
  const r = await call('progcap_upsert_contributors', [userRow(21, { username: 'right' }), userRow(22, { username: 'left' })]);
  assert.deepEqual([r.updated, r.rejected.length], [2, 0]);
  assert.deepEqual(r.renamed, [], 'holders that are part of the call are not reported as renamed');
  assert.deepEqual((await c.query('SELECT github_id::int, username FROM contributors WHERE github_id IN (21,22) ORDER BY 1')).rows,
    [{ github_id: 21, username: 'right' }, { github_id: 22, username: 'left' }]);
});

test('contributors: same login twice in one call — the last row wins, the other is suffixed', async () => {
  const r = await call('progcap_upsert_contributors', [userRow(31, { username: 'dup' }), userRow(32, { username: 'dup' })]);
  assert.equal(r.inserted, 2);
  assert.equal(r.warnings.length, 1);
  assert.equal(r.warnings[0].reason, 'username_conflict_in_call');
  assert.deepEqual((await c.query('SELECT github_id::int, username FROM contributors WHERE github_id IN (31,32) ORDER BY 1')).rows,
    [{ github_id: 31, username: 'dup__renamed_31' }, { github_id: 32, username: 'dup' }]);
});

test('contributors: only present keys are written; enriched fields are never touched', async () => {
  await c.query(`INSERT INTO contributors (github_id, username, display_name, email, bio, followers, github_created_at, avatar_url)
                 VALUES (41, 'rich', 'Rich Person', 'r@example.com', 'enriched', 1234, '2011-01-01Z', 'https://old')`);
  // a "simple user" payload without display_name must not clear it
  const r = await call('progcap_upsert_contributors', [{ github_id: 41, username: 'rich', avatar_url: 'https://new', is_bot: false }]);
  assert.equal(r.updated, 1);
  const row = await one('SELECT display_name, email, bio, followers, github_created_at, avatar_url FROM contributors WHERE github_id = 41');
  assert.deepEqual(row, { display_name: 'Rich Person', email: 'r@example.com', bio: 'enriched', followers: 1234,
    github_created_at: new Date('2011-01-01T00:00:00Z'), avatar_url: 'https://new' });
  // an explicit null IS written (the key is present)
  await call('progcap_upsert_contributors', [{ github_id: 41, username: 'rich', display_name: null }]);
  assert.equal((await one('SELECT display_name FROM contributors WHERE github_id = 41')).display_name, null);
  assert.equal((await one('SELECT bio FROM contributors WHERE github_id = 41')).bio, 'enriched');
});

test('contributors: invalid rows are rejected with index and reason, valid ones still land', async () => {
  const r = await call('progcap_upsert_contributors', [{ github_id: 'abc', username: 'x' }, 7, { github_id: 51 }, userRow(52)]);
  assert.equal(r.inserted, 1);
  assert.deepEqual(r.rejected.map((x) => [x.index, x.reason]), [[1, 'invalid_row'], [2, 'invalid_row'], [3, 'missing_field']]);
});

test('repositories: insert with topics/license object, rename on transfer, absent keys kept', async () => {
  const r = await call('progcap_upsert_repositories', [repoRow(100, { license: { key: 'mit', spdx_id: 'MIT' }, topics: ['x', 'y'] })]);
  assert.equal(r.inserted, 1);
  const row = await one('SELECT full_name, owner, name, topics, license, stargazers_count FROM repositories WHERE github_id = 100');
  assert.deepEqual(row, { full_name: 'org/repo100', owner: 'org', name: 'repo100', topics: ['x', 'y'], license: 'MIT', stargazers_count: 0 });
  // the repo moved away (renamed to org/moved); a new repo now uses org/repo100
  const r2 = await call('progcap_upsert_repositories', [repoRow(101, { full_name: 'org/repo100', name: 'repo100' })]);
  assert.deepEqual(r2.renamed, [{ github_id: 100, from: 'org/repo100', to: 'org/repo100__renamed_100' }]);
  // a partial payload (no description/topics) keeps the stored values
  const xm = await xmins(c, 'repositories');
  const r3 = await call('progcap_upsert_repositories', [{ github_id: 101, full_name: 'org/repo100' }]);
  assert.deepEqual([r3.updated, r3.unchanged], [0, 1]);
  assert.deepEqual(await xmins(c, 'repositories'), xm);
  const r4 = await call('progcap_upsert_repositories', [{ github_id: 100, full_name: 'org/moved', stargazers_count: 5 }]);
  assert.equal(r4.updated, 1);
  assert.deepEqual(await one('SELECT full_name, name, description, topics FROM repositories WHERE github_id = 100'),
    { full_name: 'org/moved', name: 'moved', description: 'repo 100', topics: ['x', 'y'] });
});

test('pull_requests: NULL stats never overwrite, duplicates keep the last, unchanged rows untouched', async () => {
  await call('progcap_upsert_repositories', [repoRow(200)]);
  await call('progcap_upsert_contributors', [userRow(201), userRow(202)]);
  const r1 = await call('progcap_upsert_pull_requests', [prRow(2001, 200, 1, 201, { additions: 50, deletions: 5, changed_files: 3, commits: 2 })]);
  assert.equal(r1.inserted, 1);
  // a list payload: the four stats unknown → kept
  const list = prRow(2001, 200, 1, 201, { additions: null, deletions: null, changed_files: null, commits: null, title: 'retitled',
    mergeable: null, mergeable_state: null });
  const r2 = await call('progcap_upsert_pull_requests', [list]);
  assert.equal(r2.updated, 1);
  assert.deepEqual(await one('SELECT title, additions, deletions, changed_files, commits, mergeable, mergeable_state FROM pull_requests WHERE github_id = 2001'),
    { title: 'retitled', additions: 50, deletions: 5, changed_files: 3, commits: 2, mergeable: true, mergeable_state: 'clean' });
  // same again: nothing changes, no new tuple
  const xm = await xmins(c, 'pull_requests');
  const r3 = await call('progcap_upsert_pull_requests', [list]);
  assert.deepEqual([r3.inserted, r3.updated, r3.unchanged], [0, 0, 1]);
  assert.deepEqual(await xmins(c, 'pull_requests'), xm);
  // a new PR from a list payload stores NULL (unknown), not a fake 0
  await call('progcap_upsert_pull_requests', [prRow(2002, 200, 2, 201, { additions: null, deletions: null, changed_files: null, commits: null })]);
  assert.deepEqual(await one('SELECT additions, deletions FROM pull_requests WHERE github_id = 2002'), { additions: null, deletions: null });
  // duplicate keys in one call: the last one wins (no 21000 "cannot affect row a second time")
  const r4 = await call('progcap_upsert_pull_requests', [prRow(2003, 200, 3, 201, { title: 'first' }), prRow(2003, 200, 3, 201, { title: 'last' })]);
  assert.deepEqual([r4.inserted, r4.duplicates], [1, 1]);
  assert.equal((await one('SELECT title FROM pull_requests WHERE github_id = 2003')).title, 'last');
});

test('pull_requests: merged flag, merged_by, repository_full_name default, warnings', async () => {
  const r = await call('progcap_upsert_pull_requests', [prRow(2010, 200, 10, 201, {
    state: 'closed', merged: null, merged_at: '2025-02-01T00:00:00Z', merged_by_github_id: 202, repository_full_name: undefined,
  })]);
  assert.equal(r.inserted, 1);
  const row = await one(`SELECT p.merged, c.github_id::int AS merged_by, p.repository_full_name FROM pull_requests p
                         JOIN contributors c ON c.id = p.merged_by_id WHERE p.github_id = 2010`);
  assert.deepEqual(row, { merged: true, merged_by: 202, repository_full_name: 'org/repo200' });
  // list payload: merged_by unknown → kept; unknown merged_by id → kept + warning
  const r2 = await call('progcap_upsert_pull_requests', [prRow(2010, 200, 10, 201, { state: 'closed', merged: null,
    merged_at: '2025-02-01T00:00:00Z', merged_by_github_id: 99999 })]);
  assert.deepEqual(r2.warnings.map((w) => w.reason), ['unresolved_merged_by']);
  assert.equal((await one('SELECT c.github_id::int AS g FROM pull_requests p JOIN contributors c ON c.id = p.merged_by_id WHERE p.github_id = 2010')).g, 202);
});

test('pull_requests: missing parents are rejected per row, the rest of the call lands', async () => {
  await c.query(`INSERT INTO pull_requests (github_id, repository_id, repository_full_name, number, title, state, head_branch, created_at, updated_at)
                 SELECT 2099, id, full_name, 99, 'legacy row with a bad github id', 'open', 'x', now(), now() FROM repositories WHERE github_id = 200`);
  const r = await call('progcap_upsert_pull_requests', [
    prRow(2020, 999999, 1, 201),               // unknown repository
    prRow(2021, 200, 21, 888888),              // unknown author
    prRow(2022, 200, 99, 201),                 // (repository, number) held by github_id 2099
    prRow(2023, 200, 23, 201, { title: null }),
    prRow(2024, 200, 24, 201, { state: 'weird' }),
    prRow(2025, 200, 25, 201),                 // fine
  ]);
  assert.equal(r.inserted, 1);
  assert.deepEqual(r.rejected.map((x) => [x.index, x.key.github_id, x.reason]), [
    [1, 2020, 'missing_repository'], [2, 2021, 'missing_author'], [3, 2022, 'repository_number_taken'],
    [4, 2023, 'missing_field'], [5, 2024, 'invalid_value']]);
  assert.equal(r.rejected[3].detail, 'title');
});

test('pull_requests: ghost author → NULL where the column allows it', async () => {
  const r = await call('progcap_upsert_pull_requests', [prRow(2030, 200, 30, null)]);
  assert.equal(r.inserted, 1);
  assert.deepEqual(await one('SELECT author_id, author_github_id FROM pull_requests WHERE github_id = 2030'), { author_id: null, author_github_id: null });
  // GitHub's explicit ghost user maps to the shared ghost contributor
  await call('progcap_upsert_pull_requests', [prRow(2031, 200, 31, 10137)]);
  assert.deepEqual(await one('SELECT c.username, c.github_id::int AS g FROM pull_requests p JOIN contributors c ON c.id = p.author_id WHERE p.github_id = 2031'),
    { username: 'ghost', g: 10137 });
});

test('reviews: missing PR rejected, ghost author uses the ghost row (author_id NOT NULL), state upper-cased', async () => {
  await call('progcap_upsert_pull_requests', [prRow(2040, 200, 40, 201)]);
  const r = await call('progcap_upsert_reviews', [
    reviewRow(3001, 2040, 200, 202, { state: 'changes_requested' }),
    reviewRow(3002, 424242, 200, 202),
    reviewRow(3003, 2040, 200, null),
    reviewRow(3004, 2040, 200, 202, { submitted_at: null }),
  ]);
  assert.equal(r.inserted, 2);
  assert.deepEqual(r.rejected.map((x) => [x.key.github_id, x.reason]), [[3002, 'missing_pull_request'], [3004, 'missing_field']]);
  const rows = (await c.query(`SELECT r.github_id::int AS g, r.state, a.username, r.reviewer_id = r.author_id AS same,
      r.repository_id = (SELECT id FROM repositories WHERE github_id = 200) AS repo_ok
      FROM reviews r JOIN contributors a ON a.id = r.author_id WHERE r.github_id IN (3001, 3003) ORDER BY 1`)).rows;
  assert.deepEqual(rows, [{ g: 3001, state: 'CHANGES_REQUESTED', username: 'user202', same: true, repo_ok: true },
    { g: 3003, state: 'APPROVED', username: 'ghost', same: true, repo_ok: true }]);
  const xm = await xmins(c, 'reviews');
  const again = await call('progcap_upsert_reviews', [reviewRow(3001, 2040, 200, 202, { state: 'CHANGES_REQUESTED' })]);
  assert.equal(again.unchanged, 1);
  assert.deepEqual(await xmins(c, 'reviews'), xm);
});

test('comments: replies resolve within one call in any order; unknown parents warn; unchanged untouched', async () => {
  const rows = [
    commentRow(4002, 2040, 200, 201, { in_reply_to_github_id: 4001, body: 'reply' }),   // child before parent
    commentRow(4001, 2040, 200, 202, { body: 'thread start' }),
    commentRow(4003, 2040, 200, null, { in_reply_to_github_id: 31337, comment_type: 'review_comment' }),
    commentRow(4004, 999, 200, 201),
    commentRow(4005, 2040, 200, 201, { comment_type: 'issue_comment', path: null, position: null, diff_hunk: null, review_github_id: 77 }),
  ];
  const r = await call('progcap_upsert_comments', rows);
  assert.deepEqual([r.inserted, r.updated, r.unchanged], [4, 0, 0]);
  assert.deepEqual(r.rejected.map((x) => [x.key.github_id, x.reason]), [[4004, 'missing_pull_request']]);
  assert.deepEqual(r.warnings.map((x) => [x.key.github_id, x.reason]), [[4003, 'unresolved_in_reply_to']]);
  const link = await one(`SELECT p.github_id::int AS parent FROM comments ch JOIN comments p ON p.id = ch.in_reply_to_id WHERE ch.github_id = 4002`);
  assert.equal(link.parent, 4001);
  assert.equal((await one('SELECT commenter_id FROM comments WHERE github_id = 4003')).commenter_id, null, 'ghost commenter → NULL (nullable)');
  const xm = await xmins(c, 'comments');
  const r2 = await call('progcap_upsert_comments', rows.filter((x) => x.github_id !== 4004));
  assert.deepEqual([r2.inserted, r2.updated, r2.unchanged], [0, 0, 4]);
  assert.deepEqual(await xmins(c, 'comments'), xm);
});

test('comments: a reply stored before its parent waits in progcap_pending_replies and is linked when the parent arrives', async () => {
  // REST lists review comments by update time: the reply (4102) can come a batch before its parent (4101)
  const first = await call('progcap_upsert_comments', [commentRow(4102, 2040, 200, 201, { in_reply_to_github_id: 4101, body: 'early reply' })]);
  assert.deepEqual([first.inserted, first.replies_linked], [1, 0]);
  assert.deepEqual(first.warnings.map((x) => [x.key.github_id, x.reason]), [[4102, 'unresolved_in_reply_to']]);
  assert.equal((await one('SELECT in_reply_to_id FROM comments WHERE github_id = 4102')).in_reply_to_id, null);
  assert.equal((await one('SELECT parent_github_id::int AS p FROM progcap_pending_replies WHERE comment_github_id = 4102')).p, 4101);

  const second = await call('progcap_upsert_comments', [commentRow(4101, 2040, 200, 202, { body: 'late parent' })]);
  assert.deepEqual([second.inserted, second.replies_linked, second.warnings.length], [1, 1, 0]);
  const link = await one(`SELECT p.github_id::int AS parent FROM comments ch JOIN comments p ON p.id = ch.in_reply_to_id WHERE ch.github_id = 4102`);
  assert.equal(link.parent, 4101);
  assert.equal((await one('SELECT count(*)::int AS n FROM progcap_pending_replies WHERE comment_github_id = 4102')).n, 0);

  // the parent never captured (31337, from the test above) keeps waiting; a rerun links nothing new
  assert.equal((await one('SELECT count(*)::int AS n FROM progcap_pending_replies WHERE parent_github_id = 31337')).n, 1);
  const again = await call('progcap_upsert_comments', [commentRow(4101, 2040, 200, 202, { body: 'late parent' })]);
  assert.deepEqual([again.unchanged, again.replies_linked], [1, 0]);
});

test('pull_request_files: key (PR, filename), patch presence rule, replace mode, rejections', async () => {
  const r = await call('progcap_upsert_pull_request_files', [
    fileRow(2040, 200, 'src/a.c'), fileRow(2040, 200, 'src/b.c', { status: 'added', patch: null }),
    fileRow(2040, 200, 'src/a.c', { additions: 30 }), fileRow(1, 200, 'x.c'), fileRow(2040, 200, 'y.c', { status: 'exploded' }),
    { pull_request_github_id: 2040, filename: '' },
  ], true);
  assert.deepEqual([r.inserted, r.duplicates], [2, 1]);
  assert.deepEqual(r.rejected.map((x) => x.reason), ['missing_pull_request', 'invalid_value', 'invalid_row']);
  assert.deepEqual(r.ids.map((x) => x.filename), ['src/a.c', 'src/b.c']);
  assert.equal((await one(`SELECT additions FROM pull_request_files WHERE filename = 'src/a.c'`)).additions, 30);
  // a source without patches (absent key) keeps the stored patch
  const { patch: _p, ...noPatch } = fileRow(2040, 200, 'src/a.c', { additions: 30 });
  const xm = await xmins(c, 'pull_request_files', 'filename');
  const r2 = await call('progcap_upsert_pull_request_files', [noPatch]);
  assert.equal(r2.unchanged, 1);
  assert.deepEqual(await xmins(c, 'pull_request_files', 'filename'), xm);
  assert.equal((await one(`SELECT patch FROM pull_request_files WHERE filename = 'src/a.c'`)).patch, '@@ -1,2 +1,3 @@\n-a\n+b\n+c');
  // replace: the call is the complete list for PR 2040 → src/b.c disappears
  const r3 = await call('progcap_upsert_pull_request_files', [fileRow(2040, 200, 'src/a.c', { additions: 30 }), fileRow(2040, 200, 'src/c.c')], false, true);
  assert.deepEqual([r3.inserted, r3.unchanged, r3.deleted], [1, 1, 1]);
  assert.deepEqual((await c.query('SELECT filename FROM pull_request_files ORDER BY 1')).rows.map((x) => x.filename), ['src/a.c', 'src/c.c']);
});

test('hostile strings round-trip exactly (SQL metacharacters, quotes, backslashes, unicode, 1 MB)', async () => {
  const big = 'x'.repeat(1024 * 1024 - 7) + '\u00e9\u{1F600}\\"';
  const hostile = [
    "'; DROP TABLE contributors; --",
    'Robert"); DROP TABLE pull_requests;--',
    'back\\slash \\\\ double \\n not-a-newline',
    'quotes \' " ` and $$ dollar $tag$ and %s %d',
    'unicode: ü ß 漢字 עברית 👩‍💻 \u2028 \u2029 \u200b zero-width, combining é',
    'newlines\r\n\ttabs',
    big,
  ];
  const rows = hostile.map((s, i) => prRow(5000 + i, 200, 500 + i, 201, { title: s, body: s, head_branch: s.slice(0, 200) }));
  const r = await call('progcap_upsert_pull_requests', rows);
  assert.equal(r.inserted, hostile.length);
  const back = (await c.query('SELECT title, body FROM pull_requests WHERE github_id >= 5000 AND github_id < 5100 ORDER BY github_id')).rows;
  assert.deepEqual(back.map((x) => x.title), hostile);
  assert.deepEqual(back.map((x) => x.body), hostile);
  assert.equal(await one('SELECT count(*)::int AS n FROM contributors').then((x) => x.n > 0), true, 'contributors still exists');
  const cm = await call('progcap_upsert_comments', hostile.map((s, i) => commentRow(6000 + i, 2040, 200, 201, { body: s, path: s.slice(0, 50) })));
  assert.equal(cm.inserted, hostile.length);
  assert.deepEqual((await c.query('SELECT body FROM comments WHERE github_id >= 6000 ORDER BY github_id')).rows.map((x) => x.body), hostile);
});

test('type errors fail the whole call with the PostgreSQL error (sinks bisect)', async () => {
  await assert.rejects(call('progcap_upsert_pull_requests', [prRow(7001, 200, 701, 201, { created_at: 'yesterday-ish' })]),
    (e) => e.code === '22007');
  await assert.rejects(c.query('SELECT progcap_upsert_reviews($1::jsonb)', ['{"not":"an array"}']), (e) => e.code === '22023');
});

test('concurrent overlapping calls neither fail nor deadlock', async () => {
  const clients = await Promise.all([0, 1, 2, 3].map(() => connect(db)));
  try {
    const users = Array.from({ length: 300 }, (_, i) => userRow(80000 + i));
    await Promise.all(clients.map((cl, k) => cl.query('SELECT progcap_upsert_contributors($1::jsonb)',
      [JSON.stringify(k % 2 ? users : [...users].reverse())])));
    assert.equal((await one('SELECT count(*)::int AS n FROM contributors WHERE github_id >= 80000 AND github_id < 80300')).n, 300);
  } finally {
    await Promise.all(clients.map((cl) => cl.end()));
  }
});

test('on a 2024-era database: NOT NULL author columns get the shared ghost row', async () => {
  const old = await createDb('res_old');
  const oc = await connect(old);
  try {
    await oc.query(readFileSync(join(FIXTURES, 'contributor_info_2024.sql'), 'utf8'));
    await migrate(oc);
    const q = async (fn, rows) => (await oc.query(`SELECT ${fn}($1::jsonb) AS r`, [JSON.stringify(rows)])).rows[0].r;
    const pr = await q('progcap_upsert_pull_requests', [prRow(9100, 1001, 100, null, { repository_full_name: 'octo-org/hello' })]);
    assert.equal(pr.inserted, 1);
    const cm = await q('progcap_upsert_comments', [commentRow(9200, 9001, 1001, null)]);
    assert.equal(cm.inserted, 1);
    const rows = (await oc.query(`SELECT 'pr' AS k, c.username FROM pull_requests p JOIN contributors c ON c.id = p.author_id WHERE p.github_id = 9100
                                  UNION ALL SELECT 'comment', c.username FROM comments m JOIN contributors c ON c.id = m.commenter_id WHERE m.github_id = 9200`)).rows;
    assert.deepEqual(rows, [{ k: 'pr', username: 'ghost' }, { k: 'comment', username: 'ghost' }]);
    // the fixture's enriched contributor survives a simple-user upsert
    await q('progcap_upsert_contributors', [{ github_id: 501, username: 'alice', avatar_url: 'https://a' }]);
    assert.deepEqual((await oc.query('SELECT display_name, email, company, bio, followers FROM contributors WHERE github_id = 501')).rows[0],
      { display_name: 'Alice A.', email: 'alice@example.com', company: 'ACME', bio: 'enriched bio', followers: 99 });
    // existing PR 9001 (state 'closed', narrow CHECK) is updated fine; stats kept when unknown
    const up = await q('progcap_upsert_pull_requests', [prRow(9001, 1001, 1, 501, { state: 'closed', title: 'First PR (edited)',
      additions: null, deletions: null, changed_files: null, commits: null, repository_full_name: 'octo-org/hello' })]);
    assert.equal(up.updated, 1);
    assert.deepEqual((await oc.query('SELECT title, additions, deletions, changed_files, commits FROM pull_requests WHERE github_id = 9001')).rows[0],
      { title: 'First PR (edited)', additions: 10, deletions: 2, changed_files: 3, commits: 1 });
  } finally {
    await oc.end();
  }
});

test('T0 sanity', () => { assert.equal(typeof T0, 'string'); });
