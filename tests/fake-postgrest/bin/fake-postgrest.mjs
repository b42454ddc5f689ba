#!/usr/bin/env node
// Start fake-postgrest. Prints ONE JSON line {"url","pid","anon_key","service_key",...} on stdout
// when ready; exits 0 on SIGTERM/SIGINT. See ../README.md.
import { writeFileSync, renameSync } from 'node:fs';
import { startFake, DEFAULTS, DEFAULT_JWT_SECRET } from '../src/server.mjs';

const USAGE = `usage: node tests/fake-postgrest/bin/fake-postgrest.mjs --db DSN [options]
  --db DSN                    postgres://user@host:port/db or libpq "host=... port=..." (required;
                              PGTEST_DSN is used when --db is absent)
  --port N                    listen port, 0 = pick a free one                        [0]
  --host H                    listen address                                           [127.0.0.1]
  --schema S                  exposed schema (db-schemas)                              [public]
  --jwt-secret SECRET         HS256 secret for apikey/Bearer tokens                    [${DEFAULT_JWT_SECRET}]
  --anon-key KEY              accepted anon key (default: minted from the secret)
  --service-key KEY           accepted service_role key (default: minted from the secret)
  --max-body-bytes N          413 above N request-body bytes, 0 = unlimited           [0]
  --max-rows N                db-max-rows cap for reads, 0 = unlimited                [1000]
  --statement-timeout-ms N    SET LOCAL statement_timeout per request                  [8000]
  --pool-size N               PostgreSQL connections                                   [10]
  --pool-timeout-ms N         wait for a free connection before 504 PGRST003           [10000]
  --no-apikey                 bare PostgREST: no apikey check, no Authorization = anon
  --no-safeupdate             allow PATCH/DELETE without filters (Supabase refuses them)
  --legacy-21000-400          map SQLSTATE 21000 to 400 like PostgREST < 12.0.3 (default 500)
  --faults JSON               initial fault rules (see README)
  --ready-file PATH           also write the ready JSON line to PATH (atomically)
  --quiet                     no diagnostics on stderr
  --help`;

const NUM = new Set(['port', 'maxBodyBytes', 'maxRows', 'statementTimeoutMs', 'poolSize', 'poolTimeoutMs']);
const camel = (s) => s.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    let val;
    const eq = a.indexOf('=');
    if (eq > 0) { val = a.slice(eq + 1); a = a.slice(0, eq); }
    const key = camel(a.slice(2));
    if (key === 'help') { o.help = true; continue; }
    if (key === 'quiet') { o.quiet = true; continue; }
    if (key === 'noApikey') { o.requireApikey = false; continue; }
    if (key === 'noSafeupdate') { o.safeupdate = false; continue; }
    if (key === 'legacy21000400') { o.legacy21000 = true; continue; }
    if (val === undefined) {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      val = argv[++i];
    }
    if (NUM.has(key)) {
      const n = Number(val);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a}: not a non-negative integer: ${val}`);
      o[key] = n;
      continue;
    }
    if (key === 'faults') { o.faults = JSON.parse(val); continue; }
    if (!(key in DEFAULTS) && key !== 'readyFile') throw new Error(`unknown option ${a}`);
    o[key] = val;
  }
  return o;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`fake-postgrest: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!opts.db) opts.db = process.env.PGTEST_DSN;
if (!opts.db) {
  process.stderr.write(`fake-postgrest: --db is required (or set PGTEST_DSN)\n${USAGE}\n`);
  process.exit(2);
}

let fake;
try {
  const { faults: initialFaults, readyFile, ...rest } = opts;
  fake = await startFake(rest);
  if (initialFaults) fake.faults.add(initialFaults);
  const ready = JSON.stringify({ url: fake.url, pid: process.pid, anon_key: fake.anonKey, service_key: fake.serviceKey,
    schema: fake.schema, rest_url: `${fake.url}/rest/v1` });
  if (readyFile) {
    writeFileSync(`${readyFile}.tmp`, `${ready}\n`);
    renameSync(`${readyFile}.tmp`, readyFile);
  }
  process.stdout.write(`${ready}\n`);
} catch (e) {
  process.stderr.write(`fake-postgrest: failed to start: ${e.message}\n`);
  process.exit(1);
}

let stopping = false;
async function stop(sig) {
  if (stopping) return;
  stopping = true;
  try {
    await fake.close();
  } catch (e) {
    process.stderr.write(`fake-postgrest: error while stopping (${sig}): ${e.message}\n`);
  }
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
