#!/usr/bin/env node
// Start the fake GitHub server. Prints one JSON line {"url":..., "pid":...} when listening.
// See ../README.md for every option.
import { writeFileSync, renameSync, readFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
// graphql-js skips its development-mode instanceof checks in production mode (noticeably faster)
if (!process.env.NODE_ENV) process.env.NODE_ENV = 'production';
const { createFake, DEFAULTS } = await import('../src/server.mjs');

const USAGE = `usage: node tests/fake-github/bin/fake-github.mjs [options]
  --port N                    listen port (0 = pick a free one)            [0]
  --host H                    listen address                              [127.0.0.1]
  --seed N                    PRNG seed                                   [42]
  --dataset standard|small|bench                                          [standard]
  --repos N / --prs M         override repository / PR counts
  --now ISO                   pin the dataset clock (e.g. 2026-11-29T00:00:00Z)
  --latency-ms N              added latency per API request               [0]
  --budget N                  REST (core) requests per window             [5000]
  --graphql-budget N          GraphQL points per window                   [5000]
  --search-budget N           search requests per window                  [30]
  --reset-seconds N           rate-limit window length                    [3600]
  --ratelimit-status 403|429  status when the primary limit is exhausted  [403]
  --token TOKEN               accepted PAT (repeatable; replaces the default token)
  --privileged-token TOKEN    PAT that can also see private repos (repeatable)
  --allow-anonymous           accept requests without Authorization (60/h, public only)
  --app-id N                  GitHub App id                               [12345]
  --app-public-key PATH       PEM public key for JWT verification         [keys/test-app.pub.pem]
  --installation-token-ttl S  lifetime of minted installation tokens      [3600]
  --workflows-dir DIR         *.yml workflows for workflow_dispatch
  --graphql-timeout-nodes N   answer 502 when a query's nodeCount exceeds N (0 = off) [0]
  --graphql-timeout-ms N      delay before a GraphQL timeout 502          [10000]
  --secondary-concurrency N   secondary-limit 403 above N in-flight requests (0 = off) [0]
  --secondary-retry-after S   retry-after for that 403                    [60]
  --link-style repositories|repos   Link header URL style               [repositories]
  --faults JSON|@file         initial fault rules
  --log-limit N               request-log ring size                       [100000]
  --no-response-cache         disable the serialised-response cache
  --ready-file PATH           also write the ready JSON there (atomically)
  --quiet                     no diagnostics on stderr
  --help`;

const NUM = new Set(['port', 'seed', 'repos', 'prs', 'latencyMs', 'budget', 'graphqlBudget', 'searchBudget', 'resetSeconds',
  'appId', 'installationTokenTtl', 'graphqlTimeoutNodes', 'graphqlTimeoutMs', 'secondaryConcurrency', 'secondaryRetryAfter',
  'logLimit', 'ratelimitStatus']);
const BOOL = new Set(['allowAnonymous', 'quiet', 'help']);
const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

function parseArgs(argv) {
  const o = { tokens: [], privilegedTokens: [] };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    let val;
    const eq = a.indexOf('=');
    if (eq > 0) { val = a.slice(eq + 1); a = a.slice(0, eq); }
    let key = camel(a.slice(2));
    if (key === 'noResponseCache') { o.responseCache = false; continue; }
    if (BOOL.has(key)) { o[key] = val === undefined ? true : val !== 'false'; continue; }
    if (val === undefined) {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      val = argv[++i];
    }
    if (key === 'token') { o.tokens.push(val); continue; }
    if (key === 'privilegedToken') { o.privilegedTokens.push(val); continue; }
    if (key === 'faults') { o.faults = JSON.parse(val.startsWith('@') ? readFileSync(val.slice(1), 'utf8') : val); continue; }
    if (NUM.has(key)) {
      const n = Number(val);
      if (!Number.isFinite(n)) throw new Error(`${a}: not a number: ${val}`);
      o[key] = n;
      continue;
    }
    if (!(key in DEFAULTS) && !['now', 'readyFile', 'ratelimitStatus'].includes(key)) throw new Error(`unknown option ${a}`);
    o[key] = val;
  }
  if (o.ratelimitStatus !== undefined) { o.rateLimitStatus = o.ratelimitStatus; delete o.ratelimitStatus; }
  if (!o.tokens.length) delete o.tokens;
  if (o.now !== undefined && Number.isNaN(Date.parse(o.now))) throw new Error(`--now: invalid time ${o.now}`);
  if (o.dataset && !['standard', 'small', 'bench'].includes(o.dataset)) throw new Error(`--dataset must be standard|small|bench`);
  return o;
}

let opts;
try { opts = parseArgs(process.argv.slice(2)); } catch (e) {
  process.stderr.write(`fake-github: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.help) { process.stdout.write(`${USAGE}\n`); process.exit(0); }
const readyFile = opts.readyFile;
delete opts.readyFile;

let fake;
try {
  fake = createFake(opts);
} catch (e) {
  process.stderr.write(`fake-github: startup failed: ${e.message}\n`);
  process.exit(1);
}
const url = await fake.listen().catch((e) => {
  process.stderr.write(`fake-github: listen failed: ${e.message}\n`);
  process.exit(1);
});
const ready = JSON.stringify({ url, pid: process.pid });
if (readyFile) {
  const tmp = join(dirname(readyFile), `.${basename(readyFile)}.${process.pid}.tmp`);
  writeFileSync(tmp, `${ready}\n`);
  renameSync(tmp, readyFile);
}
process.stdout.write(`${ready}\n`);
if (!opts.quiet) process.stderr.write(`fake-github: ${opts.dataset || 'standard'} dataset generated in ${fake.state.ds.genMs} ms; listening on ${url}\n`);

let stopping = false;
const stop = (sig) => {
  if (stopping) return;
  stopping = true;
  if (!opts.quiet) process.stderr.write(`fake-github: ${sig}, shutting down\n`);
  const t = setTimeout(() => process.exit(0), 2000);
  t.unref();
  fake.close().then(() => process.exit(0));
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
