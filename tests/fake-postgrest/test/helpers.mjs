// Shared test helpers: a throwaway PostgreSQL (reuse PGTEST_DSN, else .ci/pg-up.sh on a free port),
// per-test databases, the `progcap db migrate` contract, the in-process fake server and clients.
// If PostgreSQL cannot be started the importing test file FAILS (top-level await throws); nothing
// is ever skipped.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PostgrestClient } from '@supabase/postgrest-js';
import { startFake } from '../src/server.mjs';
import { parseDsn } from '../src/util.mjs';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const PKG = resolve(HERE, '..');
export const REPO = resolve(PKG, '..', '..');
export const MIGRATIONS_DIR = join(REPO, 'packaging', 'sql', 'migrations');
export const FIXTURES = join(HERE, 'fixtures');

// ------------------------------------------------------------------ PostgreSQL
async function portFree(port) {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

let pgEnv = null;

/** Admin DSN of a running server; starts one with .ci/pg-up.sh unless PGTEST_DSN is set. */
export async function getPg() {
  if (pgEnv) return pgEnv;
  if (process.env.PGTEST_DSN) {
    pgEnv = { admin: parseDsn(process.env.PGTEST_DSN), owned: false };
  } else {
    let port = null;
    for (let i = 0; i < 50 && port === null; i++) {
      const p = 56000 + Math.floor(Math.random() * 1000);
      if (await portFree(p)) port = p;
    }
    if (port === null) throw new Error('no free port in 56000-56999 for a throwaway PostgreSQL');
    const up = spawnSync('bash', [join(REPO, '.ci', 'pg-up.sh')], { env: { ...process.env, PGPORT: String(port) }, encoding: 'utf8' });
    if (up.status !== 0) {
      throw new Error(`cannot start PostgreSQL with .ci/pg-up.sh (exit ${up.status}): ${up.stderr || up.stdout}`);
    }
    const vars = {};
    for (const m of up.stdout.matchAll(/(\w+)='([^']*)'/g)) vars[m[1]] = m[2];
    if (!vars.PGTMP || !vars.PGBIN) throw new Error(`unexpected pg-up.sh output: ${up.stdout}`);
    pgEnv = { admin: { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' }, owned: true, vars };
    const stop = () => {
      if (!pgEnv || !pgEnv.owned || pgEnv.stopped) return;
      pgEnv.stopped = true;
      spawnSync('bash', [join(REPO, '.ci', 'pg-down.sh')], { env: { ...process.env, ...pgEnv.vars }, stdio: 'ignore' });
    };
    process.on('exit', stop);
    pgEnv.stop = stop;
  }
  const c = new pg.Client(pgEnv.admin);
  await c.connect(); // throws → the test file fails
  pgEnv.version = (await c.query('SHOW server_version')).rows[0].server_version;
  await c.end();
  return pgEnv;
}

const createdDbs = [];

/** Stop the throwaway server (if we started it) or drop the databases we created in PGTEST_DSN's. */
export async function stopPg() {
  if (!pgEnv) return;
  if (pgEnv.stop) { pgEnv.stop(); return; }
  const c = new pg.Client(pgEnv.admin);
  c.on('error', () => {});
  try {
    await c.connect();
    for (const name of createdDbs.splice(0)) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Create a fresh database; returns {config, url, name}. */
export async function createDb(prefix = 'fp') {
  const env = await getPg();
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const c = new pg.Client(env.admin);
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  createdDbs.push(name);
  await c.end();
  const config = { ...env.admin, database: name };
  const url = `postgres://${encodeURIComponent(config.user)}${config.password ? `:${encodeURIComponent(config.password)}` : ''}@${config.host}:${config.port}/${name}`;
  return { config, url, name };
}

export async function connect(db) {
  const c = new pg.Client(db.config);
  c.on('error', () => {}); // a server stopped under an idle client must not crash the test process
  await c.connect();
  return c;
}

// ------------------------------------------------------------------ migrations
export function migrationFiles() {
  return readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{4}_.*\.sql$/.test(f)).sort();
}

/**
 * The contract of `progcap db migrate` (implemented in C++ elsewhere): tracking table, each
 * not-yet-applied file in ONE transaction, version + checksum recorded. Returns applied versions.
 */
export async function migrate(client) {
  await client.query(`CREATE TABLE IF NOT EXISTS progcap_schema_migrations (
    version text PRIMARY KEY, applied_at timestamptz DEFAULT now(), checksum text)`);
  const done = new Set((await client.query('SELECT version FROM progcap_schema_migrations')).rows.map((r) => r.version));
  const applied = [];
  for (const f of migrationFiles()) {
    const version = f.replace(/\.sql$/, '');
    if (done.has(version)) continue;
    const sql = readFileSync(join(MIGRATIONS_DIR, f), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    await client.query('BEGIN');
    try {
      await client.query(sql);
      await client.query('INSERT INTO progcap_schema_migrations (version, checksum) VALUES ($1, $2)', [version, checksum]);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK');
      throw new Error(`migration ${f} failed: ${e.message}`);
    }
    applied.push(version);
  }
  return applied;
}

/** Execute every migration file again, bypassing the tracking table (idempotency proof). */
export async function rerunAllFiles(client, only = null) {
  for (const f of migrationFiles()) {
    if (only && !only.includes(f.slice(0, 4))) continue;
    await client.query('BEGIN');
    try {
      await client.query(readFileSync(join(MIGRATIONS_DIR, f), 'utf8'));
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK');
      throw new Error(`re-running ${f} failed: ${e.message}`);
    }
  }
}

/** A fingerprint of everything the migrations define (columns, constraints, indexes, functions, views, policies). */
export async function schemaFingerprint(client) {
  const { rows } = await client.query(`
    SELECT x FROM (
      SELECT format('col %s.%s %s notnull=%s default=%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                    a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) AS x
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v')
      UNION ALL
      SELECT format('con %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
      UNION ALL
      SELECT format('idx %s', pg_get_indexdef(indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
      WHERE c.relnamespace = 'public'::regnamespace
      UNION ALL
      SELECT format('fn %s %s %s', p.oid::regprocedure, md5(pg_get_functiondef(p.oid)), p.proacl)
      FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f'
      UNION ALL
      SELECT format('view %s %s', c.relname, md5(pg_get_viewdef(c.oid))) FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
      UNION ALL
      SELECT format('rls %s %s', relname, relrowsecurity) FROM pg_class
      WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
      UNION ALL
      SELECT format('policy %s %s %s', polrelid::regclass, polname, pg_get_expr(polqual, polrelid)) FROM pg_policy
      UNION ALL
      SELECT format('ext %s', extname) FROM pg_extension
    ) s ORDER BY x`);
  return rows.map((r) => r.x);
}

// ------------------------------------------------------------------ fake server + clients
export async function startServer(db, opts = {}) {
  return startFake({ db: db.url, quiet: true, ...opts });
}

export function restClient(fake, key = fake.serviceKey, extraHeaders = {}) {
  return new PostgrestClient(`${fake.url}/rest/v1`, {
    headers: { apikey: key, Authorization: `Bearer ${key}`, ...extraHeaders },
  });
}

/** Raw HTTP helper: returns {status, headers, text, json}. */
export async function http(fake, method, path, { body, headers = {}, key = fake.serviceKey, noAuth = false, raw = false } = {}) {
  const h = { ...headers };
  if (!noAuth) {
    if (!('apikey' in h)) h.apikey = key;
    if (!('Authorization' in h) && !('authorization' in h)) h.Authorization = `Bearer ${key}`;
  }
  if (body !== undefined && !('Content-Type' in h)) h['Content-Type'] = 'application/json';
  const r = await fetch(fake.url + path, {
    method, headers: h, body: body === undefined ? undefined : (typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)),
  });
  const text = await r.text();
  let json;
  if (!raw) { try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; } }
  return { status: r.status, headers: r.headers, text, json };
}

// ------------------------------------------------------------------ sample rows (capture-stream shapes)
export const T0 = '2025-01-02T03:04:05Z';

export function repoRow(gid, extra = {}) {
  return { github_id: gid, full_name: `org/repo${gid}`, owner: 'org', name: `repo${gid}`, description: `repo ${gid}`,
    stargazers_count: gid % 100, default_branch: 'main', is_fork: false, topics: ['a', 'b'], license: 'MIT',
    github_created_at: T0, github_updated_at: T0, github_pushed_at: T0, ...extra };
}

export function userRow(gid, extra = {}) {
  return { github_id: gid, username: `user${gid}`, display_name: null, avatar_url: `https://avatars.example/u/${gid}`,
    profile_url: `https://github.com/user${gid}`, is_bot: false, ...extra };
}

export function prRow(gid, repoGid, number, authorGid, extra = {}) {
  return {
    github_id: gid, repository_github_id: repoGid, repository_full_name: `org/repo${repoGid}`, number, title: `PR ${number}`,
    body: `body of ${number}`, state: 'open', draft: false, merged: false, merged_at: null, merged_by_github_id: null,
    author_github_id: authorGid, base_branch: 'main', head_branch: `feature-${number}`, additions: 10, deletions: 2,
    changed_files: 1, commits: 1, mergeable: true, mergeable_state: 'clean', created_at: T0, updated_at: T0, closed_at: null,
    html_url: `https://github.com/org/repo${repoGid}/pull/${number}`,
    diff_url: `https://github.com/org/repo${repoGid}/pull/${number}.diff`,
    patch_url: `https://github.com/org/repo${repoGid}/pull/${number}.patch`, ...extra,
  };
}

export function reviewRow(gid, prGid, repoGid, authorGid, extra = {}) {
  return { github_id: gid, pull_request_github_id: prGid, repository_github_id: repoGid, author_github_id: authorGid,
    state: 'APPROVED', body: 'lgtm', submitted_at: T0, commit_id: 'c0ffee', ...extra };
}

export function commentRow(gid, prGid, repoGid, commenterGid, extra = {}) {
  return { github_id: gid, comment_type: 'review_comment', pull_request_github_id: prGid, repository_github_id: repoGid,
    commenter_github_id: commenterGid, body: `comment ${gid}`, created_at: T0, updated_at: T0, in_reply_to_github_id: null,
    review_github_id: null, position: 1, original_position: 1, diff_hunk: '@@ -1 +1 @@', path: 'src/x.c',
    commit_id: 'c0ffee', original_commit_id: 'c0ffee', ...extra };
}

export function fileRow(prGid, repoGid, filename, extra = {}) {
  return { pull_request_github_id: prGid, repository_github_id: repoGid, filename, status: 'modified', additions: 3,
    deletions: 1, changes: 4, previous_filename: null, patch: '@@ -1,2 +1,3 @@\n-a\n+b\n+c', ...extra };
}

/** xmin of every row of a table, keyed by a column. */
export async function xmins(client, table, key = 'github_id') {
  const { rows } = await client.query(`SELECT ${key}::text AS k, xmin::text AS x FROM ${table} ORDER BY 1`);
  return Object.fromEntries(rows.map((r) => [r.k, r.x]));
}
