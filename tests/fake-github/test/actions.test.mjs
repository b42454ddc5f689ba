import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fake, WORKFLOWS } from './helpers.mjs';

let f, api;
before(async () => { f = await fake({ workflowsDir: WORKFLOWS }); api = f.api; });
after(() => f.close());

const D = (wf) => `/repos/acme/widgets/actions/workflows/${wf}/dispatches`;
const INPUTS = { repository_id: 'uuid-1', repository_name: 'acme/widgets', pr_numbers: '1,2,3' };

test('accepted dispatch -> 204, creates a queued run', async () => {
  const r = await api.post(D('capture-pr-details.yml'), { ref: 'main', inputs: INPUTS });
  assert.equal(r.status, 204);
  assert.equal(r.text, '');
  const runs = (await api.get('/repos/acme/widgets/actions/runs')).json;
  assert.equal(runs.total_count, 1);
  const run = runs.workflow_runs[0];
  assert.equal(run.status, 'queued');
  assert.equal(run.event, 'workflow_dispatch');
  assert.equal(run.run_number, 1);
  assert.equal(run.name, 'Capture PR Details');
  assert.deepEqual(run.inputs, { ...INPUTS, time_range: '30' });
  assert.ok(run.id > 2 ** 32);
  const byWf = (await api.get('/repos/acme/widgets/actions/workflows/capture-pr-details.yml/runs')).json;
  assert.equal(byWf.total_count, 1);
  const ctl = await api.ctl('POST', '/_fake/mutate', { op: 'set_run', repo: 'acme/widgets', id: run.id, status: 'completed', conclusion: 'success' });
  assert.equal(ctl.status, 200);
  assert.equal((await api.get(`/repos/acme/widgets/actions/runs/${run.id}`)).json.conclusion, 'success');
  const log = (await api.ctl('GET', '/_fake/log')).json.entries;
  assert.ok(log.some((e) => e.method === 'POST' && e.template.endsWith('/dispatches') && e.status === 204 && e.cost === 1));
});

test('unknown workflow -> 404', async () => {
  const r = await api.post(D('nope.yml'), { ref: 'main', inputs: {} });
  assert.equal(r.status, 404);
  assert.equal(r.json.message, 'Not Found');
});

test('undeclared inputs -> 422 Unexpected inputs provided', async () => {
  const r = await api.post(D('capture-pr-details.yml'), { ref: 'main', inputs: { ...INPUTS, x: '1' } });
  assert.equal(r.status, 422);
  assert.equal(r.json.message, 'Unexpected inputs provided: ["x"]');
});

test('missing required input -> 422 Required input not provided', async () => {
  const { pr_numbers, ...rest } = INPUTS;
  const r = await api.post(D('capture-pr-details.yml'), { ref: 'main', inputs: rest });
  assert.equal(r.status, 422);
  assert.equal(r.json.message, "Required input 'pr_numbers' not provided");
});

test('non-string values, bad refs, choices and non-dispatchable workflows -> 422', async () => {
  const nonString = await api.post(D('capture-pr-details-graphql.yml'), { ref: 'main', inputs: { ...INPUTS, use_graphql: true } });
  assert.equal(nonString.status, 422);
  assert.match(nonString.json.message, /is not a string/);
  assert.equal((await api.post(D('capture-pr-details-graphql.yml'), { ref: 'main', inputs: { ...INPUTS, use_graphql: 'false' } })).status, 204);
  assert.equal((await api.post(D('capture-pr-details.yml'), { inputs: INPUTS })).status, 422);
  assert.equal((await api.post(D('capture-pr-details.yml'), { ref: 'no-such-branch', inputs: INPUTS })).status, 422);
  const choice = await api.post(D('historical-pr-sync-graphql.yml'), { ref: 'main', inputs: { repository_id: 'u', repository_name: 'acme/widgets', mode: 'partial' } });
  assert.equal(choice.status, 422);
  assert.equal((await api.post(D('nightly.yml'), { ref: 'main' })).status, 422);
  const wfs = (await api.get('/repos/acme/widgets/actions/workflows')).json;
  assert.equal(wfs.total_count, 4);
});
