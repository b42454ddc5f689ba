// PostgREST protocol details over raw HTTP: statuses, headers, Prefer handling, URL grammar, RPC
// parameter rules, fault injection, stats, schema reload and the CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPg, stopPg, createDb, connect, migrate, startServer, http, userRow, PKG } from './helpers.mjs';
import { signJwt } from '../src/jwt.mjs';

await getPg();

let db;
let c;
let fake;

before(async () => {
  db = await createDb('proto');
  c = await connect(db);
  await migrate(c);
  await c.query(`
    CREATE TABLE things (id bigint PRIMARY KEY, name text NOT NULL, note text, score int DEFAULT 7,
                         tags text[], created timestamptz DEFAULT '2020-01-01T00:00:00Z');
    CREATE TABLE nopk (a int, b text);
    CREATE FUNCTION echo_json(json) RETURNS json LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;
    CREATE FUNCTION add_them(a int, b int DEFAULT 10) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
    CREATE FUNCTION count_rows(p jsonb) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT jsonb_array_length(p) $$;
    CREATE FUNCTION touch(id bigint) RETURNS void LANGUAGE sql VOLATILE AS $$ UPDATE things SET note = 'touched' WHERE things.id = touch.id $$;
    CREATE FUNCTION list_things(min_score int DEFAULT 0) RETURNS SETOF things LANGUAGE sql STABLE
      AS $$ SELECT * FROM things WHERE score >= min_score $$;
    CREATE FUNCTION squares(n int) RETURNS SETOF int LANGUAGE sql IMMUTABLE AS $$ SELECT g * g FROM generate_series(1, n) g $$;`);
  fake = await startServer(db, { maxRows: 50 });
});
after(async () => {
  if (fake) await fake.close();
  if (c) await c.end();
  await stopPg();
});

const post = (path, body, headers = {}) => http(fake, 'POST', path, { body, headers });
const get = (path, headers = {}) => http(fake, 'GET', path, { headers });

test('POST: statuses, Content-Range, Preference-Applied, Location', async () => {
  let r = await post('/rest/v1/things', [{ id: 1, name: 'a' }, { id: 2, name: 'b' }]);
  assert.deepEqual([r.status, r.text, r.headers.get('content-range'), r.headers.get('preference-applied')], [201, '', '*/*', null]);
  r = await post('/rest/v1/things', [{ id: 3, name: 'c' }], { Prefer: 'return=minimal, count=exact' });
  assert.deepEqual([r.status, r.headers.get('content-range'), r.headers.get('preference-applied')], [201, '*/1', 'return=minimal, count=exact']);
  r = await post('/rest/v1/things', { id: 4, name: 'd' }, { Prefer: 'return=headers-only' });
  assert.deepEqual([r.status, r.headers.get('location'), r.text], [201, '/things?id=eq.4', '']);
  r = await post('/rest/v1/things', [{ id: 4, name: 'D' }, { id: 5, name: 'e' }], { Prefer: 'resolution=merge-duplicates,return=representation' });
  assert.equal(r.status, 201);
  assert.equal(r.headers.get('preference-applied'), 'resolution=merge-duplicates, return=representation');
  assert.deepEqual(r.json.map((x) => [x.id, x.name]), [[4, 'D'], [5, 'e']]);
  r = await post('/rest/v1/things', [{ id: 4, name: 'DD' }], { Prefer: 'resolution=merge-duplicates' });
  assert.equal(r.status, 200, 'no row inserted → 200');
  r = await post('/rest/v1/things', [{ id: 4, name: 'ignored' }, { id: 6, name: 'f' }], { Prefer: 'resolution=ignore-duplicates,return=representation' });
  assert.deepEqual([r.status, r.json.map((x) => x.id)], [201, [6]]);
  assert.equal((await c.query('SELECT name FROM things WHERE id = 4')).rows[0].name, 'DD');
  // without a primary key and without on_conflict the resolution is not applied (and not echoed)
  r = await post('/rest/v1/nopk', [{ a: 1, b: 'x' }], { Prefer: 'resolution=merge-duplicates' });
  assert.deepEqual([r.status, r.headers.get('preference-applied')], [201, null]);
});

test('POST payload rules: uniform keys, ?columns, missing=default, empty and scalar bodies', async () => {
  let r = await post('/rest/v1/things', [{ id: 10, name: 'a' }, { id: 11 }]);
  assert.deepEqual([r.status, r.json], [400, { code: 'PGRST102', details: null, hint: null, message: 'All object keys must match' }]);
  r = await post('/rest/v1/things', '{"id": 1,');
  assert.deepEqual([r.status, r.json.code, r.json.message], [400, 'PGRST102', 'Empty or invalid json']);
  r = await post('/rest/v1/things', '');
  assert.deepEqual([r.status, r.json.message], [400, 'Empty or invalid json']);
  r = await post('/rest/v1/things', []);
  assert.equal(r.status, 201);
  r = await post('/rest/v1/things', 42);
  assert.equal(r.status, 201, 'a scalar body is truncated to an empty array by PostgREST');
  // ?columns: keys outside the list are ignored, missing keys are NULL ...
  r = await post('/rest/v1/things?columns=id,name,score', [{ id: 12, name: 'x', extra: 'ignored' }, { id: 13, name: 'y', score: 1 }],
    { Prefer: 'return=representation' });
  assert.deepEqual(r.json.map((x) => [x.id, x.score, x.created]), [[12, null, '2020-01-01T00:00:00+00:00'], [13, 1, '2020-01-01T00:00:00+00:00']]);
  // ... or the column default with missing=default (postgrest-js defaultToNull: false)
  r = await post('/rest/v1/things?columns="id","name","score"', [{ id: 14, name: 'z' }], { Prefer: 'missing=default,return=representation' });
  assert.deepEqual([r.json[0].score, r.headers.get('preference-applied')], [7, 'missing=default, return=representation']);
  r = await post('/rest/v1/things?columns=id,nope', [{ id: 15 }]);
  assert.deepEqual([r.status, r.json.code, r.json.message], [400, 'PGRST204', "Could not find the 'nope' column of 'things' in the schema cache"]);
  // arrays into text[] columns
  r = await post('/rest/v1/things', [{ id: 16, name: 't', tags: ['a', 'b,c', 'd"e'] }], { Prefer: 'return=representation' });
  assert.deepEqual(r.json[0].tags, ['a', 'b,c', 'd"e']);
});

test('GET: URL grammar, ranges, counts, max-rows, negotiation', async () => {
  let r = await get('/rest/v1/things?select=id,label:name&id=in.(1,2,"3")&order=id.desc');
  assert.deepEqual(r.json, [{ id: 3, label: 'c' }, { id: 2, label: 'b' }, { id: 1, label: 'a' }]);
  assert.equal(r.headers.get('content-range'), '0-2/*');
  r = await get('/rest/v1/things?select=id&name=like.*D*&id=lt.100');
  assert.deepEqual(r.json, [{ id: 4 }]);
  r = await get('/rest/v1/things?select=id&name=ilike.*d*&id=lt.100&order=id');
  assert.deepEqual(r.json, [{ id: 4 }]);
  r = await get('/rest/v1/things?select=id&note=is.null&score=not.is.null&id=gte.12&id=lte.14&order=id');
  assert.deepEqual(r.json, [{ id: 13 }, { id: 14 }]);
  r = await get('/rest/v1/things?select=id&or=(id.eq.1,and(id.gt.4,id.lt.6))&order=id');
  assert.deepEqual(r.json, [{ id: 1 }, { id: 5 }]);
  r = await get('/rest/v1/things?select=id&id=not.in.(1,2,3)&id=lt.6&order=id');
  assert.deepEqual(r.json, [{ id: 4 }, { id: 5 }]);
  r = await get('/rest/v1/things?select=id&tags=cs.{a}');
  assert.deepEqual(r.json, [{ id: 16 }]);
  r = await get('/rest/v1/things?select=id&order=score.desc.nullslast,id.asc&limit=2&offset=1');
  assert.deepEqual(r.json, [{ id: 2 }, { id: 3 }]);
  r = await get('/rest/v1/things?select=id&order=id', { Range: '1-2', Prefer: 'count=exact' });
  assert.deepEqual([r.status, r.headers.get('content-range'), r.json], [206, `1-2/${await countThings()}`, [{ id: 2 }, { id: 3 }]]);
  r = await get('/rest/v1/things?select=id&offset=1000', { Prefer: 'count=exact' });
  assert.deepEqual([r.status, r.json.code], [416, 'PGRST103']);
  r = await get('/rest/v1/things?select=id', { Range: '5-2' });
  assert.deepEqual([r.status, r.json.code], [416, 'PGRST103']);
  r = await get('/rest/v1/things?id=foo.1');
  assert.deepEqual([r.status, r.json.code, r.json.message], [400, 'PGRST100', 'failed to parse filter (id=foo.1)']);
  r = await get('/rest/v1/things?nope=eq.1');
  assert.deepEqual([r.status, r.json.code, r.json.message], [400, '42703', 'column things.nope does not exist']);
  r = await get('/rest/v1/things?select=id', { Accept: 'application/vnd.pgrst.object+json' });
  assert.deepEqual([r.status, r.json.code], [406, 'PGRST116']);
  r = await get('/rest/v1/things?select=id,note&id=eq.1', { Accept: 'application/vnd.pgrst.object+json' });
  assert.deepEqual([r.status, r.json, r.headers.get('content-type')], [200, { id: 1, note: null }, 'application/vnd.pgrst.object+json; charset=utf-8']);
  r = await get('/rest/v1/things?select=id,note&id=eq.1', { Accept: 'application/vnd.pgrst.array+json;nulls=stripped' });
  assert.deepEqual(r.json, [{ id: 1 }]);
  r = await get('/rest/v1/things', { Accept: 'text/csv' });
  assert.deepEqual([r.status, r.json.code], [406, 'PGRST107']);
  r = await http(fake, 'HEAD', '/rest/v1/things?id=eq.1');
  assert.deepEqual([r.status, r.text], [200, '']);
  // max-rows (50 here) caps reads
  await post('/rest/v1/nopk', Array.from({ length: 80 }, (_, i) => ({ a: i, b: 'r' })));
  r = await get('/rest/v1/nopk?select=a&order=a');
  assert.deepEqual([r.json.length, r.headers.get('content-range')], [50, '0-49/*']);
  r = await get('/rest/v1/nopk?select=a&order=a&limit=5');
  assert.equal(r.json.length, 5);
});

async function countThings() {
  return (await c.query('SELECT count(*)::int AS n FROM things')).rows[0].n;
}

test('Prefer handling=strict rejects unknown preferences (PGRST122)', async () => {
  let r = await get('/rest/v1/things?id=eq.1', { Prefer: 'handling=strict, count=exact, bogus=1' });
  assert.deepEqual([r.status, r.json], [400, { code: 'PGRST122', details: 'Invalid preferences: bogus=1', hint: null,
    message: 'Invalid preferences given with handling=strict' }]);
  r = await get('/rest/v1/things?id=eq.1', { Prefer: 'bogus=1' });
  assert.equal(r.status, 200);
});

test('PATCH and DELETE: statuses, Content-Range, safeupdate, max-affected', async () => {
  let r = await http(fake, 'PATCH', '/rest/v1/things?id=in.(1,2)', { body: { note: 'n' } });
  assert.deepEqual([r.status, r.headers.get('content-range')], [204, '0-1/*']);
  r = await http(fake, 'PATCH', '/rest/v1/things?id=eq.1', { body: { note: 'm' }, headers: { Prefer: 'return=representation' } });
  assert.deepEqual([r.status, r.json.map((x) => x.note)], [200, ['m']]);
  r = await http(fake, 'PATCH', '/rest/v1/things?id=eq.999', { body: { note: 'x' } });
  assert.deepEqual([r.status, r.headers.get('content-range')], [204, '*/*']);
  r = await http(fake, 'PATCH', '/rest/v1/things', { body: { note: 'all' } });
  assert.deepEqual([r.status, r.json.code, r.json.message], [400, '21000', 'UPDATE requires a WHERE clause']);
  r = await http(fake, 'PATCH', '/rest/v1/things?id=lt.100', { body: { note: 'many' }, headers: { Prefer: 'handling=strict, max-affected=2' } });
  assert.deepEqual([r.status, r.json.code, r.json.details], [400, 'PGRST124', `The query affects ${await countThingsBelow(100)} rows`]);
  assert.equal((await c.query(`SELECT count(*)::int AS n FROM things WHERE note = 'many'`)).rows[0].n, 0, 'rolled back');
  r = await http(fake, 'DELETE', '/rest/v1/things');
  assert.deepEqual([r.status, r.json.message], [400, 'DELETE requires a WHERE clause']);
  r = await http(fake, 'DELETE', '/rest/v1/things?id=eq.16', { headers: { Prefer: 'return=representation, count=exact' } });
  assert.deepEqual([r.status, r.headers.get('content-range'), r.json.map((x) => x.id)], [200, '*/1', [16]]);
  r = await http(fake, 'PUT', '/rest/v1/things?id=eq.1', { body: { id: 1, name: 'a' } });
  assert.deepEqual([r.status, r.json.code], [405, 'PGRST117']);
});

async function countThingsBelow(n) {
  return (await c.query('SELECT count(*)::int AS n FROM things WHERE id < $1', [n])).rows[0].n;
}

test('RPC: named args, defaults, single unnamed json, params=single-object, void, setof, GET', async () => {
  let r = await post('/rest/v1/rpc/add_them', { a: 1, b: 2 });
  assert.deepEqual([r.status, r.json], [200, 3]);
  r = await post('/rest/v1/rpc/add_them', { a: 1 });
  assert.equal(r.json, 11);
  r = await get('/rest/v1/rpc/add_them?a=5&b=6');
  assert.equal(r.json, 11);
  r = await post('/rest/v1/rpc/echo_json', { x: [1, { y: 'z' }] });
  assert.deepEqual(r.json, { x: [1, { y: 'z' }] }, 'a single unnamed json parameter receives the whole body');
  r = await post('/rest/v1/rpc/count_rows', [1, 2, 3], { Prefer: 'params=single-object' });
  assert.equal(r.json, 3, 'deprecated params=single-object passes the body to the single json/jsonb parameter');
  r = await post('/rest/v1/rpc/count_rows', { p: [1, 2] });
  assert.equal(r.json, 2);
  r = await post('/rest/v1/rpc/touch', { id: 1 });
  assert.deepEqual([r.status, r.text], [204, '']);
  r = await get('/rest/v1/rpc/touch?id=1');
  assert.deepEqual([r.status, r.json.code], [405, '25006'], 'volatile functions cannot run in GET (read-only transaction)');
  r = await post('/rest/v1/rpc/list_things?select=id&id=lt.4&order=id.desc', { min_score: 0 });
  assert.deepEqual(r.json, [{ id: 3 }, { id: 2 }, { id: 1 }]);
  r = await get('/rest/v1/rpc/list_things?min_score=0&id=lt.3&select=*&order=id');
  assert.deepEqual(r.json.map((x) => x.id), [1, 2], 'GET: parameters are arguments, other keys are filters');
  r = await post('/rest/v1/rpc/squares', { n: 4 });
  assert.deepEqual(r.json, [1, 4, 9, 16]);
  r = await post('/rest/v1/rpc/add_them', { a: 1, c: 3 });
  assert.deepEqual([r.status, r.json.code, r.json.message], [404, 'PGRST202', 'Could not find the function public.add_them(a, c) in the schema cache']);
  assert.equal(r.json.details, 'Searched for the function public.add_them with parameters a, c or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.');
  r = await http(fake, 'PATCH', '/rest/v1/rpc/add_them', { body: {} });
  assert.deepEqual([r.status, r.json.code, r.json.message], [405, 'PGRST101', 'Cannot use the PATCH method on RPC']);
});

test('auth details: WWW-Authenticate, unknown role, bare-PostgREST mode', async () => {
  const expired = signJwt({ role: 'service_role', exp: 1 }, fake.jwtSecret);
  let r = await http(fake, 'GET', '/rest/v1/things', { headers: { Authorization: `Bearer ${expired}` } });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer error="invalid_token", error_description="JWT expired"');
  r = await http(fake, 'GET', '/rest/v1/things', { headers: { Authorization: 'Bearer a.b' } });
  assert.deepEqual([r.status, r.json.message], [401, 'Expected 3 parts in JWT; got 2']);
  const weird = signJwt({ role: 'superman' }, fake.jwtSecret);
  r = await http(fake, 'GET', '/rest/v1/things', { headers: { Authorization: `Bearer ${weird}` } });
  assert.deepEqual([r.status, r.json], [401, { code: '22023', details: null, hint: null, message: 'role "superman" does not exist' }]);
  r = await http(fake, 'GET', '/rest/v1/things?select=id&id=eq.1&apikey=' + fake.anonKey, { noAuth: true });
  assert.deepEqual([r.status, r.json], [200, [{ id: 1 }]], 'apikey as a query parameter');
  const bare = await startServer(db, { requireApikey: false });
  try {
    r = await http(bare, 'GET', '/rest/v1/things?select=id&id=eq.1', { noAuth: true });
    assert.deepEqual([r.status, r.json], [200, [{ id: 1 }]]);
    r = await http(bare, 'POST', '/rest/v1/things', { noAuth: true, body: { id: 99, name: 'x' } });
    assert.deepEqual([r.status, r.json.code, r.headers.get('www-authenticate')], [401, '42501', 'Bearer']);
  } finally {
    await bare.close();
  }
});

test('faults: status with Retry-After and match, reset, slow, non-json; stats', async () => {
  await http(fake, 'POST', '/_fake/reset-stats', { noAuth: true });
  let r = await http(fake, 'POST', '/_fake/faults', { noAuth: true, body: [
    { kind: 'status', status: 503, count: 2, retry_after: 7, match: '^POST /rest/v1/rpc/' },
    { kind: 'status', status: 429, match: 'things\\?id=eq\\.2' },
  ] });
  assert.equal(r.status, 201);
  r = await get('/rest/v1/things?select=id&id=eq.1');
  assert.equal(r.status, 200, 'rule does not match GETs');
  for (let i = 0; i < 2; i++) {
    r = await post('/rest/v1/rpc/add_them', { a: 1, b: 1 });
    assert.deepEqual([r.status, r.headers.get('retry-after'), r.json.code], [503, '7', 'PGRST001']);
  }
  r = await post('/rest/v1/rpc/add_them', { a: 1, b: 1 });
  assert.deepEqual([r.status, r.json], [200, 2], 'fired twice, then gone');
  r = await get('/rest/v1/things?id=eq.2');
  assert.deepEqual([r.status, r.json], [429, { message: 'API rate limit exceeded' }]);

  await http(fake, 'POST', '/_fake/faults', { noAuth: true, body: { kind: 'reset', match: 'reset-me' } });
  await assert.rejects(get('/rest/v1/things?reset-me=eq.1'), (e) => /fetch failed|other side closed|socket/i.test(String(e.message) + String(e.cause)));

  await http(fake, 'POST', '/_fake/faults', { noAuth: true, body: { kind: 'slow', ms: 300, match: 'slow-me' } });
  const t0 = Date.now();
  r = await get('/rest/v1/things?select=id&id=eq.1&slow-me=not.is.null');
  assert.ok(Date.now() - t0 >= 290);
  assert.equal(r.status, 400, 'slow then handled normally (unknown column here)');

  await http(fake, 'POST', '/_fake/faults', { noAuth: true, body: { kind: 'non-json', status: 502 } });
  r = await http(fake, 'POST', '/rest/v1/things', { body: [{ id: 50, name: 'x' }], raw: true });
  assert.deepEqual([r.status, r.headers.get('content-type')], [502, 'text/html']);
  assert.match(r.text, /<h1>502 Bad Gateway<\/h1>/);

  r = await http(fake, 'POST', '/_fake/faults', { noAuth: true, body: { kind: 'explode' } });
  assert.equal(r.status, 400);

  const s = (await http(fake, 'GET', '/_fake/stats', { noAuth: true })).json;
  assert.equal(s.by_route['POST /rest/v1/rpc/add_them']['503'], 2);
  assert.equal(s.by_route['POST /rest/v1/rpc/add_them']['200'], 1);
  assert.equal(s.by_status['429'], 1);
  assert.deepEqual(s.faults_fired, { status: 3, reset: 1, slow: 1, 'non-json': 1 });
  await post('/rest/v1/things', [{ id: 60, name: 'x' }, { id: 61, name: 'y' }]);
  const s2 = (await http(fake, 'GET', '/_fake/stats', { noAuth: true })).json;
  assert.equal(s2.rows.inserted.things, 2);
  assert.equal(s2.rows_written.things, 2);
  assert.ok(s2.bytes_in > 0 && s2.bytes_out > 0);
});

test('schema cache: new table is 404 until reload (endpoint or NOTIFY pgrst)', async () => {
  await c.query('CREATE TABLE late (id int PRIMARY KEY)');
  let r = await get('/rest/v1/late');
  assert.deepEqual([r.status, r.json.code], [404, 'PGRST205']);
  r = await http(fake, 'POST', '/_fake/reload-schema', { noAuth: true });
  assert.equal(r.status, 200);
  r = await get('/rest/v1/late');
  assert.deepEqual([r.status, r.json], [200, []]);
  await c.query('CREATE TABLE later (id int PRIMARY KEY)');
  await c.query(`NOTIFY pgrst, 'reload schema'`);
  let ok = false;
  for (let i = 0; i < 50 && !ok; i++) {
    await new Promise((res) => setTimeout(res, 50));
    ok = (await get('/rest/v1/later')).status === 200;
  }
  assert.ok(ok, 'NOTIFY pgrst reloaded the schema cache');
});

test('CLI: ready line, keys, --ready-file, SIGTERM exits 0; bad usage exits 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fpcli-'));
  const readyFile = join(dir, 'ready.json');
  const child = spawn(process.execPath, [join(PKG, 'bin', 'fake-postgrest.mjs'), '--port', '0', '--db', db.url,
    '--ready-file', readyFile, '--max-rows', '3', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d) => { buf += d; if (buf.includes('\n')) resolve(buf.split('\n')[0]); });
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
      setTimeout(() => reject(new Error('no ready line')), 10000);
    });
    const ready = JSON.parse(line);
    assert.deepEqual(Object.keys(ready).sort(), ['anon_key', 'pid', 'rest_url', 'schema', 'service_key', 'url']);
    assert.equal(ready.pid, child.pid);
    assert.deepEqual(JSON.parse(readFileSync(readyFile, 'utf8')), ready);
    const r = await fetch(`${ready.url}/rest/v1/things?select=id`, { headers: { apikey: ready.service_key } });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).length, 3, '--max-rows applied');
    const code = await new Promise((resolve) => { child.on('exit', resolve); child.kill('SIGTERM'); });
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  const bad = spawn(process.execPath, [join(PKG, 'bin', 'fake-postgrest.mjs'), '--bogus'], { stdio: 'ignore', env: { ...process.env, PGTEST_DSN: '' } });
  assert.equal(await new Promise((resolve) => bad.on('exit', resolve)), 2);
});

test('keys endpoint and OpenAPI-ish root', async () => {
  const k = (await http(fake, 'GET', '/_fake/keys', { noAuth: true })).json;
  assert.deepEqual(k, { anon_key: fake.anonKey, service_key: fake.serviceKey });
  const root = await get('/rest/v1/');
  assert.equal(root.status, 200);
  assert.ok(root.json.paths['/things'] && root.json.paths['/rpc/progcap_upsert_pull_requests']);
  assert.equal(userRow(1).github_id, 1);
});
