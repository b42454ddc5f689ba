// packaging/sql/migrations/0003: the staging + merge form used by the direct PostgreSQL sink
// (progcap_stage_prepare → fill pg_temp.progcap_stage_<table> → progcap_merge_<table>) and its
// equivalence with the jsonb wrappers used through PostgREST; progcap_describe_columns.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  getPg, stopPg, createDb, connect, migrate, startServer, restClient, xmins,
  repoRow, userRow, prRow, reviewRow, commentRow, fileRow,
} from './helpers.mjs';

await getPg();

// The COPY column lists documented in packaging/sql/README.md (after _ord, _absent, _bad_key).
const STAGE = {
  contributors: ['github_id', 'username', 'display_name', 'avatar_url', 'profile_url', 'is_bot'],
  repositories: ['github_id', 'full_name', 'owner', 'name', 'description', 'homepage', 'language', 'stargazers_count',
    'watchers_count', 'forks_count', 'open_issues_count', 'size', 'default_branch', 'is_fork', 'is_archived', 'is_disabled',
    'is_private', 'has_issues', 'has_projects', 'has_wiki', 'has_pages', 'has_downloads', 'license', 'topics',
    'github_created_at', 'github_updated_at', 'github_pushed_at'],
  pull_requests: ['github_id', 'repository_github_id', 'repository_full_name', 'number', 'title', 'body', 'state', 'draft',
    'merged', 'merged_at', 'merged_by_github_id', 'author_github_id', 'base_branch', 'head_branch', 'additions', 'deletions',
    'changed_files', 'commits', 'mergeable', 'mergeable_state', 'created_at', 'updated_at', 'closed_at', 'html_url',
    'diff_url', 'patch_url'],
  reviews: ['github_id', 'pull_request_github_id', 'repository_github_id', 'repository_full_name', 'author_github_id',
    'state', 'body', 'submitted_at', 'commit_id'],
  comments: ['github_id', 'comment_type', 'pull_request_github_id', 'repository_github_id', 'repository_full_name',
    'pull_request_number', 'commenter_github_id', 'body', 'created_at', 'updated_at', 'in_reply_to_github_id',
    'review_github_id', 'position', 'original_position', 'diff_hunk', 'path', 'commit_id', 'original_commit_id'],
  pull_request_files: ['pull_request_github_id', 'repository_github_id', 'filename', 'status', 'additions', 'deletions',
    'changes', 'previous_filename', 'patch'],
};
const TYPES = {
  contributors: 'bigint text text text text boolean',
  repositories: 'bigint text text text text text text integer integer integer integer integer text boolean boolean boolean ' +
    'boolean boolean boolean boolean boolean boolean text jsonb timestamp_with_time_zone timestamp_with_time_zone ' +
    'timestamp_with_time_zone',
  pull_requests: 'bigint bigint text integer text text text boolean boolean timestamp_with_time_zone bigint bigint text text ' +
    'integer integer integer integer boolean text timestamp_with_time_zone timestamp_with_time_zone timestamp_with_time_zone ' +
    'text text text',
  reviews: 'bigint bigint bigint text bigint text text timestamp_with_time_zone text',
  comments: 'bigint text bigint bigint text integer bigint text timestamp_with_time_zone timestamp_with_time_zone bigint ' +
    'bigint integer integer text text text text',
  pull_request_files: 'bigint bigint text text integer integer integer text text',
};
// presence-rule keys: absent from the input object → named in _absent
const PRESENCE = {
  contributors: ['display_name', 'avatar_url', 'profile_url', 'is_bot'],
  repositories: ['description', 'homepage', 'language', 'stargazers_count', 'watchers_count', 'forks_count',
    'open_issues_count', 'size', 'default_branch', 'is_fork', 'is_archived', 'is_disabled', 'is_private', 'has_issues',
    'has_projects', 'has_wiki', 'has_pages', 'has_downloads', 'license', 'topics', 'github_created_at',
    'github_updated_at', 'github_pushed_at'],
  pull_request_files: ['patch'],
};

const isObj = (r) => typeof r === 'object' && r !== null && !Array.isArray(r);
const intKey = (v) => v !== undefined && v !== null && typeof v !== 'object' && typeof v !== 'boolean' && /^[0-9]{1,18}$/.test(String(v));

/** What a sink puts into the stage for capture-stream objects (the jsonb wrappers' rules, in JS). */
function toStage(table, rows) {
  return rows.map((r, i) => {
    const out = { _ord: i + 1, _absent: null, _bad_key: null };
    const files = table === 'pull_request_files';
    const valid = isObj(r) && (files ? intKey(r.pull_request_github_id) && typeof r.filename === 'string' && r.filename !== ''
      : intKey(r.github_id));
    if (!valid) {
      out._bad_key = files ? { pull_request_github_id: isObj(r) ? r.pull_request_github_id ?? null : null,
        filename: isObj(r) ? r.filename ?? null : null } : (isObj(r) ? r.github_id ?? null : null);
      return out;
    }
    for (const c of STAGE[table]) out[c] = r[c] === undefined ? null : r[c];
    if (table === 'repositories' && isObj(r.license)) out.license = r.license.spdx_id ?? null;
    const absent = (PRESENCE[table] || []).filter((k) => !(k in r));
    if (absent.length) out._absent = absent;
    return out;
  });
}

const q = (c) => `"${c}"`;
/** COPY-like load: one INSERT with the documented explicit column list, then the merge. */
async function stageAndMerge(client, table, rows, args = [], { prepare = true } = {}) {
  if (prepare) await client.query('SELECT progcap_stage_prepare($1)', [table]);
  const cols = ['_ord', '_absent', '_bad_key', ...STAGE[table]];
  await client.query(`INSERT INTO pg_temp.progcap_stage_${table} (${cols.map(q).join(', ')})
    SELECT ${cols.map(q).join(', ')} FROM json_populate_recordset(NULL::pg_temp.progcap_stage_${table}, $1)`,
  [JSON.stringify(toStage(table, rows))]);
  const ph = args.map((_, i) => `$${i + 1}`).join(', ');
  return (await client.query(`SELECT progcap_merge_${table}(${ph}) AS r`, args)).rows[0].r;
}
async function viaStage(client, table, rows, ...args) {
  await client.query('BEGIN');
  try {
    const r = await stageAndMerge(client, table, rows, args);
    await client.query('COMMIT');
    return r;
  } catch (e) {
    await client.query('ROLLBACK');
    throw e;
  }
}
async function viaJson(client, table, rows, ...args) {
  const all = [JSON.stringify(rows), ...args];
  const ph = all.map((_, i) => `$${i + 1}${i === 0 ? '::jsonb' : ''}`).join(', ');
  return (await client.query(`SELECT progcap_upsert_${table}(${ph}) AS r`, all)).rows[0].r;
}
const noUuids = (r) => (r && r.ids ? { ...r, ids: r.ids.map(({ id, ...k }) => k) } : r);

// natural-key snapshots of every table (UUIDs differ between databases)
const SNAP = {
  contributors: 'SELECT github_id, username, display_name, avatar_url, profile_url, is_bot FROM contributors ORDER BY github_id',
  repositories: `SELECT github_id, full_name, owner, name, description, stargazers_count, default_branch, is_fork, has_wiki,
    license, topics, github_pushed_at FROM repositories ORDER BY github_id`,
  pull_requests: `SELECT p.github_id, r.github_id AS repo, p.repository_github_id, p.repository_full_name, p.number, p.title,
    p.state, a.github_id AS author, p.draft, p.merged, m.github_id AS merged_by, p.additions, p.mergeable_state, p.updated_at
    FROM pull_requests p LEFT JOIN repositories r ON r.id = p.repository_id LEFT JOIN contributors a ON a.id = p.author_id
    LEFT JOIN contributors m ON m.id = p.merged_by_id ORDER BY p.github_id`,
  reviews: `SELECT v.github_id, p.github_id AS pr, r.github_id AS repo, a.github_id AS author, v.state, v.body
    FROM reviews v LEFT JOIN pull_requests p ON p.id = v.pull_request_id LEFT JOIN repositories r ON r.id = v.repository_id
    LEFT JOIN contributors a ON a.id = v.author_id ORDER BY v.github_id`,
  comments: `SELECT c.github_id, p.github_id AS pr, r.github_id AS repo, a.github_id AS commenter, c.body, par.github_id AS parent
    FROM comments c LEFT JOIN pull_requests p ON p.id = c.pull_request_id LEFT JOIN repositories r ON r.id = c.repository_id
    LEFT JOIN contributors a ON a.id = c.commenter_id LEFT JOIN comments par ON par.id = c.in_reply_to_id ORDER BY c.github_id`,
  pull_request_files: `SELECT p.github_id AS pr, f.filename, f.status, f.additions, f.patch FROM pull_request_files f
    JOIN pull_requests p ON p.id = f.pull_request_id ORDER BY 1, 2`,
};
async function snapshot(client) {
  const out = {};
  for (const [t, sql] of Object.entries(SNAP)) out[t] = (await client.query(sql)).rows;
  return out;
}

let db;
let c;
before(async () => {
  db = await createDb('stg');
  c = await connect(db);
  await migrate(c);
});
after(async () => { if (c) await c.end(); await stopPg(); });
const one = async (sql, params = []) => (await c.query(sql, params)).rows[0];

test('the stage columns are exactly the documented COPY lists, in order', async () => {
  for (const table of Object.keys(STAGE)) {
    await c.query('SELECT progcap_stage_prepare($1)', [table]);
    const { rows } = await c.query(`SELECT attname, format_type(atttypid, atttypmod) AS t, attnotnull AS nn FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [`pg_temp.progcap_stage_${table}`]);
    assert.deepEqual(rows.map((r) => r.attname), ['_ord', '_absent', '_bad_key', ...STAGE[table]], table);
    assert.deepEqual(rows.map((r) => r.t.replaceAll(' ', '_')), ['integer', 'text[]', 'jsonb', ...TYPES[table].split(' ')], table);
    assert.deepEqual(rows.filter((r) => r.nn).map((r) => r.attname), ['_ord'], `${table}: only _ord is NOT NULL`);
    const rel = await one(`SELECT relpersistence, reloptions FROM pg_class WHERE oid = $1::regclass`, [`pg_temp.progcap_stage_${table}`]);
    assert.equal(rel.relpersistence, 't');
  }
});

test('staging + merge gives the same results and rows as the jsonb wrappers, step by step', async () => {
  const dbA = await createDb('stg_json');
  const dbB = await createDb('stg_stage');
  const a = await connect(dbA);
  const b = await connect(dbB);
  try {
    await migrate(a);
    await migrate(b);
    const steps = [
      ['contributors', [userRow(1), userRow(2), userRow(3), userRow(2, { display_name: 'again' }), { github_id: 'x' }, 5,
        { github_id: 4 }, userRow(10, { username: 'octo' }), userRow(11, { username: 'octo' })], true],
      ['contributors', [{ github_id: 1, username: 'user1', display_name: 'D' }, { github_id: 2, username: 'user2', avatar_url: null },
        { github_id: 3, username: 'user3', is_bot: true }, userRow(12, { username: 'user1' })]],
      ['repositories', [repoRow(100), repoRow(101, { license: { key: 'mit', spdx_id: 'MIT' }, topics: ['x'] }),
        { github_id: 103, owner: 'o', name: 'n' }, { github_id: 104, full_name: 'noslash' }, { github_id: 'zz' }], true],
      ['repositories', [{ github_id: 100, full_name: 'org/moved', stargazers_count: 9, topics: null }, repoRow(200), repoRow(201),
        { github_id: 107, full_name: 'a/b' }, { github_id: 108, full_name: 'a/b' }]],
      ['contributors', [userRow(201), userRow(202), userRow(203)]],
      ['pull_requests', [prRow(2001, 200, 1, 201), prRow(2002, 200, 2, 202, { merged_at: '2025-02-01T00:00:00Z', merged: null,
        merged_by_github_id: 203 }), prRow(2003, 201, 1, null), prRow(2005, 999, 1, 201), prRow(2006, 200, 6, 8888),
      prRow(2008, 200, 8, 201, { title: null }), prRow(2009, 200, 9, 201, { state: 'x' }), prRow(2011, 200, 11, 201),
      prRow(2012, 200, 11, 201), prRow(2011, 200, 11, 201, { title: 'dup' }), { github_id: 'bad' },
      prRow(2013, null, 13, 201, { repository_full_name: 'org/repo201' })], true],
      ['pull_requests', [prRow(2001, 200, 1, 201, { additions: null, deletions: null, changed_files: null, commits: null,
        mergeable: null, mergeable_state: null, draft: null, merged: null, merged_by_github_id: 77777, title: 'list' })]],
      ['reviews', [reviewRow(3001, 2001, 200, 202, { state: 'changes_requested' }), reviewRow(3002, 424242, 200, 202),
        reviewRow(3003, 2001, 200, null), reviewRow(3004, 2001, 200, 202, { submitted_at: null }), reviewRow(3005, 2001, 200, 99999)], true],
      ['comments', [commentRow(4002, 2001, 200, 201, { in_reply_to_github_id: 4001, body: 'reply' }),
        commentRow(4001, 2001, 200, 202, { body: 'start' }), commentRow(4003, 2001, 200, null, { in_reply_to_github_id: 31337 }),
        commentRow(4004, 999, 200, 201), commentRow(4006, 2001, 200, 201, { in_reply_to_github_id: 4006 }),
        commentRow(4008, 2001, 200, 201, { comment_type: 'x' }), commentRow(4009, null, 200, 201, { repository_full_name: 'org/repo200',
          pull_request_number: 1 })], true],
      ['pull_request_files', [fileRow(2001, 200, 'a.c'), fileRow(2001, 200, 'b.c', { status: 'added', patch: null }),
        fileRow(2001, 200, 'a.c', { additions: 30 }), fileRow(1, 200, 'x.c'), fileRow(2001, 200, 'y.c', { status: 'exploded' }),
        { pull_request_github_id: 2001, filename: '' }, 5], true],
      ['pull_request_files', [(({ patch, ...f }) => f)(fileRow(2001, 200, 'a.c', { additions: 31 })), fileRow(2001, 200, 'c.c')],
        false, true],
    ];
    for (const [table, rows, ...args] of steps) {
      const ra = noUuids(await viaJson(a, table, rows, ...args));
      const rb = noUuids(await viaStage(b, table, rows, ...args));
      assert.deepEqual(rb, ra, `${table}: ${JSON.stringify(rows).slice(0, 200)}`);
      assert.deepEqual(await snapshot(b), await snapshot(a), `tables after ${table}`);
    }
    // the comment resolved by (repository_full_name, pull_request_number) landed on PR 2001
    assert.deepEqual((await b.query(SNAP.comments)).rows.find((r) => r.github_id === '4009'),
      { github_id: '4009', pr: '2001', repo: '200', commenter: '201', body: 'comment 4009', parent: null });
  } finally {
    await a.end();
    await b.end();
  }
});

test('_absent: named columns keep the stored value, NULL _absent writes the staged values (NULL included)', async () => {
  await viaStage(c, 'contributors', [userRow(501, { display_name: 'Full Name', avatar_url: 'https://a/1' })]);
  // a simple-user payload: display_name absent, avatar_url present
  await c.query('BEGIN');
  await c.query(`SELECT progcap_stage_prepare('contributors')`);
  await c.query(`INSERT INTO pg_temp.progcap_stage_contributors (_ord, _absent, github_id, username, display_name, avatar_url)
                 VALUES (1, '{display_name,profile_url,is_bot}', 501, 'user501', NULL, 'https://a/2')`);
  let r = (await c.query('SELECT progcap_merge_contributors() AS r')).rows[0].r;
  await c.query('COMMIT');
  assert.equal(r.updated, 1);
  assert.deepEqual(await one('SELECT display_name, avatar_url, profile_url, is_bot FROM contributors WHERE github_id = 501'),
    { display_name: 'Full Name', avatar_url: 'https://a/2', profile_url: 'https://github.com/user501', is_bot: false });
  // _absent NULL: every column present → the NULL display_name is written
  await c.query('BEGIN');
  await c.query(`SELECT progcap_stage_prepare('contributors')`);
  await c.query(`INSERT INTO pg_temp.progcap_stage_contributors (_ord, github_id, username, avatar_url, profile_url)
                 VALUES (1, 501, 'user501', 'https://a/2', 'https://github.com/user501')`);
  r = (await c.query('SELECT progcap_merge_contributors() AS r')).rows[0].r;
  await c.query('COMMIT');
  assert.equal(r.updated, 1);
  assert.equal((await one('SELECT display_name FROM contributors WHERE github_id = 501')).display_name, null);
  assert.equal((await one('SELECT is_bot FROM contributors WHERE github_id = 501')).is_bot, false, 'is_bot NULL keeps');

  // repositories: absent counts keep the stored value; a new row gets the column default
  await viaStage(c, 'repositories', [repoRow(510, { stargazers_count: 42, description: 'd', has_wiki: false })]);
  await c.query('BEGIN');
  await c.query(`SELECT progcap_stage_prepare('repositories')`);
  await c.query(`INSERT INTO pg_temp.progcap_stage_repositories (_ord, _absent, github_id, full_name, description, has_wiki)
                 VALUES (1, '{stargazers_count,topics,license,default_branch}', 510, 'org/repo510', NULL, NULL),
                        (2, '{stargazers_count,has_wiki,default_branch}', 511, 'org/repo511', 'new', NULL)`);
  r = (await c.query('SELECT progcap_merge_repositories() AS r')).rows[0].r;
  await c.query('COMMIT');
  assert.deepEqual([r.updated, r.inserted], [1, 1]);
  assert.deepEqual((await c.query(`SELECT github_id::int AS g, stargazers_count AS s, description AS d, has_wiki AS w,
      topics, license, default_branch AS b FROM repositories WHERE github_id IN (510, 511) ORDER BY 1`)).rows,
  [{ g: 510, s: 42, d: null, w: null, topics: ['a', 'b'], license: 'MIT', b: 'main' },
    { g: 511, s: 0, d: 'new', w: true, topics: null, license: null, b: 'main' }]);

  // files: 'patch' in _absent keeps the stored patch, NULL _absent writes NULL
  await viaStage(c, 'repositories', [repoRow(520)]);
  await viaStage(c, 'contributors', [userRow(521)]);
  await viaStage(c, 'pull_requests', [prRow(5200, 520, 1, 521)]);
  await viaStage(c, 'pull_request_files', [fileRow(5200, 520, 'k.c', { patch: 'P' })]);
  const xm = await xmins(c, 'pull_request_files', 'filename');
  await c.query('BEGIN');
  await c.query(`SELECT progcap_stage_prepare('pull_request_files')`);
  await c.query(`INSERT INTO pg_temp.progcap_stage_pull_request_files (_ord, _absent, pull_request_github_id, repository_github_id,
                 filename, status, additions, deletions, changes) VALUES (1, '{patch}', 5200, 520, 'k.c', 'modified', 3, 1, 4)`);
  r = (await c.query('SELECT progcap_merge_pull_request_files() AS r')).rows[0].r;
  await c.query('COMMIT');
  assert.equal(r.unchanged, 1);
  assert.deepEqual(await xmins(c, 'pull_request_files', 'filename'), xm, 'not rewritten');
  await viaStage(c, 'pull_request_files', [fileRow(5200, 520, 'k.c', { patch: null })]);
  assert.equal((await one(`SELECT patch FROM pull_request_files WHERE filename = 'k.c'`)).patch, null);
});

test('pull_requests: a NULL repository_github_id resolves the repository by repository_full_name', async () => {
  await viaStage(c, 'repositories', [repoRow(600), repoRow(601)]);
  await viaStage(c, 'contributors', [userRow(602)]);
  const r = await viaStage(c, 'pull_requests', [
    prRow(6001, null, 1, 602, { repository_full_name: 'org/repo600' }),
    prRow(6002, null, 2, 602, { repository_full_name: 'org/nope' }),
    prRow(6003, null, 3, 602, { repository_full_name: null }),
    prRow(6004, 601, 4, 602, { repository_full_name: 'org/repo600' }),   // github_id wins, full_name kept as given
    prRow(6005, 404404, 5, 602, { repository_full_name: 'org/repo600' }), // a given github_id is not second-guessed
  ]);
  assert.equal(r.inserted, 2);
  assert.deepEqual(r.rejected, [
    { index: 2, key: { github_id: 6002 }, reason: 'missing_repository', detail: 'repository_full_name org/nope not found in repositories' },
    { index: 3, key: { github_id: 6003 }, reason: 'missing_field', detail: 'repository_github_id' },
    { index: 5, key: { github_id: 6005 }, reason: 'missing_repository', detail: 'repository_github_id 404404 not found in repositories' },
  ]);
  assert.deepEqual((await c.query(`SELECT p.github_id::int AS g, r.github_id::int AS repo, p.repository_github_id::int AS rg,
      p.repository_full_name AS fn FROM pull_requests p JOIN repositories r ON r.id = p.repository_id
      WHERE p.github_id IN (6001, 6004) ORDER BY 1`)).rows,
  [{ g: 6001, repo: 600, rg: 600, fn: 'org/repo600' }, { g: 6004, repo: 601, rg: 601, fn: 'org/repo600' }]);
  // the same through the jsonb wrapper
  const j = await viaJson(c, 'pull_requests', [prRow(6006, null, 6, 602, { repository_full_name: 'org/repo601' })]);
  assert.equal(j.inserted, 1);
  assert.equal((await one('SELECT repository_github_id::int AS rg FROM pull_requests WHERE github_id = 6006')).rg, 601);
  // two github_ids claiming one (repository, number), named once by github_id and once by full_name
  const clash = await viaStage(c, 'pull_requests', [prRow(6007, 600, 7, 602), prRow(6008, null, 7, 602, { repository_full_name: 'org/repo600' })]);
  assert.equal(clash.inserted, 1);
  assert.deepEqual(clash.rejected, [{ index: 1, key: { github_id: 6007 }, reason: 'repository_number_taken',
    detail: '(repository, number 7) is claimed by a later row of this call' }]);
});

test('comments: a NULL pull_request_github_id resolves the PR by (repository, pull_request_number); reviews fall back to repository_full_name', async () => {
  // PR 6001 is org/repo600#1
  const r = await viaStage(c, 'comments', [
    commentRow(7001, null, null, 602, { repository_full_name: 'org/repo600', pull_request_number: 1 }),
    commentRow(7002, null, 600, 602, { repository_full_name: null, pull_request_number: 1 }),
    commentRow(7003, null, null, 602, { repository_full_name: 'org/repo600', pull_request_number: 999 }),
    commentRow(7004, null, null, 602, { repository_full_name: 'org/repo600', pull_request_number: null }),
    commentRow(7005, null, null, 602, { repository_full_name: 'org/unknown', pull_request_number: 1 }),
    commentRow(7006, null, null, 602, { in_reply_to_github_id: 7001, repository_full_name: 'org/repo600', pull_request_number: 1 }),
  ]);
  assert.equal(r.inserted, 3);
  assert.deepEqual(r.rejected, [
    { index: 3, key: { github_id: 7003 }, reason: 'missing_pull_request', detail: 'pull request org/repo600#999 not found in pull_requests' },
    { index: 4, key: { github_id: 7004 }, reason: 'missing_field', detail: 'pull_request_github_id' },
    { index: 5, key: { github_id: 7005 }, reason: 'missing_pull_request', detail: 'pull request org/unknown#1 not found in pull_requests' },
  ]);
  assert.deepEqual((await c.query(`SELECT c.github_id::int AS g, p.github_id::int AS pr, r.github_id::int AS repo, par.github_id::int AS parent
      FROM comments c JOIN pull_requests p ON p.id = c.pull_request_id JOIN repositories r ON r.id = c.repository_id
      LEFT JOIN comments par ON par.id = c.in_reply_to_id WHERE c.github_id BETWEEN 7001 AND 7006 ORDER BY 1`)).rows,
  [{ g: 7001, pr: 6001, repo: 600, parent: null }, { g: 7002, pr: 6001, repo: 600, parent: null },
    { g: 7006, pr: 6001, repo: 600, parent: 7001 }]);
  // reviews: the PR row has no repository (nullable in production) → repository_full_name is used
  await c.query(`INSERT INTO pull_requests (github_id, repository_full_name, number, title, state, head_branch, created_at, updated_at)
                 VALUES (6099, 'org/repo601', 99, 'no repository_id', 'open', 'x', now(), now())`);
  const rv = await viaStage(c, 'reviews', [
    reviewRow(7101, 6099, null, 602, { repository_full_name: 'org/repo601' }),
    reviewRow(7102, 6099, null, 602, { repository_full_name: 'org/unknown' }),
    reviewRow(7103, 6001, null, 602, { repository_full_name: 'org/repo601' }),   // the PR's repository wins
  ]);
  assert.equal(rv.inserted, 2);
  assert.deepEqual(rv.rejected.map((x) => [x.index, x.reason, x.detail]), [[2, 'missing_repository', 'no repository for the pull request']]);
  assert.deepEqual((await c.query(`SELECT v.github_id::int AS g, r.github_id::int AS repo FROM reviews v JOIN repositories r ON r.id = v.repository_id
      WHERE v.github_id IN (7101, 7103) ORDER BY 1`)).rows, [{ g: 7101, repo: 601 }, { g: 7103, repo: 600 }]);
  // the same rule through the jsonb wrapper
  const j = await viaJson(c, 'comments', [commentRow(7007, null, null, 602, { repository_full_name: 'org/repo600', pull_request_number: 1 })]);
  assert.equal(j.inserted, 1);
});

test('progcap_stage_prepare: creates once without notices, empties, rejects unknown names; merge without a stage → 55000', async () => {
  const other = await connect(db);
  const notices = [];
  other.on('notice', (n) => notices.push(n.message));
  try {
    await assert.rejects(other.query('SELECT progcap_merge_reviews()'), (e) => e.code === '55000' && /progcap_stage_prepare/.test(e.hint));
    await other.query('BEGIN');
    await other.query(`SELECT progcap_stage_prepare('reviews')`);
    await other.query(`INSERT INTO pg_temp.progcap_stage_reviews (_ord, github_id) SELECT g, g FROM generate_series(1, 50) g`);
    await other.query(`SELECT progcap_stage_prepare('reviews')`);
    assert.equal((await other.query('SELECT count(*)::int AS n FROM pg_temp.progcap_stage_reviews')).rows[0].n, 0, 'emptied');
    await other.query(`INSERT INTO pg_temp.progcap_stage_reviews (_ord, github_id) SELECT g, g FROM generate_series(1, 3) g`);
    await other.query('ROLLBACK');
    // the stage created inside the rolled-back transaction is gone with it: prepare creates it again
    assert.equal((await other.query(`SELECT to_regclass('pg_temp.progcap_stage_reviews') AS t`)).rows[0].t, null);
    await other.query(`SELECT progcap_stage_prepare('reviews')`);
    await other.query(`SELECT progcap_stage_prepare('reviews')`);
    await other.query('BEGIN');
    await other.query(`INSERT INTO pg_temp.progcap_stage_reviews (_ord, github_id) VALUES (1, 1)`);
    await other.query('ROLLBACK');   // leaves a dead row in the file
    await other.query('BEGIN');
    await other.query(`SELECT progcap_stage_prepare('reviews')`);
    assert.equal((await other.query('SELECT count(*)::int AS n FROM pg_temp.progcap_stage_reviews')).rows[0].n, 0);
    await other.query('COMMIT');
    for (const bad of ['issues', 'Reviews', '', null, 'reviews; DROP TABLE reviews']) {
      await assert.rejects(other.query('SELECT progcap_stage_prepare($1)', [bad]), (e) => e.code === '22023', String(bad));
    }
    // a stage with another layout (e.g. made by an older version in a long-lived session) is re-created
    await other.query('ALTER TABLE pg_temp.progcap_stage_reviews ADD COLUMN stale integer');
    await other.query(`SELECT set_config('progcap.stage_reviews', '', false)`);
    await other.query(`SELECT progcap_stage_prepare('reviews')`);
    assert.equal((await other.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'pg_temp.progcap_stage_reviews'::regclass
      AND attname = 'stale' AND NOT attisdropped`)).rows[0].n, 0);
    assert.deepEqual(notices, [], 'no NOTICE for repeated prepares');
  } finally {
    await other.end();
  }
});

test('two merges in one transaction; ON COMMIT DELETE ROWS empties the stage', async () => {
  await c.query('BEGIN');
  const r1 = await stageAndMerge(c, 'contributors', [userRow(801), userRow(802)]);
  const r2 = await stageAndMerge(c, 'contributors', [userRow(803), userRow(801, { display_name: 'changed' })]);
  // a third batch staged without a new prepare would be merged together with the second one: prepare empties
  await c.query(`INSERT INTO pg_temp.progcap_stage_contributors (_ord, github_id, username) VALUES (1, 804, 'user804')`);
  assert.equal((await c.query('SELECT count(*)::int AS n FROM pg_temp.progcap_stage_contributors')).rows[0].n, 3);
  await c.query('COMMIT');
  assert.deepEqual([r1.received, r1.inserted], [2, 2]);
  assert.deepEqual([r2.received, r2.inserted, r2.updated], [2, 1, 1]);
  assert.equal((await c.query('SELECT count(*)::int AS n FROM pg_temp.progcap_stage_contributors')).rows[0].n, 0, 'ON COMMIT DELETE ROWS');
  assert.deepEqual((await c.query('SELECT github_id::int AS g, display_name FROM contributors WHERE github_id BETWEEN 801 AND 804 ORDER BY 1')).rows,
    [{ g: 801, display_name: 'changed' }, { g: 802, display_name: null }, { g: 803, display_name: null }]);
  // a failed merge rolls back with its transaction; the next call on the session works
  await c.query('BEGIN');
  await assert.rejects(stageAndMerge(c, 'pull_requests', [prRow(8101, 600, 81, 602, { created_at: 'not a date' })]), (e) => e.code === '22007');
  await c.query('ROLLBACK');
  const ok = await viaStage(c, 'pull_requests', [prRow(8101, 600, 81, 602)]);
  assert.equal(ok.inserted, 1);
});

test('a merge sees only its own session: concurrent sessions stage the same table independently', async () => {
  const s1 = await connect(db);
  const s2 = await connect(db);
  try {
    await s1.query('BEGIN');
    await s2.query('BEGIN');
    await s1.query(`SELECT progcap_stage_prepare('reviews')`);
    await s2.query(`SELECT progcap_stage_prepare('reviews')`);
    await s1.query(`INSERT INTO pg_temp.progcap_stage_reviews (_ord, github_id, pull_request_github_id, author_github_id, state, submitted_at)
                    VALUES (1, 9001, 6001, 602, 'APPROVED', now())`);
    await s2.query(`INSERT INTO pg_temp.progcap_stage_reviews (_ord, github_id, pull_request_github_id, author_github_id, state, submitted_at)
                    VALUES (1, 9002, 6001, 602, 'COMMENTED', now()), (2, 9003, 6001, 602, 'COMMENTED', now())`);
    const [a, b] = await Promise.all([s1.query('SELECT progcap_merge_reviews() AS r'), s2.query('SELECT progcap_merge_reviews() AS r')]);
    await s1.query('COMMIT');
    await s2.query('COMMIT');
    assert.deepEqual([a.rows[0].r.received, b.rows[0].r.received], [1, 2]);
    assert.equal((await one('SELECT count(*)::int AS n FROM reviews WHERE github_id BETWEEN 9001 AND 9003')).n, 3);
  } finally {
    await s1.end();
    await s2.end();
  }
});

test('progcap_describe_columns: columns of existing tables, in order, temp tables ignored; callable by anon through PostgREST', async () => {
  const rows = (await c.query(`SELECT * FROM progcap_describe_columns(ARRAY['pull_request_files', 'no_such_table', 'reviews'])`)).rows;
  const expect = (await c.query(`SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS data_type,
      a.attnotnull AS not_null FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.oid IN ('public.pull_request_files'::regclass, 'public.reviews'::regclass) ORDER BY c.relname, a.attnum`)).rows;
  assert.deepEqual(rows, expect);
  assert.deepEqual(rows.filter((r) => r.table_name === 'pull_request_files').slice(0, 3),
    [{ table_name: 'pull_request_files', column_name: 'id', data_type: 'uuid', not_null: true },
      { table_name: 'pull_request_files', column_name: 'pull_request_id', data_type: 'uuid', not_null: true },
      { table_name: 'pull_request_files', column_name: 'repository_id', data_type: 'uuid', not_null: false }]);
  assert.deepEqual((await c.query(`SELECT * FROM progcap_describe_columns('{}')`)).rows, []);
  assert.deepEqual((await c.query(`SELECT * FROM progcap_describe_columns(NULL)`)).rows, []);
  // a temporary table shadowing a name is not what the functions write: not reported
  await c.query('CREATE TEMP TABLE reviews (x int)');
  try {
    assert.deepEqual((await c.query(`SELECT * FROM progcap_describe_columns(ARRAY['reviews'])`)).rows,
      expect.filter((r) => r.table_name === 'reviews'));
  } finally {
    await c.query('DROP TABLE pg_temp.reviews');
  }
  const fn = await one(`SELECT provolatile, prosecdef FROM pg_proc WHERE oid = 'progcap_describe_columns(text[])'::regprocedure`);
  assert.deepEqual(fn, { provolatile: 's', prosecdef: false });

  const fake = await startServer(db);
  try {
    const anon = restClient(fake, fake.anonKey);
    const r = await anon.rpc('progcap_describe_columns', { p_tables: ['pull_request_files'] });
    assert.equal(r.error, null);
    assert.deepEqual(r.data, expect.filter((x) => x.table_name === 'pull_request_files'));
    const m = await anon.rpc('progcap_merge_pull_requests', {});
    assert.equal(m.status, 401, 'volatile merge: not for anon');
    const p = await restClient(fake).rpc('progcap_stage_prepare', { p_table: 'bogus' });
    assert.equal(p.status, 400);
    assert.equal(p.error.code, '22023');
  } finally {
    await fake.close();
  }
});

test('privileges: the new writing functions are not executable by PUBLIC, describe is', async () => {
  const role = `progcap_test_${process.pid}`;
  await c.query(`CREATE ROLE ${role}`);
  try {
    const sigs = ['progcap_stage_prepare(text)', 'progcap_merge_contributors(boolean)', 'progcap_merge_repositories(boolean)',
      'progcap_merge_pull_requests(boolean)', 'progcap_merge_reviews(boolean)', 'progcap_merge_comments(boolean)',
      'progcap_merge_pull_request_files(boolean, boolean)', 'progcap_upsert_pull_requests(jsonb, boolean)'];
    for (const s of sigs) {
      assert.equal((await one(`SELECT has_function_privilege($1, $2, 'EXECUTE') AS ok`, [role, s])).ok, false, s);
    }
    assert.equal((await one(`SELECT has_function_privilege($1, 'progcap_describe_columns(text[])', 'EXECUTE') AS ok`, [role])).ok, true);
    assert.equal((await one(`SELECT has_table_privilege($1, 'progcap_pending_replies', 'SELECT,INSERT,DELETE') AS ok`, [role])).ok, false,
      'progcap bookkeeping is not readable or writable by PUBLIC');
    const secdef = (await c.query(`SELECT proname FROM pg_proc WHERE proname LIKE 'progcap\\_%' AND prosecdef`)).rows;
    assert.deepEqual(secdef, [], 'everything is SECURITY INVOKER');
  } finally {
    await c.query(`DROP ROLE ${role}`);
  }
});
