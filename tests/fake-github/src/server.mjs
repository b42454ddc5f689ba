// HTTP front end: routing, auth, rate limits, conditional requests, faults, latency, stats and the
// /_fake control API. Everything runs on node:http with timers only (never blocks the event loop).
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Dataset } from './dataset.mjs';
import { Shapes } from './shapes.mjs';
import { RateLimiter } from './ratelimit.mjs';
import { Auth, DEFAULT_TOKEN } from './auth.mjs';
import { GraphQLService, timeoutBody } from './graphql.mjs';
import { Actions } from './actions.mjs';
import { Faults, mutateJson, UNICORN_HTML, SECONDARY_MESSAGE } from './faults.mjs';
import { makeRouter, HttpError, notFound, ROUTE_PATTERNS, safeDecode } from './rest.mjs';
import { sha256hex, httpDate, sleep, iso } from './util.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_PUBLIC_KEY = join(HERE, '..', 'keys', 'test-app.pub.pem');
const DOC_REST = 'https://docs.github.com/rest';
const DOC_RATE = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api';
const DOC_SECONDARY = 'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits';
const DOC_APPS = 'https://docs.github.com/rest/apps/apps';
const MAX_BODY = 25 * 1024 * 1024;

export const DEFAULTS = {
  host: '127.0.0.1', port: 0, seed: 42, dataset: 'standard', repos: undefined, prs: undefined, now: undefined,
  latencyMs: 0, budget: 5000, graphqlBudget: 5000, searchBudget: 30, resetSeconds: 3600,
  tokens: [DEFAULT_TOKEN], privilegedTokens: [], appId: 12345, appPublicKey: DEFAULT_PUBLIC_KEY,
  installationTokenTtl: 3600, workflowsDir: undefined, rateLimitStatus: 403, graphqlTimeoutNodes: 0,
  graphqlTimeoutMs: 10_000, secondaryConcurrency: 0, secondaryRetryAfter: 60, linkStyle: 'repositories',
  allowAnonymous: false, logLimit: 100_000, faults: [], quiet: false, responseCache: true,
};

/** keys that POST /_fake/config may change at runtime (accepts camelCase, snake_case or kebab-case) */
const RUNTIME_KEYS = ['latencyMs', 'budget', 'graphqlBudget', 'searchBudget', 'resetSeconds', 'rateLimitStatus',
  'graphqlTimeoutNodes', 'graphqlTimeoutMs', 'secondaryConcurrency', 'secondaryRetryAfter', 'installationTokenTtl',
  'linkStyle', 'allowAnonymous', 'credentialBudgets', 'responseCache'];
const canon = (k) => String(k).replace(/[-_]/g, '').toLowerCase();
const RUNTIME_MAP = Object.fromEntries(RUNTIME_KEYS.map((k) => [canon(k), k]));

function newStats() {
  return {
    started_at: new Date().toISOString(), requests_total: 0, control_requests: 0, by_endpoint: {}, by_status: {},
    by_credential: {}, not_modified: 0, graphql_queries: 0, graphql_points: {}, faults_injected: {},
    secondary_limited: 0, rate_limited: 0, max_in_flight: 0, max_response_bytes: 0,
  };
}
const inc = (o, k, n = 1) => { o[k] = (o[k] || 0) + n; };

export function createFake(options = {}) {
  const cfg = { ...DEFAULTS, ...options };
  if (typeof cfg.now === 'string') cfg.now = Date.parse(cfg.now);
  const ds = new Dataset({ seed: cfg.seed, dataset: cfg.dataset, repos: cfg.repos, prs: cfg.prs, now: cfg.now ?? Date.now() });
  ds.clockPinned = options.now !== undefined && options.now !== null;
  const limiter = new RateLimiter(cfg);
  const auth = new Auth({ tokens: cfg.tokens, privilegedTokens: cfg.privilegedTokens, appId: cfg.appId, publicKeyPath: cfg.appPublicKey, installationTokenTtl: cfg.installationTokenTtl, seed: cfg.seed }, ds);
  const gql = new GraphQLService({ ds, limiter, cfg });
  const actions = new Actions(cfg.workflowsDir, ds, (m) => !cfg.quiet && process.stderr.write(`${m}\n`));
  const faults = new Faults(cfg.seed);
  if (cfg.faults && (cfg.faults.length || !Array.isArray(cfg.faults))) faults.add(cfg.faults);
  let stats = newStats();
  let log = [];
  let seq = 0;
  let inFlight = 0;
  const respCache = new Map();
  let respCacheBytes = 0;
  const state = { cfg, ds, limiter, auth, gql, actions, faults, shapes: null, base: null };
  const shapesFor = () => state.shapes;

  // ---------------------------------------------------------------- extra routes
  const { O, R, ID } = ROUTE_PATTERNS;
  const jwt = { auth: 'jwt' };
  const extra = [
    ['POST', '/graphql', '/graphql', null, { graphql: true }],
    ['GET', '/app', '/app', (ctx) => ({ json: auth.appObject(ctx.shapes) }), jwt],
    ['GET', '/app/installations', '/app/installations', (ctx) => ({ json: ds.installations.map((i) => auth.installationObject(i, ctx.shapes)) }), jwt],
    ['GET', `/app/installations/${ID}`, '/app/installations/{installation_id}', (ctx) => {
      const inst = ds.installationById(ctx.params.id);
      if (!inst) throw notFound(`${DOC_APPS}#get-an-installation-for-the-authenticated-app`);
      return { json: auth.installationObject(inst, ctx.shapes) };
    }, jwt],
    ['POST', `/app/installations/${ID}/access_tokens`, '/app/installations/{installation_id}/access_tokens', (ctx) => {
      const inst = ds.installationById(ctx.params.id);
      if (!inst) throw notFound(`${DOC_APPS}#create-an-installation-access-token-for-an-app`);
      return { status: 201, json: auth.mint(inst), noCache: true };
    }, jwt],
    ['GET', `/repos/${O}/${R}/installation`, '/repos/{owner}/{repo}/installation', (ctx) => {
      const repo = ds.repo(ctx.params.owner, ctx.params.repo);
      const inst = repo && ds.installationFor(repo);
      if (!inst) throw notFound(`${DOC_APPS}#get-a-repository-installation-for-the-authenticated-app`);
      return { json: auth.installationObject(inst, ctx.shapes) };
    }, jwt],
    ['GET', '/orgs/(?<org>[^/]+)/installation', '/orgs/{org}/installation', (ctx) => {
      const inst = ds.installations.find((i) => i.account.login.toLowerCase() === ctx.params.org.toLowerCase());
      if (!inst) throw notFound(`${DOC_APPS}#get-an-organization-installation-for-the-authenticated-app`);
      return { json: auth.installationObject(inst, ctx.shapes) };
    }, jwt],
    ['GET', '/users/(?<user>[^/]+)/installation', '/users/{username}/installation', (ctx) => {
      const inst = ds.installations.find((i) => i.account.login.toLowerCase() === ctx.params.user.toLowerCase());
      if (!inst) throw notFound(`${DOC_APPS}#get-a-user-installation-for-the-authenticated-app`);
      return { json: auth.installationObject(inst, ctx.shapes) };
    }, jwt],
    ['GET', `/repos/${O}/${R}/actions/workflows`, '/repos/{owner}/{repo}/actions/workflows', (ctx) => {
      const repo = visibleRepo(ctx);
      return { json: { total_count: actions.workflows.length, workflows: actions.workflows.map((w) => actions.workflowJson(repo, w, ctx.shapes.B)) } };
    }],
    ['GET', `/repos/${O}/${R}/actions/workflows/(?<wf>[^/]+)`, '/repos/{owner}/{repo}/actions/workflows/{workflow_id}', (ctx) => {
      const repo = visibleRepo(ctx);
      const w = actions.find(ctx.params.wf);
      if (!w) throw notFound('https://docs.github.com/rest/actions/workflows#get-a-workflow');
      return { json: actions.workflowJson(repo, w, ctx.shapes.B) };
    }],
    ['POST', `/repos/${O}/${R}/actions/workflows/(?<wf>[^/]+)/dispatches`, '/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches', (ctx) => {
      const repo = visibleRepo(ctx);
      const run = actions.dispatch(repo, ctx.params.wf, ctx.bodyJson, ctx.cred);
      ctx.note = { run_id: run.id };
      return { status: 204, noCache: true };
    }, { parseBody: true }],
    ['GET', `/repos/${O}/${R}/actions/workflows/(?<wf>[^/]+)/runs`, '/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs', (ctx) => actions.listRuns(ctx, visibleRepo(ctx), ctx.params.wf)],
    ['GET', `/repos/${O}/${R}/actions/runs`, '/repos/{owner}/{repo}/actions/runs', (ctx) => actions.listRuns(ctx, visibleRepo(ctx))],
    ['GET', `/repos/${O}/${R}/actions/runs/${ID}`, '/repos/{owner}/{repo}/actions/runs/{run_id}', (ctx) => {
      const repo = visibleRepo(ctx);
      const run = actions.runs.find((r) => r.repo === repo && r.id === Number(ctx.params.id));
      if (!run) throw notFound('https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run');
      return { json: actions.runJson(run, ctx.shapes) };
    }],
  ];
  function visibleRepo(ctx) {
    const repo = ds.repo(ctx.params.owner, ctx.params.repo);
    if (!repo || !ctx.cred.canSee(repo)) throw notFound();
    return repo;
  }
  const route = makeRouter(extra);

  // ---------------------------------------------------------------- response helpers
  function requestId(n) {
    const h = (v, w) => (v >>> 0).toString(16).toUpperCase().padStart(w, '0').slice(-w);
    return `${h(0xc0de + (n >>> 16), 4)}:${h(n * 2654435761, 4)}:${h(n * 40503, 6)}:${h(n * 2246822519, 6)}:${h(Math.floor(Date.now() / 1000), 8)}`;
  }

  function baseHeaders(rid) {
    return {
      server: 'github.com', 'x-github-api-version-selected': '2022-11-28', 'x-github-media-type': 'github.v3; format=json',
      'x-github-request-id': rid, 'x-content-type-options': 'nosniff', 'x-frame-options': 'deny',
      'access-control-allow-origin': '*',
      'access-control-expose-headers': 'ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset',
    };
  }

  function errorBody(status, message, extra = {}) {
    const { documentation_url, ...rest } = extra;
    return JSON.stringify({ message, ...rest, documentation_url: documentation_url || DOC_REST, status: String(status) });
  }

  // ---------------------------------------------------------------- stats/log
  function record(entry) {
    if (entry.control) stats.control_requests++;
    else {
      stats.requests_total++;
      inc(stats.by_endpoint, `${entry.method === 'HEAD' ? 'GET' : entry.method} ${entry.template}`);
      inc(stats.by_status, String(entry.status));
      if (entry.credential) inc(stats.by_credential, entry.credential);
      if (entry.status === 304) stats.not_modified++;
      stats.max_response_bytes = Math.max(stats.max_response_bytes, entry.bytes || 0);
    }
    log.push(entry);
    if (log.length > cfg.logLimit) log.splice(0, log.length - cfg.logLimit);
  }

  // ---------------------------------------------------------------- main handler
  async function handle(req, res) {
    const t0 = Date.now();
    const n = ++seq;
    const rid = requestId(n);
    const url = parseUrl(req.url);
    if (!url) { res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' }); res.end('{"message":"Bad request"}'); return; }
    const path = url.pathname;
    if (path === '/_fake' || path.startsWith('/_fake/')) return control(req, res, url, n, t0);

    inFlight++;
    stats.max_in_flight = Math.max(stats.max_in_flight, inFlight);
    const entry = { seq: n, method: req.method, path: path + url.search, template: 'UNKNOWN', status: 0, credential: null, resource: null, cost: 0, ts: new Date(t0).toISOString() };
    const hdrs = baseHeaders(rid);
    let finished = false;
    const finish = (status, body, extraHeaders = {}) => {
      if (finished) return;
      finished = true;
      entry.status = status;
      const h = { ...hdrs, ...extraHeaders };
      if (body !== null && body !== undefined && !('content-type' in h)) h['content-type'] = 'application/json; charset=utf-8';
      const buf = body === null || body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
      h['content-length'] = String(buf ? buf.length : 0);
      entry.bytes = buf && req.method !== 'HEAD' ? buf.length : 0;
      try {
        res.writeHead(status, h);
        res.end(req.method === 'HEAD' || !buf ? undefined : buf);
      } catch { /* client went away */ }
    };
    try {
      // route
      const r = route(req.method, normaliseRepoPath(path));
      entry.template = r?.template ?? 'UNKNOWN';
      entry.resource = r?.opts?.graphql ? 'graphql' : 'core';
      // body
      let raw = null;
      if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') raw = await readBody(req);
      // latency knob, then pre-faults
      if (cfg.latencyMs > 0) await sleep(cfg.latencyMs);
      const target = `${req.method} ${path}${url.search}`;
      let fault = faults.take(target, 'pre');
      while (fault && fault.kind === 'slow') {
        inc(stats.faults_injected, 'slow'); entry.fault = 'slow';
        await sleep(Number(fault.ms ?? fault.delayMs ?? 1000));
        fault = faults.take(target, 'pre');
      }
      if (fault) {
        inc(stats.faults_injected, fault.kind); entry.fault = fault.kind;
        if (await applyPreFault(fault, req, res, finish, entry)) return;
      }
      // authenticate
      let cred = null;
      if (r?.opts?.auth === 'jwt') {
        const tok = Auth.rawToken(req);
        const v = auth.verifyJwt(tok || '');
        if (!v.ok) {
          // an installation token / PAT on an app endpoint gets GitHub's JWT complaint as well
          finish(401, errorBody(401, v.message, { documentation_url: DOC_REST }));
          return;
        }
        cred = { kind: 'app', key: `app:${v.appId}`, label: `app ID ${v.appId}`, canSee: () => true };
      } else {
        const a = auth.authenticate(req);
        if (a.error) {
          if (a.missing && (cfg.allowAnonymous || r?.opts?.auth === 'optional')) {
            const ip = req.socket.remoteAddress || 'local';
            cred = { kind: 'anonymous', key: `ip:${ip}`, label: `${ip}`, canSee: (repo) => !repo.private, anonymous: true };
          } else {
            finish(401, errorBody(401, 'Bad credentials', { documentation_url: DOC_REST }));
            return;
          }
        } else cred = a.cred;
      }
      entry.credential = cred.key;
      const resource = cred.anonymous && entry.resource === 'core' ? 'unauthenticated' : entry.resource;
      const rateHeaders = () => limiter.headers(limiter.peek(cred.key, resource));
      if (cred.kind === 'pat') { hdrs['x-oauth-scopes'] = 'repo, read:org, workflow'; hdrs['x-accepted-oauth-scopes'] = r?.opts?.graphql ? 'repo' : ''; }
      // secondary limit on concurrency (knob)
      if (cfg.secondaryConcurrency > 0 && inFlight > cfg.secondaryConcurrency) {
        stats.secondary_limited++;
        finish(403, secondaryBody(rid), { ...rateHeaders(), 'retry-after': String(cfg.secondaryRetryAfter) });
        return;
      }
      if (!r) { spendCore(cred, resource); finish(404, errorBody(404, 'Not Found'), rateHeaders()); return; }
      if (r.methodMismatch) { spendCore(cred, resource); finish(404, errorBody(404, 'Not Found'), rateHeaders()); return; }

      // GraphQL
      if (r.opts.graphql) {
        stats.graphql_queries++;
        let body;
        try { body = raw && raw.length ? JSON.parse(raw.toString('utf8')) : null; } catch {
          finish(400, errorBody(400, 'Problems parsing JSON', { documentation_url: 'https://docs.github.com/graphql' }), rateHeaders());
          return;
        }
        const out = gql.handle(body, cred);
        entry.cost = out.cost; entry.nodeCount = out.analysis?.nodeCount;
        if (out.cost) inc(stats.graphql_points, cred.key, out.cost);
        if (out.rateLimited) stats.rate_limited++;
        const rh = limiter.headers(out.rate || limiter.peek(cred.key, 'graphql'));
        if (out.timeout) {
          await sleep(cfg.graphqlTimeoutMs);
          finish(502, JSON.stringify(out.json), rh);
          return;
        }
        const bodyStr = JSON.stringify(out.json);
        const post = faults.take(target, 'post');
        if (post) { inc(stats.faults_injected, post.kind); entry.fault = post.kind; return applyPostFault(post, res, finish, bodyStr, { ...rh, 'content-type': 'application/json; charset=utf-8' }, entry); }
        finish(out.status, bodyStr, { ...rh, 'cache-control': 'no-cache' });
        return;
      }

      // REST primary limit: refuse when nothing is left (GitHub: 403, or 429)
      const quota = r.opts.quota !== false;
      if (quota && !limiter.canSpend(cred.key, resource, 1)) {
        stats.rate_limited++;
        const st = Number(cfg.rateLimitStatus) === 429 ? 429 : 403;
        finish(st, errorBody(st, `API rate limit exceeded for ${cred.label}. If you reach out to GitHub Support for help, please include the request ID ${rid}.`, { documentation_url: DOC_RATE }), rateHeaders());
        return;
      }

      const ctx = {
        req, method: req.method, path, query: url.searchParams, params: r.params, cred, ds, shapes: shapesFor(),
        limiter, cfg, linkPath: linkPathFor(path), raw,
      };
      if (r.opts.parseBody) {
        try { ctx.bodyJson = raw && raw.length ? JSON.parse(raw.toString('utf8')) : {}; } catch {
          spendCore(cred, resource);
          finish(400, errorBody(400, 'Problems parsing JSON'), rateHeaders());
          return;
        }
      }
      // cached successful GETs (key includes what the credential may see)
      const isGet = req.method === 'GET' || req.method === 'HEAD';
      const cacheKey = isGet && cfg.responseCache ? `${credClass(cred)}|${path}${url.search}|${cfg.linkStyle}` : null;
      let out = cacheKey ? respCache.get(cacheKey) : null;
      if (out && out.version !== ds.version) out = null;
      if (!out) {
        let result;
        try { result = r.handler(ctx); } catch (e) {
          if (!(e instanceof HttpError)) throw e;
          if (quota) spendCore(cred, resource);
          if (e.status === 404) entry.note = 'not_found';
          finish(e.status, errorBody(e.status, e.message, e.extra), rateHeaders());
          return;
        }
        const status = result.status ?? 200;
        const bodyStr = result.json === undefined ? null : JSON.stringify(result.json);
        out = {
          version: ds.version, status, body: bodyStr === null ? null : Buffer.from(bodyStr),
          etag: bodyStr !== null && status === 200 ? `"${sha256hex(bodyStr)}"` : null,
          link: result.link || null, lastModified: result.lastModified ?? null,
        };
        if (cacheKey && status === 200 && !result.noCache && out.body.length < 8 * 1024 * 1024) {
          // bounded FIFO: at most 3000 entries and ~256 MB of bodies
          const old = respCache.get(cacheKey);
          if (old) { respCacheBytes -= old.body.length; respCache.delete(cacheKey); }
          respCache.set(cacheKey, out);
          respCacheBytes += out.body.length;
          while (respCache.size > 3000 || respCacheBytes > 256 * 1024 * 1024) {
            const k = respCache.keys().next().value;
            respCacheBytes -= respCache.get(k).body.length;
            respCache.delete(k);
          }
        }
        if (ctx.note) entry.note = ctx.note;
      }
      // conditional requests: a 304 does not count against the primary limit
      if (isGet && out.status === 200 && notModified(req, out)) {
        const h = { ...rateHeaders(), etag: out.etag, 'cache-control': 'private, max-age=60, s-maxage=60', vary: 'Accept, Authorization, Cookie, X-GitHub-OTP' };
        if (out.lastModified) h['last-modified'] = httpDate(out.lastModified);
        finish(304, null, h);
        return;
      }
      const snap = quota ? limiter.spend(cred.key, resource, 1) : limiter.peek(cred.key, resource);
      entry.cost = quota ? 1 : 0;
      const h = { ...limiter.headers(snap) };
      if (out.status === 200) {
        h['cache-control'] = 'private, max-age=60, s-maxage=60';
        h.vary = 'Accept, Authorization, Cookie, X-GitHub-OTP';
        if (out.etag) h.etag = out.etag;
        if (out.lastModified) h['last-modified'] = httpDate(out.lastModified);
      }
      if (out.link) h.link = out.link;
      if (out.body && out.status === 200) {
        const post = faults.take(target, 'post');
        if (post) { inc(stats.faults_injected, post.kind); entry.fault = post.kind; return applyPostFault(post, res, finish, out.body.toString('utf8'), { ...h, 'content-type': 'application/json; charset=utf-8' }, entry); }
      }
      finish(out.status, out.body, h);
    } catch (e) {
      if (e instanceof HttpError) finish(e.status, errorBody(e.status, e.message, e.extra));
      else {
        if (!cfg.quiet) process.stderr.write(`fake-github: internal error on ${req.method} ${req.url}: ${e.stack || e}\n`);
        finish(500, errorBody(500, `Internal fake error: ${e.message}`));
      }
    } finally {
      inFlight--;
      entry.duration_ms = Date.now() - t0;
      if (!finished) entry.status = entry.status || 0;
      record(entry);
    }
  }

  /** Cheap request-target parsing (origin-form); searchParams is built lazily. */
  function parseUrl(raw) {
    if (typeof raw !== 'string' || raw[0] !== '/') {
      try { const u = new URL(raw, 'http://x'); return { pathname: u.pathname, search: u.search, searchParams: u.searchParams }; } catch { return null; }
    }
    const q = raw.indexOf('?');
    const pathname = q < 0 ? raw : raw.slice(0, q);
    const search = q < 0 || q === raw.length - 1 ? '' : raw.slice(q);
    let sp = null;
    return { pathname, search, get searchParams() { return (sp ??= new URLSearchParams(search)); } };
  }

  function spendCore(cred, resource) { if (limiter.canSpend(cred.key, resource, 1)) limiter.spend(cred.key, resource, 1); }
  function credClass(cred) { return cred.kind === 'installation' ? `i${cred.installationId}` : cred.privileged ? 'p' : cred.kind === 'app' ? 'a' : 'u'; }
  function secondaryBody(rid) {
    return JSON.stringify({ message: `${SECONDARY_MESSAGE} ${rid}.`, documentation_url: DOC_SECONDARY, status: '403' });
  }

  /** /repositories/{id}/... is an alias of /repos/{owner}/{repo}/... (GitHub's Link headers use it). */
  function normaliseRepoPath(path) {
    const m = /^\/repositories\/(\d+)(\/.*)?$/.exec(path);
    if (!m) return path;
    const repo = ds.reposById.get(Number(m[1]));
    if (!repo) return `/repos/-/-${m[2] || ''}`; // unknown id -> 404 through the normal route
    return `/repos/${repo.full_name}${m[2] || ''}`;
  }
  function linkPathFor(path) {
    if (cfg.linkStyle !== 'repositories') return path;
    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) return path;
    const repo = ds.repo(safeDecode(m[1]), safeDecode(m[2]));
    return repo ? `/repositories/${repo.id}${m[3] || ''}` : path;
  }

  function notModified(req, out) {
    const inm = req.headers['if-none-match'];
    if (inm && out.etag) {
      if (inm.trim() === '*') return true;
      const tags = inm.split(',').map((s) => s.trim().replace(/^W\//, ''));
      return tags.includes(out.etag);
    }
    const ims = req.headers['if-modified-since'];
    if (ims && out.lastModified) {
      const t = Date.parse(ims);
      if (!Number.isNaN(t)) return Math.floor(out.lastModified / 1000) <= Math.floor(t / 1000);
    }
    return false;
  }

  async function applyPreFault(f, req, res, finish, entry) {
    const rid = hdrsRid(entry);
    switch (f.kind) {
      case 'reset':
        entry.status = 0;
        req.socket.destroy();
        return true;
      case '5xx': {
        const st = [500, 502, 503, 504].includes(Number(f.status)) ? Number(f.status) : 502;
        const msg = { 500: 'Server Error', 502: 'Server Error', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[st];
        finish(st, JSON.stringify({ message: msg, documentation_url: DOC_REST, status: String(st) }));
        return true;
      }
      case 'html': {
        const st = Number(f.status ?? 502);
        finish(st, UNICORN_HTML, { 'content-type': 'text/html; charset=utf-8' });
        return true;
      }
      case 'secondary': {
        const st = Number(f.status) === 429 ? 429 : 403;
        const retry = f.retryAfter ?? f['retry-after'] ?? 60;
        const h = { 'retry-after': String(retry) };
        finish(st, JSON.stringify({ message: `${SECONDARY_MESSAGE} ${rid}.`, documentation_url: DOC_SECONDARY, status: String(st) }), h);
        return true;
      }
      case 'ratelimit429': {
        const cred = auth.authenticate(req).cred;
        const key = cred ? cred.key : 'anonymous';
        const resource = entry.resource || 'core';
        const snap = limiter.peek(key, resource);
        const reset = f.resetIn !== undefined ? Math.ceil(Date.now() / 1000 + Number(f.resetIn)) : snap.reset;
        const h = { 'x-ratelimit-limit': String(snap.limit), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset), 'x-ratelimit-used': String(snap.limit), 'x-ratelimit-resource': resource };
        if (f.retryAfter !== undefined) h['retry-after'] = String(f.retryAfter);
        finish(429, JSON.stringify({ message: `API rate limit exceeded for ${cred ? cred.label : 'this client'}.`, documentation_url: DOC_RATE, status: '429' }), h);
        return true;
      }
      case 'graphql-timeout': {
        await sleep(Number(f.delayMs ?? f.ms ?? cfg.graphqlTimeoutMs));
        finish(502, JSON.stringify(timeoutBody()));
        return true;
      }
      default:
        return false;
    }
  }
  function hdrsRid(entry) { return requestId(entry.seq); }

  function applyPostFault(f, res, finish, bodyStr, headers, entry) {
    if (f.kind === 'missing-field' || f.kind === 'wrong-type') {
      let v;
      try { v = JSON.parse(bodyStr); } catch { finish(200, bodyStr, headers); return; }
      finish(200, JSON.stringify(mutateJson(v, f)), headers);
      return;
    }
    const buf = Buffer.from(bodyStr);
    if (f.kind === 'bad-json') {
      const cut = Math.max(1, Math.floor(buf.length / 2));
      finish(200, Buffer.concat([buf.subarray(0, cut), Buffer.from('\u0000,,}{"oops')]), headers);
      return;
    }
    if (f.kind === 'truncate') {
      // full Content-Length, partial body, then close the connection
      const part = f.bytes !== undefined ? Math.min(buf.length - 1, Number(f.bytes)) : Math.floor(buf.length / 2);
      entry.status = 200;
      try {
        res.writeHead(200, { ...headers, 'content-length': String(buf.length) });
        res.write(buf.subarray(0, Math.max(0, part)), () => res.destroy());
      } catch { /* ignore */ }
      return;
    }
    finish(200, bodyStr, headers);
  }

  function readBody(req) {
    return new Promise((resolve, reject) => {
      const chunks = []; let size = 0;
      req.on('data', (c) => { size += c.length; if (size > MAX_BODY) { reject(new HttpError(413, 'Payload too large')); req.destroy(); } else chunks.push(c); });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  // ---------------------------------------------------------------- /_fake control API
  async function control(req, res, url, n, t0) {
    const path = url.pathname.replace(/\/$/, '');
    const send = (status, obj) => {
      const body = Buffer.from(JSON.stringify(obj));
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length), 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : body);
      record({ seq: n, method: req.method, path: url.pathname + url.search, template: `/_fake${path.slice(6) || ''}`, status, credential: null, resource: null, cost: 0, ts: new Date(t0).toISOString(), control: true });
    };
    let body = null;
    try {
      if (req.method === 'POST' || req.method === 'PUT' || req.method === 'DELETE') {
        const raw = await readBody(req);
        if (raw.length) body = JSON.parse(raw.toString('utf8'));
      }
    } catch (e) { return send(400, { message: `bad JSON body: ${e.message}` }); }
    try {
      const key = `${req.method === 'HEAD' ? 'GET' : req.method} ${path}`;
      switch (key) {
        case 'GET /_fake': case 'GET /_fake/health':
          return send(200, { ok: true, url: state.base, pid: process.pid, dataset: cfg.dataset, seed: cfg.seed, now: iso(ds.now()), generation_ms: ds.genMs, version: ds.version });
        case 'GET /_fake/stats':
          return send(200, { ...stats, in_flight: inFlight - 0, remaining: limiter.all(), faults_pending: faults.list().length, log_seq: seq });
        case 'POST /_fake/reset-stats':
          stats = newStats(); log = [];
          return send(200, { ok: true });
        case 'POST /_fake/reset-ratelimits':
          limiter.reset();
          return send(200, { ok: true });
        case 'GET /_fake/log': {
          const since = Number(url.searchParams.get('since') || 0);
          const limit = Number(url.searchParams.get('limit') || 0);
          let out = log.filter((e) => e.seq > since && !e.control);
          if (url.searchParams.get('control') === '1') out = log.filter((e) => e.seq > since);
          if (limit > 0) out = out.slice(0, limit);
          return send(200, { entries: out, last_seq: seq });
        }
        case 'GET /_fake/faults': return send(200, { rules: faults.list() });
        case 'POST /_fake/faults': {
          if (url.searchParams.get('replace') === '1') faults.clear();
          const rules = body?.rules ?? body;
          const ids = faults.add(rules);
          return send(200, { ok: true, ids, rules: faults.list() });
        }
        case 'DELETE /_fake/faults': faults.clear(); return send(200, { ok: true });
        case 'GET /_fake/config': return send(200, publicConfig());
        case 'POST /_fake/config': {
          const changed = {};
          for (const [k, v] of Object.entries(body || {})) {
            const name = RUNTIME_MAP[canon(k)];
            if (!name) return send(400, { message: `unknown or read-only config key ${k}`, runtime_keys: RUNTIME_KEYS });
            cfg[name] = v; changed[name] = v;
          }
          if (changed.resetSeconds !== undefined) limiter.reset();
          respCache.clear(); respCacheBytes = 0;
          return send(200, { ok: true, changed, config: publicConfig() });
        }
        case 'POST /_fake/mutate': {
          const ops = Array.isArray(body) ? body : body?.ops ?? [body];
          const results = [];
          for (const op of ops) {
            if (op?.op === 'set_run') results.push(actions.setRun(op.repo ? ds.repoByFull(op.repo) : null, op.id ?? op.run_id, op.status, op.conclusion));
            else results.push(ds.mutate(op || {}));
          }
          respCache.clear(); respCacheBytes = 0;
          return send(200, { ok: true, results: Array.isArray(body) || body?.ops ? results : results[0] });
        }
        case 'GET /_fake/truth/summary':
          return send(200, { seed: cfg.seed, dataset: cfg.dataset, now: iso(ds.now()), generation_ms: ds.genMs, repositories: ds.summary() });
        case 'GET /_fake/truth': return sendTruth(url, send);
        case 'GET /_fake/runs':
          return send(200, { runs: actions.runs.map((r) => ({ ...actions.runJson(r, state.shapes), repository: undefined, head_repository: undefined, repo: r.repo.full_name, workflow: r.workflow.file, credential: r.credential })) });
        case 'GET /_fake/tokens':
          return send(200, { pats: [...auth.pats.keys()], installations: ds.installations.map((i) => ({ id: i.id, account: i.account.login, repositories: [...ds.repos.values()].filter((r) => i.repoIds.has(r.id)).map((r) => r.full_name) })), app_id: auth.appId });
        default:
          return send(404, { message: 'Not Found', documentation_url: 'see tests/fake-github/README.md', status: '404' });
      }
    } catch (e) {
      return send(e.status || 400, { message: e.message });
    }
  }

  function publicConfig() {
    const { tokens, privilegedTokens, faults: _f, ...rest } = cfg;
    return { ...rest, tokens, privilegedTokens, now: iso(ds.now()), clockPinned: !!ds.clockPinned };
  }

  function parseNumbers(s) {
    if (!s) return null;
    const set = new Set();
    for (const part of s.split(',')) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
      if (!m) continue;
      const a = Number(m[1]), b = m[2] ? Number(m[2]) : a;
      for (let i = a; i <= b && i - a < 1_000_000; i++) set.add(i);
    }
    return set;
  }

  function sendTruth(url, send) {
    const full = url.searchParams.get('repo');
    const repo = full && ds.repoByFull(full);
    if (!repo) return send(404, { message: `unknown repo ${full}; known: ${[...ds.repos.values()].map((r) => r.full_name).join(', ')}` });
    const S = state.shapes;
    const nums = parseNumbers(url.searchParams.get('numbers'));
    const inc2 = url.searchParams.get('include');
    const want = (k) => !inc2 || inc2.split(',').includes(k);
    const prs = repo.pulls.filter((p) => !nums || nums.has(p.number));
    const items = repo.items.filter((p) => !nums || nums.has(p.number));
    const out = { generated: { seed: cfg.seed, dataset: cfg.dataset, now: iso(ds.now()), version: ds.version } };
    if (want('repository')) out.repository = S.repo(repo);
    if (want('pull_requests')) out.pull_requests = prs.map((p) => S.prFull(p));
    if (want('issues')) out.issues = items.filter((i) => i.kind === 'issue').map((i) => S.issue(i, true));
    if (want('files')) {
      out.files = {};
      for (const p of prs) out.files[p.number] = p.files.map((f, i) => (i >= 3000 ? { ...S.file(p, f), _fake_beyond_cap: true } : S.file(p, f)));
    }
    if (want('reviews')) { out.reviews = {}; for (const p of prs) out.reviews[p.number] = p.reviews.map((r) => S.review(r)); }
    if (want('review_comments')) { out.review_comments = {}; for (const p of prs) out.review_comments[p.number] = p.reviewComments.map((c) => S.reviewComment(c)); }
    if (want('issue_comments')) { out.issue_comments = {}; for (const it of items) out.issue_comments[it.number] = it.issueComments.map((c) => S.issueComment(c)); }
    if (want('users')) {
      const us = new Set([repo.owner]);
      for (const it of items) {
        for (const u of [it.author, it.merged_by, it.closed_by, ...(it.assignees || []), ...(it.requested_reviewers || [])]) if (u) us.add(u);
        for (const c of it.issueComments) if (c.user) us.add(c.user);
        if (it.kind === 'pr') {
          for (const r of it.reviews) if (r.user) us.add(r.user);
          for (const c of it.reviewComments) if (c.user) us.add(c.user);
        }
      }
      out.users = [...us].sort((a, b) => a.id - b.id).map((u) => S.fullUser(u));
    }
    return send(200, out);
  }

  const server = http.createServer((req, res) => { handle(req, res); });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  server.maxHeadersCount = 0;

  return {
    state, server, cfg,
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(cfg.port, cfg.host, () => {
          const addr = server.address();
          const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
          state.base = `http://${host}:${addr.port}`;
          state.shapes = new Shapes(ds, state.base);
          resolve(state.base);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
}

/** Convenience for tests: create + listen, returns {url, fake, close}. */
export async function startFake(options = {}) {
  const fake = createFake({ quiet: true, ...options });
  const url = await fake.listen();
  return { url, fake, state: fake.state, close: () => fake.close() };
}
