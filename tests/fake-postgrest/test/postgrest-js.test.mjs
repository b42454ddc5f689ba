// The same upserts a sink does, driven with the official client (@supabase/postgrest-js) against
// fake-postgrest on a real PostgreSQL: rows must be identical in Postgres and responses/errors
// must have the shapes and statuses postgrest-js expects from PostgREST.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PostgrestClient } from '@supabase/postgrest-js';
import {
  getPg, stopPg, createDb, connect, migrate, startServer, restClient, xmins,
  repoRow, userRow, prRow, reviewRow, commentRow, fileRow,
} from './helpers.mjs';
import { signJwt } from '../src/jwt.mjs';

await getPg();

let db;
let c;
let fake;
let api;

before(async () => {
  db = await createDb('pjs');
  c = await connect(db);
  await migrate(c);
  await c.query(`CREATE FUNCTION test_sleep(ms integer) RETURNS void LANGUAGE sql VOLATILE AS $$ SELECT pg_sleep(ms / 1000.0) $$`);
  fake = await startServer(db, { statementTimeoutMs: 1500 });
  api = restClient(fake);
});
after(async () => {
  if (fake) await fake.close();
  if (c) await c.end();
  await stopPg();
});

/** The table's rows as PostgreSQL itself serialises them (json_agg), for comparison with the API. */
async function sqlRows(table, where = 'true', order = 'github_id') {
  const { rows } = await c.query(`SELECT coalesce(json_agg(t ORDER BY ${order}), '[]')::text AS j FROM (SELECT * FROM ${table} WHERE ${where}) t`);
  return JSON.parse(rows[0].j);
}

test('upsert contributors with onConflict github_id: 201, no body; rows identical in Postgres', async () => {
  const rows = [userRow(1, { display_name: 'One' }), userRow(2), userRow(3, { is_bot: true, username: 'renovate[bot]' })];
  const res = await api.from('contributors').upsert(rows, { onConflict: 'github_id' });
  assert.equal(res.error, null);
  assert.equal(res.status, 201);
  assert.equal(res.statusText, 'Created');
  assert.equal(res.data, null);
  const db1 = await sqlRows('contributors', 'github_id IN (1,2,3)');
  assert.deepEqual(db1.map(({ github_id, username, display_name, avatar_url, profile_url, is_bot }) =>
    ({ github_id, username, display_name, avatar_url, profile_url, is_bot })), rows);

  // upserting existing rows only: PostgREST answers 200 (nothing inserted) since 12.0
  const res2 = await api.from('contributors').upsert(rows.map((r) => ({ ...r, display_name: 'changed' })), { onConflict: 'github_id' });
  assert.equal(res2.error, null);
  assert.equal(res2.status, 200);
  assert.deepEqual((await sqlRows('contributors', 'github_id IN (1,2,3)')).map((r) => r.display_name), ['changed', 'changed', 'changed']);
});

test('upsert ... .select(): the representation equals what PostgreSQL holds', async () => {
  const rows = [userRow(10), userRow(11)];
  const { data, error, status } = await api.from('contributors').upsert(rows, { onConflict: 'github_id' }).select();
  assert.equal(error, null);
  assert.equal(status, 201);
  assert.deepEqual(data, await sqlRows('contributors', 'github_id IN (10,11)'));
  const picked = await api.from('contributors').upsert([userRow(10, { display_name: 'Ten' })], { onConflict: 'github_id' })
    .select('github_id,username,name:display_name');
  assert.deepEqual(picked.data, [{ github_id: 10, username: 'user10', name: 'Ten' }]);
});

test('reads: select/eq/in/order/range/count/single', async () => {
  const eq = await api.from('contributors').select('github_id,username').eq('username', 'user10');
  assert.deepEqual(eq.data, [{ github_id: 10, username: 'user10' }]);
  const inn = await api.from('contributors').select('github_id').in('github_id', [1, 2, 3, 999]).order('github_id', { ascending: false });
  assert.deepEqual(inn.data, [{ github_id: 3 }, { github_id: 2 }, { github_id: 1 }]);
  const page = await api.from('contributors').select('github_id', { count: 'exact' }).in('github_id', [1, 2, 3, 10, 11]).order('github_id').range(1, 2);
  assert.equal(page.status, 206);
  assert.equal(page.count, 5);
  assert.deepEqual(page.data, [{ github_id: 2 }, { github_id: 3 }]);
  const single = await api.from('contributors').select('username').eq('github_id', 2).single();
  assert.deepEqual(single.data, { username: 'user2' });
  const none = await api.from('contributors').select('username').eq('github_id', 424242).maybeSingle();
  assert.deepEqual([none.data, none.error], [null, null]);
  const tooMany = await api.from('contributors').select('username').in('github_id', [1, 2]).single();
  assert.equal(tooMany.status, 406);
  assert.equal(tooMany.error.code, 'PGRST116');
  const isnull = await api.from('contributors').select('github_id').is('display_name', null).in('github_id', [1, 2, 11]);
  assert.deepEqual(isnull.data, [{ github_id: 11 }]);
  const like = await api.from('contributors').select('github_id').like('username', 'user1*').order('github_id');
  assert.deepEqual(like.data.map((r) => r.github_id), [1, 10, 11]);
  const or = await api.from('contributors').select('github_id').or('github_id.eq.1,username.eq.user2').order('github_id');
  assert.deepEqual(or.data, [{ github_id: 1 }, { github_id: 2 }]);
});

test('rpc progcap_upsert_* through postgrest-js: summaries, rows land, rejected rows reported', async () => {
  let r = await api.rpc('progcap_upsert_repositories', { rows: [repoRow(100), repoRow(101)] });
  assert.equal(r.error, null);
  assert.equal(r.status, 200);
  assert.deepEqual([r.data.table, r.data.inserted, r.data.rejected], ['repositories', 2, []]);
  r = await api.rpc('progcap_resolve_contributors', { rows: [userRow(201), userRow(202)] });
  assert.deepEqual(r.data.map((x) => x.github_id), [201, 202]);
  assert.match(r.data[0].id, /^[0-9a-f-]{36}$/);
  const prs = [prRow(1001, 100, 1, 201), prRow(1002, 100, 2, 202, { state: 'closed', merged: true, merged_at: '2025-01-03T00:00:00Z', merged_by_github_id: 201 }),
    prRow(1003, 999, 3, 201)];
  r = await api.rpc('progcap_upsert_pull_requests', { rows: prs, return_ids: true });
  assert.equal(r.error, null);
  assert.deepEqual([r.data.inserted, r.data.rejected.map((x) => x.reason), r.data.ids.length], [2, ['missing_repository'], 2]);
  r = await api.rpc('progcap_upsert_reviews', { rows: [reviewRow(5001, 1001, 100, 202), reviewRow(5002, 4242, 100, 202)] });
  assert.deepEqual([r.data.inserted, r.data.rejected[0].reason, r.data.rejected[0].key], [1, 'missing_pull_request', { github_id: 5002 }]);
  r = await api.rpc('progcap_upsert_comments', { rows: [commentRow(6002, 1001, 100, 201, { in_reply_to_github_id: 6001 }), commentRow(6001, 1001, 100, 202)] });
  assert.equal(r.data.inserted, 2);
  r = await api.rpc('progcap_upsert_pull_request_files', { rows: [fileRow(1001, 100, 'a.c'), fileRow(1001, 100, 'b.c')], replace: true });
  assert.deepEqual([r.data.inserted, r.data.deleted], [2, 0]);

  // what the API reads back is exactly what PostgreSQL holds
  const apiPrs = await api.from('pull_requests').select('*').in('github_id', [1001, 1002]).order('github_id');
  assert.deepEqual(apiPrs.data, await sqlRows('pull_requests', 'github_id IN (1001,1002)'));
  const apiFiles = await api.from('pull_request_files').select('*').order('filename');
  assert.deepEqual(apiFiles.data, await sqlRows('pull_request_files', 'true', 'filename'));

  // repeated identical call: no row rewritten (xmin unchanged)
  const xm = await xmins(c, 'pull_requests');
  r = await api.rpc('progcap_upsert_pull_requests', { rows: prs.slice(0, 2) });
  assert.deepEqual([r.data.inserted, r.data.updated, r.data.unchanged], [0, 0, 2]);
  assert.deepEqual(await xmins(c, 'pull_requests'), xm);
  // list payload without stats: stats kept
  r = await api.rpc('progcap_upsert_pull_requests', { rows: [prRow(1001, 100, 1, 201, { additions: null, deletions: null, changed_files: null, commits: null })] });
  assert.equal(r.data.unchanged, 1);
});

test('409: unique (23505) and foreign-key (23503) violations come back as PostgREST errors', async () => {
  // username of github_id 1 under another github_id: a plain PostgREST upsert cannot handle renames
  const dup = await api.from('contributors').upsert([userRow(50, { username: 'user1' })], { onConflict: 'github_id' });
  assert.equal(dup.status, 409);
  assert.equal(dup.data, null);
  assert.deepEqual(Object.keys(dup.error).sort(), ['code', 'details', 'hint', 'message']);
  assert.equal(dup.error.code, '23505');
  assert.equal(dup.error.message, 'duplicate key value violates unique constraint "contributors_username_key"');
  assert.equal(dup.error.details, 'Key (username)=(user1) already exists.');
  assert.equal(dup.error.hint, null);
  const fk = await api.from('reviews').insert({ github_id: 9, pull_request_id: '00000000-0000-4000-8000-000000000000', author_id: '00000000-0000-4000-8000-000000000000',
    repository_id: '00000000-0000-4000-8000-000000000000', state: 'APPROVED', submitted_at: '2025-01-01T00:00:00Z' });
  assert.equal(fk.status, 409);
  assert.equal(fk.error.code, '23503');
  // the rename-safe path succeeds
  const ok = await api.rpc('progcap_upsert_contributors', { rows: [userRow(50, { username: 'user1' })] });
  assert.deepEqual(ok.data.renamed, [{ github_id: 1, from: 'user1', to: 'user1__renamed_1' }]);
});

test('400: unknown column PGRST204, not-null 23502, bad value 22P02, check 23514', async () => {
  const bad = await api.from('contributors').upsert([{ github_id: 60, username: 'u60', usernmae: 'typo' }], { onConflict: 'github_id' });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.error, { code: 'PGRST204', details: null, hint: null, message: "Could not find the 'usernmae' column of 'contributors' in the schema cache" });
  const nn = await api.from('contributors').insert({ github_id: 61 });
  assert.equal(nn.status, 400);
  assert.equal(nn.error.code, '23502');
  assert.match(nn.error.message, /null value in column "username" of relation "contributors" violates not-null constraint/);
  const p = await api.from('contributors').select('*').eq('github_id', 'abc');
  assert.equal(p.status, 400);
  assert.equal(p.error.code, '22P02');
  const chk = await api.from('repositories').insert({ github_id: 62, full_name: 'o/x', owner: 'o', name: 'x', sync_status: 'bogus' });
  assert.equal(chk.status, 400);
  assert.equal(chk.error.code, '23514');
});

test('the same conflict key twice in one batch: 21000, mapped to 500 as PostgREST >= 12.0.3 does', async () => {
  const r = await api.from('contributors').upsert([userRow(70), userRow(70, { display_name: 'again' })], { onConflict: 'github_id' });
  assert.equal(r.status, 500);
  assert.equal(r.error.code, '21000');
  assert.match(r.error.message, /ON CONFLICT DO UPDATE command cannot affect row a second time/);
  const legacy = await startServer(db, { legacy21000: true });
  try {
    const r2 = await restClient(legacy).from('contributors').upsert([userRow(70), userRow(70)], { onConflict: 'github_id' });
    assert.equal(r2.status, 400);
  } finally {
    await legacy.close();
  }
});

test('401/403: missing or invalid keys, bad JWTs, anon and authenticated writes', async () => {
  const noKey = new PostgrestClient(`${fake.url}/rest/v1`);
  const a = await noKey.from('contributors').select('*').limit(1);
  assert.equal(a.status, 401);
  assert.deepEqual(a.error, { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' });
  const wrongSecret = signJwt({ role: 'service_role' }, 'another-secret-that-is-at-least-32-chars');
  const b = await restClient(fake, wrongSecret).from('contributors').select('*').limit(1);
  assert.equal(b.status, 401);
  assert.equal(b.error.message, 'Invalid API key');
  const badBearer = restClient(fake, fake.serviceKey, { Authorization: `Bearer ${wrongSecret}` });
  const d = await badBearer.from('contributors').select('*').limit(1);
  assert.equal(d.status, 401);
  assert.deepEqual(d.error, { code: 'PGRST301', details: null, hint: null, message: 'JWT cryptographic operation failed' });
  const expired = signJwt({ role: 'service_role', exp: Math.floor(Date.now() / 1000) - 3600 }, fake.jwtSecret);
  const e = await restClient(fake, fake.serviceKey, { Authorization: `Bearer ${expired}` }).from('contributors').select('*').limit(1);
  assert.equal(e.status, 401);
  assert.equal(e.error.code, 'PGRST303');
  assert.equal(e.error.message, 'JWT expired');

  const anon = restClient(fake, fake.anonKey);
  const read = await anon.from('contributors').select('github_id').eq('github_id', 1);
  assert.deepEqual([read.status, read.data], [200, [{ github_id: 1 }]]);
  const w = await anon.from('contributors').upsert([userRow(80)], { onConflict: 'github_id' });
  assert.equal(w.status, 401);
  assert.deepEqual(w.error, { code: '42501', details: null, hint: null, message: 'permission denied for table contributors' });
  const rpcAnon = await anon.rpc('progcap_upsert_contributors', { rows: [userRow(81)] });
  assert.equal(rpcAnon.status, 401);
  assert.equal(rpcAnon.error.message, 'permission denied for function progcap_upsert_contributors');
  const authed = signJwt({ role: 'authenticated', sub: 'user-1' }, fake.jwtSecret);
  const w2 = await restClient(fake, fake.anonKey, { Authorization: `Bearer ${authed}` }).from('contributors').upsert([userRow(82)], { onConflict: 'github_id' });
  assert.equal(w2.status, 403);
  assert.equal(w2.error.code, '42501');
  assert.equal((await c.query('SELECT count(*)::int AS n FROM contributors WHERE github_id IN (80, 81, 82)')).rows[0].n, 0);
});

test('404s: unknown table (PGRST205) and unknown function (PGRST202)', async () => {
  const t = await api.from('contributor').select('*');
  assert.equal(t.status, 404);
  assert.deepEqual(t.error, { code: 'PGRST205', details: null, hint: "Perhaps you meant the table 'public.contributors'",
    message: "Could not find the table 'public.contributor' in the schema cache" });
  const f = await api.rpc('progcap_upsert_pull_request', { rows: [] });
  assert.equal(f.status, 404);
  assert.equal(f.error.code, 'PGRST202');
  assert.equal(f.error.message, 'Could not find the function public.progcap_upsert_pull_request(rows) in the schema cache');
  assert.equal(f.error.hint, 'Perhaps you meant to call the function public.progcap_upsert_pull_requests');
  const g = await api.rpc('progcap_upsert_pull_requests', { records: [] });
  assert.equal(g.status, 404);
  assert.equal(g.error.hint, 'Perhaps you meant to call the function public.progcap_upsert_pull_requests(return_ids, rows)');
});

test('statement timeout: 57014 → 500', async () => {
  const r = await api.rpc('test_sleep', { ms: 4000 });
  assert.equal(r.status, 500);
  assert.equal(r.error.code, '57014');
  assert.equal(r.error.message, 'canceling statement due to statement timeout');
});

test('413 above --max-body-bytes (gateway behaviour), accepted below', async () => {
  const small = await startServer(db, { maxBodyBytes: 4096 });
  try {
    const cl = restClient(small);
    const big = Array.from({ length: 100 }, (_, i) => userRow(90000 + i));
    const r = await cl.from('contributors').upsert(big, { onConflict: 'github_id' });
    assert.equal(r.status, 413);
    assert.deepEqual(r.error, { message: 'Request size limit exceeded' });
    const ok = await cl.from('contributors').upsert(big.slice(0, 5), { onConflict: 'github_id' });
    assert.equal(ok.status, 201);
  } finally {
    await small.close();
  }
});

test('hostile strings and a 1 MB body round-trip exactly through REST', async () => {
  const hostile = ["'; DROP TABLE contributors; --", 'q"uo\'te\\back\\\\slash', 'ü 漢字 👩‍💻 \u2028 \t\r\n', '${x} %s $1 ?', 'x'.repeat(1024 * 1024)];
  const rows = hostile.map((s, i) => userRow(95000 + i, { username: `h${i}`, display_name: s, avatar_url: s.slice(0, 64) }));
  const up = await api.from('contributors').upsert(rows, { onConflict: 'github_id' }).select('display_name');
  assert.equal(up.error, null);
  assert.deepEqual(up.data.map((r) => r.display_name), hostile);
  const back = (await c.query('SELECT display_name FROM contributors WHERE github_id >= 95000 ORDER BY github_id')).rows.map((r) => r.display_name);
  assert.deepEqual(back, hostile);
  const q = await api.from('contributors').select('github_id').eq('display_name', hostile[0]);
  assert.deepEqual(q.data, [{ github_id: 95000 }]);
  const inq = await api.from('contributors').select('github_id').in('display_name', [hostile[0], hostile[1]]).order('github_id');
  assert.deepEqual(inq.data, [{ github_id: 95000 }, { github_id: 95001 }]);
  const nul = await api.from('contributors').upsert([userRow(95100, { display_name: 'nul\u0000byte' })], { onConflict: 'github_id' });
  assert.equal(nul.status, 400, 'PostgreSQL text cannot hold U+0000: clean 400, not a crash');
  assert.equal(nul.error.code, '22P05');
});

test('update and delete through postgrest-js', async () => {
  const u = await api.from('contributors').update({ display_name: 'patched' }).eq('github_id', 2).select('github_id,display_name');
  assert.deepEqual([u.status, u.data], [200, [{ github_id: 2, display_name: 'patched' }]]);
  const all = await api.from('contributors').update({ display_name: 'everyone' });
  assert.equal(all.status, 400, 'pg-safeupdate (Supabase) refuses an UPDATE without WHERE');
  assert.equal(all.error.message, 'UPDATE requires a WHERE clause');
  const d = await api.from('contributors').delete({ count: 'exact' }).in('github_id', [10, 11]);
  assert.deepEqual([d.status, d.count], [204, 2]);
});
