// Checks the GitHub Actions workflows in packaging/github-actions against the
// job system's dispatch contract in pipelines/jobs/jobs.yaml (capture spec P18:
// GitHub answers 422 to a dispatch whose inputs the workflow does not declare).
//   node check-workflow-inputs.mjs JOBS_YAML WORKFLOW_DIR
// Fails (exit 1) unless:
//   - every job type with `workflow:` has that file in WORKFLOW_DIR, and every
//     *.yml/*.yaml there is the workflow of some job type;
//   - each workflow's on.workflow_dispatch.inputs keys equal the job type's
//     `inputs` list, every input is `type: string` with a description (dispatch
//     sends strings), repository_name is required and every other input is
//     optional with a string default;
//   - no run: script interpolates ${{ ... }} (script injection: values go
//     through env:);
//   - the workflow has a concurrency group naming inputs.repository_name with
//     cancel-in-progress: false, and every job sets timeout-minutes.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

const [jobsFile, dir] = process.argv.slice(2);
if (!jobsFile || !dir) {
  console.error('usage: node check-workflow-inputs.mjs JOBS_YAML WORKFLOW_DIR');
  process.exit(2);
}
const errors = [];
const fail = (where, msg) => errors.push(`${where}: ${msg}`);
const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

const jobs = YAML.parse(readFileSync(jobsFile, 'utf8'));
const types = jobs?.job_types;
if (!types || typeof types !== 'object') {
  console.error(`${jobsFile}: no job_types`);
  process.exit(1);
}

const referenced = new Set();
let checked = 0;
for (const [type, def] of Object.entries(types)) {
  if (!def?.workflow) continue;
  const where = `job type ${type} -> ${def.workflow}`;
  referenced.add(def.workflow);
  const expected = def.inputs ?? [];
  if (!Array.isArray(expected)) { fail(where, 'inputs in jobs.yaml is not a list'); continue; }
  if (new Set(expected).size !== expected.length) fail(where, `jobs.yaml lists an input twice: ${expected.join(', ')}`);
  const file = path.join(dir, def.workflow);
  if (!existsSync(file)) { fail(where, `workflow file ${file} does not exist`); continue; }
  let wf;
  try {
    wf = YAML.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    fail(file, `not valid YAML: ${e.message}`);
    continue;
  }
  checked++;
  const on = wf?.on ?? wf?.[true];
  const dispatch = typeof on === 'object' && on !== null && !Array.isArray(on) ? on.workflow_dispatch : undefined;
  const inputs = dispatch?.inputs ?? {};
  if (dispatch === undefined) fail(file, 'no on.workflow_dispatch trigger with inputs');
  const declared = Object.keys(inputs);
  if (!sameSet(declared, expected)) {
    const missing = expected.filter((k) => !declared.includes(k));
    const extra = declared.filter((k) => !expected.includes(k));
    fail(file, `workflow_dispatch inputs differ from jobs.yaml job_types.${type}.inputs` +
      (missing.length ? `; missing: ${missing.join(', ')}` : '') + (extra.length ? `; not in jobs.yaml: ${extra.join(', ')}` : ''));
  }
  for (const [name, spec] of Object.entries(inputs)) {
    if (spec?.type !== 'string') fail(file, `input ${name}: type is ${JSON.stringify(spec?.type)}, must be string (progcap dispatch sends strings)`);
    if (typeof spec?.description !== 'string' || !spec.description.trim()) fail(file, `input ${name}: no description`);
    if (name === 'repository_name') {
      if (spec?.required !== true) fail(file, 'input repository_name must be required: true');
    } else {
      if (spec?.required === true) fail(file, `input ${name}: must not be required (only repository_name is)`);
      if (typeof spec?.default !== 'string') fail(file, `input ${name}: needs a string default`);
    }
  }
  const conc = wf?.concurrency;
  if (typeof conc?.group !== 'string' || !/\binputs\.repository_name\b/.test(conc.group)) {
    fail(file, 'concurrency.group must name ${{ inputs.repository_name }} (one run per repository and capture type)');
  }
  if (conc?.['cancel-in-progress'] !== false) fail(file, 'concurrency.cancel-in-progress must be false');
  for (const [jobId, job] of Object.entries(wf?.jobs ?? {})) {
    if (job?.['timeout-minutes'] === undefined) fail(file, `jobs.${jobId}: no timeout-minutes`);
    (job?.steps ?? []).forEach((step, i) => {
      if (typeof step?.run === 'string' && step.run.includes('${{')) {
        fail(file, `jobs.${jobId}.steps[${i}] (${step.name ?? 'run'}): run: interpolates \${{ }}; pass values through env:`);
      }
    });
  }
}

for (const f of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
  if (!referenced.has(f)) fail(path.join(dir, f), 'not the workflow of any job type in jobs.yaml');
}
if (checked === 0) fail(jobsFile, 'no job type names a workflow');

for (const e of errors) console.error(e);
console.log(`workflow inputs: ${checked} workflow(s) checked against ${jobsFile}, ${errors.length} problem(s)`);
process.exit(errors.length ? 1 : 0);
