// packaging/sql/migrations: empty database (twice: second run is a no-op) and an existing
// contributor.info database at its initial 2024 schema (only missing parts are added, rows survive).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  getPg, stopPg, createDb, connect, migrate, rerunAllFiles, schemaFingerprint, migrationFiles, FIXTURES, MIGRATIONS_DIR, xmins,
} from './helpers.mjs';

await getPg();
after(() => stopPg());

const DDL_LOG = `
  CREATE TABLE IF NOT EXISTS progcap_test_ddl_log (tag text, identity text, schema_name text);
  CREATE OR REPLACE FUNCTION progcap_test_log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
  DECLARE r record;
  BEGIN
    FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
      INSERT INTO progcap_test_ddl_log VALUES (r.command_tag, r.object_identity, r.schema_name);
    END LOOP;
  END $$;
  DROP EVENT TRIGGER IF EXISTS progcap_test_log_ddl;
  CREATE EVENT TRIGGER progcap_test_log_ddl ON ddl_command_end EXECUTE FUNCTION progcap_test_log_ddl();`;
const DROP_DDL_LOG = `DROP EVENT TRIGGER IF EXISTS progcap_test_log_ddl; DROP FUNCTION IF EXISTS progcap_test_log_ddl();
  DROP TABLE IF EXISTS progcap_test_ddl_log;`;

async function ddlDuring(client, fn) {
  await client.query(DDL_LOG);
  await client.query('TRUNCATE progcap_test_ddl_log');
  await fn();
  const { rows } = await client.query(
    `SELECT tag, identity FROM progcap_test_ddl_log WHERE schema_name IS NULL OR schema_name NOT LIKE 'pg_temp%' ORDER BY 1, 2`);
  await client.query(DROP_DDL_LOG);
  return rows;
}

async function allXmins(client) {
  const out = {};
  for (const t of ['repositories', 'contributors', 'pull_requests', 'reviews', 'comments']) out[t] = await xmins(client, t);
  return out;
}

test('migration files are named NNNN_*.sql and contain no transaction control', () => {
  const files = migrationFiles();
  assert.deepEqual(files, ['0001_contributor_info_core.sql', '0002_pull_request_files.sql', '0003_progcap_resolvers.sql',
    '0004_progcap_job_queue.sql']);
  for (const f of files) {
    const sql = readFileSync(join(MIGRATIONS_DIR, f), 'utf8');
    assert.doesNotMatch(sql, /^\s*(BEGIN|COMMIT|ROLLBACK)\s*;/im, `${f} must not manage transactions`);
    assert.doesNotMatch(sql, /CONCURRENTLY/i, `${f} must run inside a transaction`);
  }
});

test('empty database: all migrations apply, a second run is a no-op', async () => {
  const db = await createDb('mig_empty');
  const c = await connect(db);
  try {
    assert.deepEqual(await migrate(c), ['0001_contributor_info_core', '0002_pull_request_files', '0003_progcap_resolvers',
      '0004_progcap_job_queue']);
    const recorded = await c.query('SELECT version, length(checksum) AS n FROM progcap_schema_migrations ORDER BY 1');
    assert.deepEqual(recorded.rows.map((r) => [r.version, r.n]),
      [['0001_contributor_info_core', 64], ['0002_pull_request_files', 64], ['0003_progcap_resolvers', 64],
        ['0004_progcap_job_queue', 64]]);

    const tables = (await c.query(`SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1`)).rows.map((r) => r.relname);
    assert.deepEqual(tables, ['comments', 'contributors', 'issues', 'progcap_pending_replies', 'progcap_schema_migrations', 'progressive_capture_jobs',
      'pull_request_files', 'pull_requests', 'repositories', 'reviews']);

    // the documented production shape
    const col = async (t, name) => (await c.query(
      `SELECT format_type(atttypid, atttypmod) AS type, attnotnull AS nn, pg_get_expr(d.adbin, d.adrelid) AS def
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped`, [t, name])).rows[0];
    assert.deepEqual(await col('pull_requests', 'repository_full_name'), { type: 'text', nn: true, def: null });
    assert.deepEqual(await col('pull_requests', 'author_id'), { type: 'uuid', nn: false, def: null });
    assert.deepEqual(await col('pull_requests', 'author_github_id'), { type: 'bigint', nn: false, def: null });
    assert.deepEqual(await col('pull_requests', 'base_branch'), { type: 'text', nn: true, def: "'main'::text" });
    assert.deepEqual(await col('reviews', 'author_id'), { type: 'uuid', nn: true, def: null });
    assert.deepEqual(await col('reviews', 'reviewer_id'), { type: 'uuid', nn: false, def: null });
    assert.deepEqual(await col('comments', 'pull_request_id'), { type: 'uuid', nn: false, def: null });
    assert.deepEqual(await col('comments', 'repository_id'), { type: 'uuid', nn: true, def: null });
    assert.deepEqual(await col('comments', 'in_reply_to_id'), { type: 'uuid', nn: false, def: null });
    assert.deepEqual(await col('progressive_capture_jobs', 'processor_type'),
      { type: 'character varying(20)', nn: true, def: "'github_actions'::character varying" });
    assert.deepEqual(await col('progressive_capture_jobs', 'metadata'), { type: 'jsonb', nn: false, def: "'{}'::jsonb" });
    // spec §3.6 has no updated_at; migration 0004 (job queue) adds it
    assert.deepEqual(await col('progressive_capture_jobs', 'updated_at'), { type: 'timestamp with time zone', nn: false, def: 'now()' });
    assert.deepEqual(await col('contributors', 'id'), { type: 'uuid', nn: true, def: 'gen_random_uuid()' });

    const cons = (await c.query(`SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`)).rows;
    const def = (t, n) => (cons.find((x) => x.t === t && x.conname === n) || {}).def;
    assert.match(def('pull_requests', 'pull_requests_state_check'), /'open'.*'closed'.*'merged'/);
    assert.equal(def('pull_requests', 'pull_requests_repo_number_key'), 'UNIQUE (repository_id, number)');
    assert.equal(def('pull_requests', 'pull_requests_github_id_key'), 'UNIQUE (github_id)');
    assert.match(def('comments', 'comments_pr_or_issue_check'), /pull_request_id IS NOT NULL\) AND \(issue_id IS NULL/);
    assert.equal(def('comments', 'comments_in_reply_to_id_fkey'), 'FOREIGN KEY (in_reply_to_id) REFERENCES comments(id)');
    assert.equal(def('comments', 'comments_issue_id_fkey'), 'FOREIGN KEY (issue_id) REFERENCES issues(id) ON DELETE CASCADE');
    assert.match(def('comments', 'comments_comment_type_check'), /issue_comment.*review_comment/);
    assert.equal(def('pull_request_files', 'pull_request_files_pr_filename_key'), 'UNIQUE (pull_request_id, filename)');
    assert.equal(def('pull_request_files', 'pull_request_files_pull_request_id_fkey'),
      'FOREIGN KEY (pull_request_id) REFERENCES pull_requests(id) ON DELETE CASCADE');
    assert.equal(def('progressive_capture_jobs', 'progressive_capture_jobs_repository_id_fkey'),
      'FOREIGN KEY (repository_id) REFERENCES repositories(id) DEFERRABLE INITIALLY DEFERRED');
    const idx = (await c.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'progressive_capture_jobs' ORDER BY 1`)).rows.map((r) => r.indexname);
    assert.deepEqual(idx, ['idx_capture_jobs_processor', 'idx_capture_jobs_repository', 'idx_capture_jobs_status',
      'idx_capture_jobs_workflow_run',
      'progcap_jobs_claim_idx', 'progcap_jobs_idempotency_key', 'progcap_jobs_lease_idx', 'progcap_jobs_parent_idx', // 0004
      'progressive_capture_jobs_pkey']);
    const view = await c.query('SELECT * FROM progressive_capture_stats');
    assert.deepEqual(view.fields.map((f) => f.name), ['processor_type', 'status', 'count', 'oldest_job', 'newest_job', 'avg_duration_minutes']);

    // second run through the runner: nothing to apply
    const before = await schemaFingerprint(c);
    assert.deepEqual(await migrate(c), []);
    // second run of the FILES themselves (bypassing the tracking table): no DDL from 0001/0002,
    // identical catalog afterwards (0003 re-creates identical functions)
    const ddl = await ddlDuring(c, () => rerunAllFiles(c, ['0001', '0002']));
    assert.deepEqual(ddl, [], `0001/0002 executed DDL on a second run: ${JSON.stringify(ddl)}`);
    await rerunAllFiles(c);
    assert.deepEqual(await schemaFingerprint(c), before);
  } finally {
    await c.end();
  }
});

test('existing contributor.info 2024 database: only missing parts are added, rows survive', async () => {
  const db = await createDb('mig_2024');
  const c = await connect(db);
  try {
    await c.query(readFileSync(join(FIXTURES, 'contributor_info_2024.sql'), 'utf8'));
    const snapshot = async () => ({
      repositories: (await c.query('SELECT * FROM repositories ORDER BY github_id')).rows,
      contributors: (await c.query('SELECT * FROM contributors ORDER BY github_id')).rows,
      pull_requests: (await c.query('SELECT * FROM pull_requests ORDER BY github_id')).rows,
      reviews: (await c.query('SELECT * FROM reviews ORDER BY github_id')).rows,
      comments: (await c.query('SELECT * FROM comments ORDER BY github_id')).rows,
    });
    const before = await snapshot();
    const beforeCons = (await c.query(`SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace`)).rows;
    const beforeIdx = (await c.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`)).rows;

    const ddl = await ddlDuring(c, async () => { await migrate(c); });
    const after1 = await snapshot();

    // every pre-existing row keeps every pre-existing value
    for (const t of Object.keys(before)) {
      assert.equal(after1[t].length, before[t].length, `${t}: row count`);
      for (let i = 0; i < before[t].length; i++) {
        for (const [k, v] of Object.entries(before[t][i])) {
          assert.deepEqual(after1[t][i][k], v, `${t}[${i}].${k} changed`);
        }
      }
    }
    // back-fills done like the upstream migrations
    assert.deepEqual(after1.pull_requests.map((r) => [r.github_id, r.repository_full_name, r.author_github_id, r.repository_github_id]),
      [['9001', 'octo-org/hello', '501', '1001'], ['9002', 'octo-org/hello', '502', '1001']]);
    assert.deepEqual(after1.reviews.map((r) => [r.github_id, r.author_id === r.reviewer_id, r.repository_id]),
      [['7001', true, '10000000-0000-4000-8000-000000000001'], ['7002', true, '10000000-0000-4000-8000-000000000001']]);
    assert.deepEqual(after1.comments.map((r) => [r.github_id, r.repository_id, r.issue_id, r.original_commit_id]),
      [['8001', '10000000-0000-4000-8000-000000000001', null, null], ['8002', '10000000-0000-4000-8000-000000000001', null, null],
        ['8003', '10000000-0000-4000-8000-000000000001', null, null]]);
    const nn = async (t, col) => (await c.query('SELECT attnotnull FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2', [t, col])).rows[0].attnotnull;
    assert.equal(await nn('pull_requests', 'repository_full_name'), true, 'back-filled then NOT NULL');
    assert.equal(await nn('reviews', 'author_id'), true);
    assert.equal(await nn('reviews', 'repository_id'), true);
    assert.equal(await nn('comments', 'repository_id'), true);
    assert.equal(await nn('comments', 'pull_request_id'), false, 'dropped with issue_id added (upstream 20250120000004)');
    // existing definitions untouched (deviation D6: narrower state CHECK kept; NOT NULL author kept)
    assert.equal(await nn('pull_requests', 'author_id'), true);
    assert.equal(await nn('reviews', 'reviewer_id'), true);
    assert.equal(await nn('comments', 'commenter_id'), true);
    const afterCons = (await c.query(`SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace`)).rows;
    for (const b of beforeCons) {
      assert.ok(afterCons.some((a) => a.t === b.t && a.conname === b.conname && a.def === b.def), `constraint ${b.t}.${b.conname} changed`);
    }
    const defaults = (await c.query(`SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'contributors'::regclass AND adnum = 1`)).rows[0].d;
    assert.equal(defaults, 'uuid_generate_v4()', 'existing id defaults kept');
    // no duplicate uniques / FKs / indexes: one per column set
    const dupes = (await c.query(`
      SELECT conrelid::regclass::text AS t, contype, conkey::text, confrelid::regclass::text AS ref, count(*)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('u', 'f', 'p')
      GROUP BY 1, 2, 3, 4 HAVING count(*) > 1`)).rows;
    assert.deepEqual(dupes, []);
    const dupIdx = (await c.query(`
      SELECT indrelid::regclass::text AS t, indkey::text, (indpred IS NOT NULL) AS partial, count(*)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace
      GROUP BY 1, 2, 3 HAVING count(*) > 1`)).rows;
    // the 2024 schema itself already had idx_contributors_username/github_id next to the unique
    // indexes and idx_repositories_full_name next to repositories_full_name_key: those are its own
    const preexisting = new Set(beforeIdx.map((r) => r.indexname));
    for (const d of dupIdx) {
      const names = (await c.query(`SELECT indexrelid::regclass::text AS n FROM pg_index WHERE indrelid = $1::regclass AND indkey::text = $2`, [d.t, d.indkey])).rows.map((r) => r.n);
      const added = names.filter((n) => !preexisting.has(n));
      assert.ok(added.length === 0, `migration added a duplicate index on ${d.t}(${d.indkey}): ${added}`);
    }
    assert.equal(await nn('pull_requests', 'state'), true);
    assert.match(afterCons.find((x) => x.t === 'pull_requests' && x.conname === 'pull_requests_state_check').def, /^CHECK \(\(state = ANY \(ARRAY\['open'::text, 'closed'::text\]\)\)\)$/);

    // what the upgrade executed: only ALTER TABLE ... ADD/SET/DROP NOT NULL, CREATE TABLE for the
    // missing tables, CREATE INDEX/VIEW/FUNCTION for missing ones — never a DROP or a table rewrite
    const tags = [...new Set(ddl.map((r) => r.tag))].sort();
    assert.deepEqual(tags.filter((t) => !['ALTER TABLE', 'CREATE EXTENSION', 'CREATE FUNCTION', 'CREATE INDEX', 'CREATE POLICY', 'CREATE TABLE',
      'CREATE VIEW', 'REVOKE', 'COMMENT', 'GRANT'].includes(t)), []);
    const created = ddl.filter((r) => r.tag === 'CREATE TABLE' && r.identity !== 'public.progcap_schema_migrations').map((r) => r.identity).sort();
    assert.deepEqual(created, ['public.issues', 'public.progcap_pending_replies', 'public.progressive_capture_jobs', 'public.pull_request_files']);

    // the old view still works
    const stats = await c.query('SELECT username, total_pull_requests::int, total_reviews::int, total_comments::int FROM contributor_stats ORDER BY username');
    assert.deepEqual(stats.rows.map((r) => [r.username, r.total_pull_requests, r.total_reviews, r.total_comments]),
      [['alice', 1, 1, 1], ['bob', 1, 1, 1]]);

    // a second run changes nothing: same catalog, no row rewritten, no DDL from 0001/0002
    const fp = await schemaFingerprint(c);
    const xm = await allXmins(c);
    assert.deepEqual(await migrate(c), []);
    const ddl2 = await ddlDuring(c, () => rerunAllFiles(c, ['0001', '0002']));
    assert.deepEqual(ddl2, []);
    await rerunAllFiles(c);
    assert.deepEqual(await schemaFingerprint(c), fp);
    assert.deepEqual(await allXmins(c), xm);
  } finally {
    await c.end();
  }
});

test('upgraded 2024 database and fresh database expose the same progcap-relevant columns', async () => {
  const fresh = await createDb('mig_cmp_a');
  const old = await createDb('mig_cmp_b');
  const a = await connect(fresh);
  const b = await connect(old);
  try {
    await migrate(a);
    await b.query(readFileSync(join(FIXTURES, 'contributor_info_2024.sql'), 'utf8'));
    await migrate(b);
    const cols = async (cl) => (await cl.query(`
      SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) AS x
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1`)).rows.map((r) => r.x);
    assert.deepEqual(await cols(b), await cols(a));
  } finally {
    await a.end();
    await b.end();
  }
});
