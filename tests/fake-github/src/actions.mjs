// GitHub Actions: workflow_dispatch + workflow runs.
// Workflows come from --workflows-dir (every *.yml / *.yaml file); each repository "has" all of them.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import YAML from 'yaml';
import { hashSeed, iso, sha1hex, nodeId } from './util.mjs';
import { HttpError, pageParams, linkHeader } from './rest.mjs';

const DOC_DISPATCH = 'https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event';
const DOC_RUNS = 'https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-repository';
const KNOWN_REFS = new Set(['main', 'release/1.x']);

export class Actions {
  constructor(dir, ds, log = () => {}) {
    this.ds = ds;
    this.workflows = []; // {id, file, path, name, dispatch: bool, inputs: {name: {required, default, type, options}}}
    this.runs = []; // all runs, all repos
    this.runSeq = 9_100_000_000 + (hashSeed(ds.seed, 'runs') % 1_000_000);
    if (dir) this.load(dir, log);
  }

  load(dir, log) {
    if (!existsSync(dir)) throw new Error(`--workflows-dir ${dir} does not exist`);
    for (const f of readdirSync(dir).sort()) {
      if (!/\.ya?ml$/.test(f)) continue;
      let doc;
      try { doc = YAML.parse(readFileSync(join(dir, f), 'utf8')); } catch (e) { log(`workflow ${f}: YAML error: ${e.message}`); continue; }
      if (!doc || typeof doc !== 'object') continue;
      // YAML 1.1 parsers read `on` as boolean true; accept both
      const on = doc.on ?? doc.true ?? doc[true];
      let dispatch = false, inputs = {};
      if (on === 'workflow_dispatch') dispatch = true;
      else if (Array.isArray(on)) dispatch = on.includes('workflow_dispatch');
      else if (on && typeof on === 'object' && 'workflow_dispatch' in on) {
        dispatch = true;
        inputs = (on.workflow_dispatch && on.workflow_dispatch.inputs) || {};
      }
      const norm = {};
      for (const [k, v] of Object.entries(inputs || {})) {
        const o = v || {};
        norm[k] = { required: o.required === true || o.required === 'true', default: o.default, type: o.type || 'string', options: o.options, description: o.description };
      }
      this.workflows.push({
        id: 50_000_000 + (hashSeed('wf', f) % 900_000_000), file: f, path: `.github/workflows/${f}`,
        name: typeof doc.name === 'string' ? doc.name : `.github/workflows/${f}`, dispatch, inputs: norm,
      });
    }
  }

  find(ref) {
    const s = String(ref);
    return this.workflows.find((w) => String(w.id) === s || w.file === s || w.path === s || basename(w.path) === s) || null;
  }

  workflowJson(repo, w, B) {
    const f = repo.full_name;
    return {
      id: w.id, node_id: nodeId('W', repo.id, w.id), name: w.name, path: w.path, state: 'active',
      created_at: iso(repo.created_at), updated_at: iso(repo.created_at),
      url: `${B}/repos/${f}/actions/workflows/${w.id}`, html_url: `https://github.com/${f}/blob/main/${w.path}`,
      badge_url: `https://github.com/${f}/workflows/${encodeURIComponent(w.name)}/badge.svg`,
    };
  }

  /** POST .../dispatches; returns the created run. Throws HttpError like GitHub. */
  dispatch(repo, wfRef, body, cred) {
    const w = this.find(wfRef);
    if (!w) throw new HttpError(404, 'Not Found', { documentation_url: DOC_DISPATCH });
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'Problems parsing JSON', { documentation_url: DOC_DISPATCH });
    if (body.ref === undefined || body.ref === null) throw new HttpError(422, 'Invalid request.\n\n"ref" wasn\'t supplied.', { documentation_url: DOC_DISPATCH });
    if (typeof body.ref !== 'string') throw new HttpError(422, `Invalid request.\n\nFor 'properties/ref', ${JSON.stringify(body.ref)} is not a string.`, { documentation_url: DOC_DISPATCH });
    const ref = body.ref.replace(/^refs\/(heads|tags)\//, '');
    if (!KNOWN_REFS.has(ref)) throw new HttpError(422, `No ref found for: ${body.ref}`, { documentation_url: DOC_DISPATCH });
    if (!w.dispatch) throw new HttpError(422, "Workflow does not have 'workflow_dispatch' trigger", { documentation_url: DOC_DISPATCH });
    const inputs = body.inputs ?? {};
    if (typeof inputs !== 'object' || Array.isArray(inputs) || inputs === null) {
      throw new HttpError(422, `Invalid request.\n\nFor 'properties/inputs', ${JSON.stringify(inputs)} is not an object.`, { documentation_url: DOC_DISPATCH });
    }
    for (const [k, v] of Object.entries(inputs)) {
      if (typeof v !== 'string') throw new HttpError(422, `Invalid request.\n\nFor 'properties/${k}', ${JSON.stringify(v)} is not a string.`, { documentation_url: DOC_DISPATCH });
    }
    const unexpected = Object.keys(inputs).filter((k) => !(k in w.inputs));
    if (unexpected.length) throw new HttpError(422, `Unexpected inputs provided: [${unexpected.map((x) => JSON.stringify(x)).join(', ')}]`, { documentation_url: DOC_DISPATCH });
    const eff = {};
    for (const [k, spec] of Object.entries(w.inputs)) {
      if (k in inputs) eff[k] = inputs[k];
      else if (spec.default !== undefined && spec.default !== null) eff[k] = String(spec.default);
      else if (spec.required) throw new HttpError(422, `Required input '${k}' not provided`, { documentation_url: DOC_DISPATCH });
      if (k in eff && spec.type === 'choice' && Array.isArray(spec.options) && !spec.options.map(String).includes(eff[k])) {
        throw new HttpError(422, `Provided value '${eff[k]}' for input '${k}' not in the list of allowed values`, { documentation_url: DOC_DISPATCH });
      }
      if (k in eff && spec.type === 'boolean' && !['true', 'false'].includes(eff[k])) {
        throw new HttpError(422, `Provided value '${eff[k]}' for input '${k}' is not a valid boolean`, { documentation_url: DOC_DISPATCH });
      }
    }
    const now = this.ds.now();
    const runNumber = this.runs.filter((r) => r.repo === repo && r.workflow === w).length + 1;
    const run = {
      id: ++this.runSeq, repo, workflow: w, run_number: runNumber, status: 'queued', conclusion: null, ref,
      inputs: eff, created_at: now, updated_at: now, head_sha: sha1hex(`${repo.full_name}:${ref}:${this.ds.version}`),
      actor: cred.kind === 'installation' ? this.ds.botByName['github-actions'] : this.ds.viewer, credential: cred.key,
    };
    this.runs.push(run);
    return run;
  }

  runJson(run, shapes) {
    const repo = run.repo, f = repo.full_name, B = shapes.B, a = `${B}/repos/${f}/actions/runs/${run.id}`;
    return {
      id: run.id, name: run.workflow.name, node_id: nodeId('WFR', run.id), head_branch: run.ref, head_sha: run.head_sha,
      path: run.workflow.path, display_title: run.workflow.name, run_number: run.run_number, event: 'workflow_dispatch',
      status: run.status, conclusion: run.conclusion, workflow_id: run.workflow.id, check_suite_id: run.id + 1000,
      check_suite_node_id: nodeId('CS', run.id + 1000), url: a, html_url: `https://github.com/${f}/actions/runs/${run.id}`,
      pull_requests: [], created_at: iso(run.created_at), updated_at: iso(run.updated_at), actor: shapes.user(run.actor),
      run_attempt: 1, referenced_workflows: [], run_started_at: iso(run.created_at), triggering_actor: shapes.user(run.actor),
      jobs_url: `${a}/jobs`, logs_url: `${a}/logs`, check_suite_url: `${B}/repos/${f}/check-suites/${run.id + 1000}`,
      artifacts_url: `${a}/artifacts`, cancel_url: `${a}/cancel`, rerun_url: `${a}/rerun`, previous_attempt_url: null,
      workflow_url: `${B}/repos/${f}/actions/workflows/${run.workflow.id}`,
      head_commit: { id: run.head_sha, tree_id: run.head_sha.split('').reverse().join(''), message: `dispatch ${run.workflow.file}`, timestamp: iso(run.created_at), author: { name: 'fake', email: 'fake@example.org' }, committer: { name: 'GitHub', email: 'noreply@github.com' } },
      repository: shapes.repoEmbedded(repo), head_repository: shapes.repoEmbedded(repo),
      inputs: run.inputs, // NOT in GitHub's run object: a fake-only extension so tests can assert what was dispatched
    };
  }

  /** GET runs (optionally for one workflow) with GitHub's filters and pagination. */
  listRuns(ctx, repo, wfRef) {
    let list = this.runs.filter((r) => r.repo === repo);
    if (wfRef !== undefined) {
      const w = this.find(wfRef);
      if (!w) throw new HttpError(404, 'Not Found', { documentation_url: DOC_RUNS });
      list = list.filter((r) => r.workflow === w);
    }
    const q = ctx.query;
    if (q.get('status')) list = list.filter((r) => r.status === q.get('status') || r.conclusion === q.get('status'));
    if (q.get('branch')) list = list.filter((r) => r.ref === q.get('branch'));
    if (q.get('event')) list = list.filter((r) => q.get('event') === 'workflow_dispatch');
    list = [...list].sort((a, b) => b.id - a.id);
    const { per, page } = pageParams(q);
    const lastPage = Math.max(1, Math.ceil(list.length / per));
    return {
      json: { total_count: list.length, workflow_runs: list.slice((page - 1) * per, page * per).map((r) => this.runJson(r, ctx.shapes)) },
      link: linkHeader(ctx, page, list.length ? lastPage : 1),
    };
  }

  setRun(repo, id, status, conclusion) {
    const run = this.runs.find((r) => r.id === Number(id) && (!repo || r.repo === repo));
    if (!run) { const e = new Error(`unknown run ${id}`); e.status = 404; throw e; }
    if (status) run.status = status;
    if (conclusion !== undefined) run.conclusion = conclusion;
    run.updated_at = this.ds.now();
    return { id: run.id, status: run.status, conclusion: run.conclusion };
  }
}
