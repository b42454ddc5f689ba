// Bulk-upsert throughput: fake-postgrest (HTTP → PostgREST-shaped SQL) versus node-postgres
// talking to PostgreSQL directly. Uses PGTEST_DSN or starts a throwaway server (.ci/pg-up.sh).
//   node bench/upsert-bench.mjs [--rows 10000] [--repeat 3]
import { performance } from 'node:perf_hooks';
import {
  getPg, stopPg, createDb, connect, migrate, startServer, userRow, repoRow, prRow,
} from '../test/helpers.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('rows', 10000);
const REPEAT = arg('repeat', 3);

const env = await getPg();
const db = await createDb('bench');
const c = await connect(db);
await migrate(c);
const fake = await startServer(db, { statementTimeoutMs: 120000, maxRows: 0 });
const hdr = { apikey: fake.serviceKey, Authorization: `Bearer ${fake.serviceKey}`, 'Content-Type': 'application/json' };

const users = (k) => Array.from({ length: N }, (_, i) => userRow(1_000_000 + i, { display_name: `round ${k} user ${i}` }));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function viaHttp(rows, batch) {
  for (let i = 0; i < rows.length; i += batch) {
    const body = JSON.stringify(rows.slice(i, i + batch));
    const r = await fetch(`${fake.url}/rest/v1/contributors?on_conflict=github_id`, {
      method: 'POST', headers: { ...hdr, Prefer: 'resolution=merge-duplicates,return=minimal' }, body,
    });
    if (r.status !== 201 && r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
    await r.arrayBuffer();
  }
}

// the statement fake-postgrest (and PostgREST) runs, sent directly
const COLS = ['avatar_url', 'display_name', 'github_id', 'is_bot', 'profile_url', 'username'];
const PGRST_SQL = `INSERT INTO "public"."contributors"(${COLS.map((x) => `"${x}"`).join(', ')}) ` +
  `SELECT ${COLS.map((x) => `pgrst_body."${x}"`).join(', ')} FROM (SELECT $1::json AS json_data) pgrst_payload, ` +
  `LATERAL (SELECT ${COLS.map((x) => `"${x}"`).join(', ')} FROM json_to_recordset(pgrst_payload.json_data) AS _("avatar_url" text, ` +
  `"display_name" text, "github_id" bigint, "is_bot" boolean, "profile_url" text, "username" text)) pgrst_body ` +
  `ON CONFLICT("github_id") DO UPDATE SET ${COLS.map((x) => `"${x}" = EXCLUDED."${x}"`).join(', ')}`;

async function viaPgJson(rows, batch) {
  for (let i = 0; i < rows.length; i += batch) {
    await c.query('BEGIN');
    await c.query(PGRST_SQL, [JSON.stringify(rows.slice(i, i + batch))]);
    await c.query('COMMIT');
  }
}

async function viaPgValues(rows, batch) {
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const params = [];
    const tuples = chunk.map((r) => {
      const base = params.length;
      params.push(r.avatar_url, r.display_name, r.github_id, r.is_bot, r.profile_url, r.username);
      return `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5}, $${base + 6})`;
    });
    await c.query('BEGIN');
    await c.query(`INSERT INTO contributors (avatar_url, display_name, github_id, is_bot, profile_url, username) VALUES ${tuples.join(', ')} ` +
      `ON CONFLICT (github_id) DO UPDATE SET ${COLS.map((x) => `${x} = EXCLUDED.${x}`).join(', ')}`, params);
    await c.query('COMMIT');
  }
}

const results = [];
async function scenario(name, fn, batch) {
  const fresh = [];
  const upd = [];
  for (let k = 0; k < REPEAT; k++) {
    await c.query('TRUNCATE contributors CASCADE');
    fresh.push(await timed(() => fn(users(`a${k}`), batch)));
    upd.push(await timed(() => fn(users(`b${k}`), batch)));
  }
  const n = (await c.query('SELECT count(*)::int AS n FROM contributors')).rows[0].n;
  if (n !== N) throw new Error(`${name}: expected ${N} rows, found ${n}`);
  results.push({ scenario: name, batch, 'insert rows/s': Math.round(N / (median(fresh) / 1000)),
    'upsert rows/s': Math.round(N / (median(upd) / 1000)), 'insert ms': Math.round(median(fresh)), 'upsert ms': Math.round(median(upd)) });
}

await scenario('fake-postgrest POST (1 request)', viaHttp, N);
await scenario('fake-postgrest POST (1000/request)', viaHttp, 1000);
await scenario('pg: PostgREST statement, direct', viaPgJson, N);
await scenario('pg: multi-row VALUES, 1000/stmt', viaPgValues, 1000);

// resolver path: 10k pull requests through the RPC vs. the same function called over pg
await c.query('TRUNCATE repositories, contributors CASCADE');
await c.query('SELECT progcap_upsert_repositories($1::jsonb)', [JSON.stringify([repoRow(1)])]);
await c.query('SELECT progcap_upsert_contributors($1::jsonb)', [JSON.stringify(Array.from({ length: 100 }, (_, i) => userRow(10 + i)))]);
const prs = (k) => Array.from({ length: N }, (_, i) => prRow(5_000_000 + i, 1, i + 1, 10 + (i % 100), { title: `${k} PR ${i}` }));
async function rpcHttp(rows) {
  const r = await fetch(`${fake.url}/rest/v1/rpc/progcap_upsert_pull_requests`, { method: 'POST', headers: hdr, body: JSON.stringify({ rows }) });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  return r.json();
}
async function rpcPg(rows) {
  return (await c.query('SELECT progcap_upsert_pull_requests($1::jsonb) AS r', [JSON.stringify(rows)])).rows[0].r;
}
for (const [name, fn] of [['RPC progcap_upsert_pull_requests via fake-postgrest', rpcHttp], ['progcap_upsert_pull_requests via pg', rpcPg]]) {
  const t = { fresh: [], changed: [], unchanged: [] };
  for (let k = 0; k < REPEAT; k++) {
    await c.query('TRUNCATE pull_requests CASCADE');
    t.fresh.push(await timed(() => fn(prs(`a${k}`))));
    t.changed.push(await timed(() => fn(prs(`b${k}`))));
    t.unchanged.push(await timed(() => fn(prs(`b${k}`))));
  }
  const rate = (xs) => Math.round(N / (median(xs) / 1000));
  results.push({ scenario: name, batch: N, 'insert rows/s': rate(t.fresh), 'upsert rows/s': rate(t.changed),
    'unchanged rows/s': rate(t.unchanged), 'insert ms': Math.round(median(t.fresh)), 'upsert ms': Math.round(median(t.changed)) });
}

console.log(`PostgreSQL ${env.version}, ${N} rows, median of ${REPEAT}; pg-up.sh settings (fsync=off) unless PGTEST_DSN`);
console.table(results);
console.log(JSON.stringify(results));
await fake.close();
await c.end();
await stopPg();
