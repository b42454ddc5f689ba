// The command-line entry points: bin/fake-github.mjs and validate-query.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TOKEN } from './helpers.mjs';

const BIN = join(ROOT, 'bin', 'fake-github.mjs');

test('starts with --port 0, prints one JSON line, writes the ready file, exits 0 on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fakegh-'));
  const ready = join(dir, 'ready.json');
  const child = spawn(process.execPath, [BIN, '--port', '0', '--dataset', 'small', '--seed', '3', '--now', '2026-11-29T00:00:00Z', '--token', 'ghp_x', '--token', TOKEN, '--ready-file', ready, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no ready line')), 15000);
    child.stdout.on('data', () => { if (out.includes('\n')) { clearTimeout(t); resolve(); } });
  });
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 1);
  const info = JSON.parse(lines[0]);
  assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(info.pid, child.pid);
  assert.ok(existsSync(ready));
  assert.deepEqual(JSON.parse(readFileSync(ready, 'utf8')), info);
  const r = await fetch(`${info.url}/repos/acme/widgets/pulls/1`, { headers: { authorization: 'token ghp_x' } });
  assert.equal(r.status, 200);
  const exit = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  child.kill('SIGTERM');
  assert.deepEqual(await exit, { code: 0, sig: null });
});

test('bad options exit 2 with usage', () => {
  const r = spawnSync(process.execPath, [BIN, '--bogus', '1'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option --bogus/);
});

test('validate-query.mjs: valid / INVALID, exit codes, stdin', () => {
  const q = (f) => join(ROOT, 'test', 'queries', f);
  const ok = spawnSync(process.execPath, [join(ROOT, 'validate-query.mjs'), q('pr-page.graphql')], { encoding: 'utf8' });
  assert.equal(ok.status, 0);
  assert.equal(ok.stdout.trim(), `${q('pr-page.graphql')}: valid`);
  const bad = spawnSync(process.execPath, [join(ROOT, 'validate-query.mjs'), q('pr-page.graphql'), q('bad-review-comments.graphql'), q('too-many.graphql')], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /bad-review-comments\.graphql: INVALID\n {2}- Field 'reviewComments' doesn't exist on type 'PullRequest'/);
  assert.match(bad.stdout, /too-many\.graphql: INVALID\n {2}- Requesting 1000 records/);
  const stdin = spawnSync(process.execPath, [join(ROOT, 'validate-query.mjs'), '-'], { input: '{ viewer { login titel } }', encoding: 'utf8' });
  assert.equal(stdin.status, 1);
  assert.match(stdin.stdout, /<stdin>: INVALID/);
});
