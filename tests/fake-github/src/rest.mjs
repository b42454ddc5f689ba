// REST routes (GitHub API 2022-11-28 semantics) over the dataset.
// Each handler gets ctx = {method, path, query:URLSearchParams, params, cred, ds, shapes, cfg, body, req}
// and returns {status, json, lastModified?, link?} or throws HttpError.
import { parseTime } from './util.mjs';

export class HttpError extends Error {
  constructor(status, message, extra = {}) { super(message); this.status = status; this.extra = extra; }
}

const DOC = 'https://docs.github.com/rest';
export const DOCS = {
  repo: `${DOC}/repos/repos#get-a-repository`,
  pulls: `${DOC}/pulls/pulls#list-pull-requests`,
  pull: `${DOC}/pulls/pulls#get-a-pull-request`,
  files: `${DOC}/pulls/pulls#list-pull-requests-files`,
  commits: `${DOC}/pulls/pulls#list-commits-on-a-pull-request`,
  reviews: `${DOC}/pulls/reviews#list-reviews-for-a-pull-request`,
  review: `${DOC}/pulls/reviews#get-a-review-for-a-pull-request`,
  rcs: `${DOC}/pulls/comments#list-review-comments-on-a-pull-request`,
  rcsRepo: `${DOC}/pulls/comments#list-review-comments-in-a-repository`,
  rc: `${DOC}/pulls/comments#get-a-review-comment-for-a-pull-request`,
  ics: `${DOC}/issues/comments#list-issue-comments`,
  icsRepo: `${DOC}/issues/comments#list-issue-comments-for-a-repository`,
  ic: `${DOC}/issues/comments#get-an-issue-comment`,
  issues: `${DOC}/issues/issues#list-repository-issues`,
  issue: `${DOC}/issues/issues#get-an-issue`,
  user: `${DOC}/users/users#get-a-user`,
  rate: `${DOC}/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user`,
};

export function notFound(doc = DOC) { return new HttpError(404, 'Not Found', { documentation_url: doc }); }
function validationFailed(field, value, resource, doc) {
  return new HttpError(422, 'Validation Failed', { errors: [{ resource, field, code: 'invalid', value }], documentation_url: doc });
}

// ------------------------------------------------------------------ pagination
export function pageParams(q) {
  let per = parseInt(q.get('per_page') ?? '', 10);
  if (!Number.isFinite(per) || per < 1) per = 30;
  if (per > 100) per = 100; // GitHub silently clamps
  let page = parseInt(q.get('page') ?? '', 10);
  if (!Number.isFinite(page) || page < 1) page = 1;
  return { per, page };
}

/** GitHub-format Link header: prev, next, last, first (absent ones omitted). */
export function linkHeader(ctx, page, lastPage) {
  if (lastPage <= 1 && page <= 1) return null;
  const mk = (p) => {
    const q = new URLSearchParams(ctx.query);
    if (q.has('page')) q.set('page', String(p)); else q.append('page', String(p));
    return `<${ctx.shapes.B}${ctx.linkPath}?${q.toString()}>`;
  };
  const parts = [];
  if (page > 1) parts.push(`${mk(Math.min(page - 1, Math.max(lastPage, 1)))}; rel="prev"`);
  if (page < lastPage) parts.push(`${mk(page + 1)}; rel="next"`);
  if (page < lastPage) parts.push(`${mk(lastPage)}; rel="last"`);
  if (page > 1) parts.push(`${mk(1)}; rel="first"`);
  return parts.length ? parts.join(', ') : null;
}

function paginate(ctx, list, ser) {
  const { per, page } = pageParams(ctx.query);
  const lastPage = Math.max(1, Math.ceil(list.length / per));
  const slice = list.slice((page - 1) * per, page * per);
  return { json: slice.map(ser), link: linkHeader(ctx, page, list.length ? lastPage : 1) };
}

// ------------------------------------------------------------------ helpers
function getRepo(ctx, doc = DOCS.repo) {
  const repo = ctx.ds.repo(ctx.params.owner, ctx.params.repo);
  if (!repo || !ctx.cred.canSee(repo)) throw notFound(doc);
  ctx.repo = repo;
  return repo;
}
function getItem(ctx, kind, doc) {
  const repo = getRepo(ctx, doc);
  const n = Number(ctx.params.number);
  const it = Number.isInteger(n) ? repo.byNumber.get(n) : null;
  if (!it || (kind && it.kind !== kind)) throw notFound(doc);
  return it;
}
function sinceParam(ctx, doc) {
  const s = ctx.query.get('since');
  if (s === null || s === '') return null;
  const t = parseTime(s);
  if (Number.isNaN(t)) throw validationFailed('since', s, 'Issue', doc);
  return t;
}
function enumParam(ctx, name, allowed, dflt, resource, doc) {
  const v = ctx.query.get(name);
  if (v === null || v === '') return dflt;
  if (!allowed.includes(v)) throw validationFailed(name, v, resource, doc);
  return v;
}
function sortList(list, keyFn, dir) {
  const d = dir === 'desc' ? -1 : 1;
  return [...list].sort((a, b) => d * (keyFn(a) - keyFn(b) || a.id - b.id));
}
const maxUpdated = (list, dflt) => list.reduce((m, x) => Math.max(m, x.updated_at), dflt);

// ------------------------------------------------------------------ handlers
const H = {
  root(ctx) {
    const B = ctx.shapes.B;
    return {
      json: {
        current_user_url: `${B}/user`, rate_limit_url: `${B}/rate_limit`, repository_url: `${B}/repos/{owner}/{repo}`,
        user_url: `${B}/users/{user}`, issue_comment_url: `${B}/repos/{owner}/{repo}/issues/comments/{id}`,
        pull_request_url: `${B}/repos/{owner}/{repo}/pulls/{number}`, graphql_url: `${B}/graphql`,
      },
    };
  },

  rateLimit(ctx) {
    const L = ctx.limiter, k = ctx.cred.key;
    const res = {};
    for (const r of ['core', 'search', 'graphql', 'integration_manifest', 'source_import', 'code_scanning_upload', 'actions_runner_registration', 'scim', 'dependency_snapshots', 'code_search']) {
      const s = L.peek(k, r);
      res[r] = { limit: s.limit, used: s.used, remaining: s.remaining, reset: s.reset };
    }
    return { json: { resources: res, rate: res.core }, noCache: true };
  },

  getRepo(ctx) {
    const repo = getRepo(ctx);
    return { json: ctx.shapes.repo(repo), lastModified: repo.updated_at };
  },

  listPulls(ctx) {
    const repo = getRepo(ctx, DOCS.pulls);
    const state = enumParam(ctx, 'state', ['open', 'closed', 'all'], 'open', 'PullRequest', DOCS.pulls);
    const sort = enumParam(ctx, 'sort', ['created', 'updated', 'popularity', 'long-running'], 'created', 'PullRequest', DOCS.pulls);
    const dir = enumParam(ctx, 'direction', ['asc', 'desc'], sort === 'created' ? 'desc' : 'asc', 'PullRequest', DOCS.pulls);
    const base = ctx.query.get('base');
    const head = ctx.query.get('head');
    const list = ctx.ds.memo(`pulls|${repo.id}|${state}|${sort}|${dir}|${base}|${head}`, () => filterSortPulls(ctx, repo, state, sort, dir, base, head));
    return { ...paginate(ctx, list, (p) => ctx.shapes.prSimple(p)), lastModified: repo.updated_at };
  },

  getPull(ctx) {
    const pr = getItem(ctx, 'pr', DOCS.pull);
    return { json: ctx.shapes.prFull(pr), lastModified: pr.updated_at };
  },


  listFiles(ctx) {
    const pr = getItem(ctx, 'pr', DOCS.files);
    // GitHub returns at most 3,000 files for a PR
    return { ...paginate(ctx, pr.files.slice(0, 3000), (f) => ctx.shapes.file(pr, f)), lastModified: pr.updated_at };
  },

  listCommits(ctx) {
    const pr = getItem(ctx, 'pr', DOCS.commits);
    const idx = Array.from({ length: Math.min(250, pr.nCommits) }, (_, i) => i); // capped at 250
    return { ...paginate(ctx, idx, (i) => ctx.shapes.commit(pr, i)), lastModified: pr.updated_at };
  },

  listReviews(ctx) {
    const pr = getItem(ctx, 'pr', DOCS.reviews);
    return { ...paginate(ctx, pr.reviews, (r) => ctx.shapes.review(r)), lastModified: pr.updated_at };
  },

  getReview(ctx) {
    const pr = getItem(ctx, 'pr', DOCS.review);
    const rv = pr.reviews.find((r) => r.id === Number(ctx.params.id));
    if (!rv) throw notFound(DOCS.review);
    return { json: ctx.shapes.review(rv), lastModified: rv.submitted_at ?? rv.created_at };
  },

  listReviewCommentsOfReview(ctx) {
    const pr = getItem(ctx, 'pr', DOCS.review);
    const rv = pr.reviews.find((r) => r.id === Number(ctx.params.id));
    if (!rv) throw notFound(DOCS.review);
    // this endpoint returns the "review-comment" shape without a few fields; the full shape is a superset
    return { ...paginate(ctx, pr.reviewComments.filter((c) => c.review === rv), (c) => ctx.shapes.reviewComment(c)), lastModified: pr.updated_at };
  },

  listPullComments(ctx) {
    const pr = getItem(ctx, 'pr', DOCS.rcs);
    return commentList(ctx, pr.reviewComments, (c) => ctx.shapes.reviewComment(c), DOCS.rcs, pr.updated_at, 'PullRequestReviewComment');
  },

  listRepoPullComments(ctx) {
    const repo = getRepo(ctx, DOCS.rcsRepo);
    const all = [];
    for (const p of repo.pulls) for (const c of p.reviewComments) all.push(c);
    return commentList(ctx, all, (c) => ctx.shapes.reviewComment(c), DOCS.rcsRepo, repo.updated_at, 'PullRequestReviewComment', true);
  },

  getPullComment(ctx) {
    const repo = getRepo(ctx, DOCS.rc);
    const id = Number(ctx.params.id);
    for (const p of repo.pulls) {
      const c = p.reviewComments.find((x) => x.id === id);
      if (c) return { json: ctx.shapes.reviewComment(c), lastModified: c.updated_at };
    }
    throw notFound(DOCS.rc);
  },

  listIssueComments(ctx) {
    const it = getItem(ctx, null, DOCS.ics);
    return commentList(ctx, it.issueComments, (c) => ctx.shapes.issueComment(c), DOCS.ics, it.updated_at, 'IssueComment', false, true);
  },

  listRepoIssueComments(ctx) {
    const repo = getRepo(ctx, DOCS.icsRepo);
    const all = [];
    for (const it of repo.items) for (const c of it.issueComments) all.push(c);
    return commentList(ctx, all, (c) => ctx.shapes.issueComment(c), DOCS.icsRepo, repo.updated_at, 'IssueComment', true);
  },

  getIssueComment(ctx) {
    const repo = getRepo(ctx, DOCS.ic);
    const id = Number(ctx.params.id);
    for (const it of repo.items) {
      const c = it.issueComments.find((x) => x.id === id);
      if (c) return { json: ctx.shapes.issueComment(c), lastModified: c.updated_at };
    }
    throw notFound(DOCS.ic);
  },

  listIssues(ctx) {
    const repo = getRepo(ctx, DOCS.issues);
    const state = enumParam(ctx, 'state', ['open', 'closed', 'all'], 'open', 'Issue', DOCS.issues);
    const sort = enumParam(ctx, 'sort', ['created', 'updated', 'comments'], 'created', 'Issue', DOCS.issues);
    const dir = enumParam(ctx, 'direction', ['asc', 'desc'], 'desc', 'Issue', DOCS.issues);
    const since = sinceParam(ctx, DOCS.issues);
    let list = repo.items;
    if (state !== 'all') list = list.filter((i) => i.state === state);
    if (since !== null) list = list.filter((i) => i.updated_at >= since);
    const labels = ctx.query.get('labels');
    if (labels) { const want = labels.split(',').map((s) => s.trim()); list = list.filter((i) => want.every((w) => i.labels.some((l) => l.name === w))); }
    const creator = ctx.query.get('creator');
    if (creator) list = list.filter((i) => i.author && i.author.login.toLowerCase() === creator.toLowerCase());
    const key = sort === 'updated' ? (i) => i.updated_at : sort === 'comments' ? (i) => i.issueComments.length : (i) => i.created_at;
    const d = dir === 'desc' ? -1 : 1;
    list = [...list].sort((a, b) => d * (key(a) - key(b) || a.number - b.number));
    return { ...paginate(ctx, list, (i) => ctx.shapes.issue(i)), lastModified: repo.updated_at };
  },

  getIssue(ctx) {
    const it = getItem(ctx, null, DOCS.issue);
    return { json: ctx.shapes.issue(it, true), lastModified: it.updated_at };
  },

  getUser(ctx) {
    const u = ctx.ds.user(ctx.params.login);
    if (!u) throw notFound(DOCS.user);
    return { json: ctx.shapes.fullUser(u), lastModified: u.updated_at };
  },

  getAuthUser(ctx) {
    if (ctx.cred.kind === 'installation') throw new HttpError(403, 'Resource not accessible by integration', { documentation_url: `${DOC}/users/users#get-the-authenticated-user` });
    return { json: ctx.shapes.fullUser(ctx.ds.viewer), lastModified: ctx.ds.viewer.updated_at };
  },

  installationRepos(ctx) {
    if (ctx.cred.kind !== 'installation') throw new HttpError(403, 'You must authenticate with an installation access token in order to list repositories for an installation.', { documentation_url: `${DOC}/apps/installations#list-repositories-accessible-to-the-app-installation` });
    const inst = ctx.ds.installationById(ctx.cred.installationId);
    const repos = [...ctx.ds.repos.values()].filter((r) => inst.repoIds.has(r.id)).sort((a, b) => a.id - b.id);
    const p = paginate(ctx, repos, (r) => ctx.shapes.repoEmbedded(r));
    return { json: { total_count: repos.length, repository_selection: 'all', repositories: p.json }, link: p.link };
  },
};

function filterSortPulls(ctx, repo, state, sort, dir, base, head) {
  let list = repo.pulls;
  if (state !== 'all') list = list.filter((p) => p.state === state);
  if (base) list = list.filter((p) => p.baseRef === base);
  if (head) {
    const [u, ref] = head.includes(':') ? head.split(/:(.*)/s) : [null, head];
    list = list.filter((p) => p.headRef === ref && (!u || (p.headRepoDeleted ? p.author?.login : repo.owner.login)?.toLowerCase() === u.toLowerCase()));
  }
  let key;
  if (sort === 'updated') key = (p) => p.updated_at;
  else if (sort === 'popularity') key = (p) => p.issueComments.length;
  else if (sort === 'long-running') {
    const now = ctx.ds.now(), month = 30 * 86400_000;
    list = list.filter((p) => p.created_at < now - month && p.updated_at >= now - month);
    key = (p) => p.updated_at - p.created_at;
  } else key = (p) => p.created_at;
  return sortList(list, key, dir);
}

/** Shared comment-list logic: since filter, optional sort/direction. */
function commentList(ctx, list, ser, doc, lastModified, resource, _repoWide = false, sinceOnly = false) {
  const since = sinceParam(ctx, doc);
  if (since !== null) list = list.filter((c) => c.updated_at >= since);
  if (sinceOnly) list = [...list].sort((a, b) => a.id - b.id);
  else {
    const sort = enumParam(ctx, 'sort', ['created', 'updated'], 'created', resource, doc);
    // direction is ignored without an explicit sort (then: ascending by creation); with sort it defaults to desc
    const dir = ctx.query.get('sort') ? enumParam(ctx, 'direction', ['asc', 'desc'], 'desc', resource, doc) : 'asc';
    list = sortList(list, sort === 'updated' ? (c) => c.updated_at : (c) => c.created_at, dir);
  }
  return { ...paginate(ctx, list, ser), lastModified: Math.max(lastModified, maxUpdated(list, 0)) };
}

// ------------------------------------------------------------------ router
// [method, pattern, template, handler name or fn, options]
const O = '(?<owner>[^/]+)', R = '(?<repo>[^/]+)', N = '(?<number>\\d+)', ID = '(?<id>\\d+)';
const ROUTES = [
  ['GET', '/', '/', 'root', { auth: 'optional' }],
  ['GET', '/rate_limit', '/rate_limit', 'rateLimit', { quota: false }],
  ['GET', '/user', '/user', 'getAuthUser'],
  ['GET', `/users/(?<login>[^/]+)`, '/users/{username}', 'getUser'],
  ['GET', `/repos/${O}/${R}`, '/repos/{owner}/{repo}', 'getRepo'],
  ['GET', `/repos/${O}/${R}/pulls`, '/repos/{owner}/{repo}/pulls', 'listPulls'],
  ['GET', `/repos/${O}/${R}/pulls/comments`, '/repos/{owner}/{repo}/pulls/comments', 'listRepoPullComments'],
  ['GET', `/repos/${O}/${R}/pulls/comments/${ID}`, '/repos/{owner}/{repo}/pulls/comments/{comment_id}', 'getPullComment'],
  ['GET', `/repos/${O}/${R}/pulls/${N}`, '/repos/{owner}/{repo}/pulls/{number}', 'getPull'],
  ['GET', `/repos/${O}/${R}/pulls/${N}/files`, '/repos/{owner}/{repo}/pulls/{number}/files', 'listFiles'],
  ['GET', `/repos/${O}/${R}/pulls/${N}/commits`, '/repos/{owner}/{repo}/pulls/{number}/commits', 'listCommits'],
  ['GET', `/repos/${O}/${R}/pulls/${N}/reviews`, '/repos/{owner}/{repo}/pulls/{number}/reviews', 'listReviews'],
  ['GET', `/repos/${O}/${R}/pulls/${N}/reviews/${ID}`, '/repos/{owner}/{repo}/pulls/{number}/reviews/{review_id}', 'getReview'],
  ['GET', `/repos/${O}/${R}/pulls/${N}/reviews/${ID}/comments`, '/repos/{owner}/{repo}/pulls/{number}/reviews/{review_id}/comments', 'listReviewCommentsOfReview'],
  ['GET', `/repos/${O}/${R}/pulls/${N}/comments`, '/repos/{owner}/{repo}/pulls/{number}/comments', 'listPullComments'],
  ['GET', `/repos/${O}/${R}/issues`, '/repos/{owner}/{repo}/issues', 'listIssues'],
  ['GET', `/repos/${O}/${R}/issues/comments`, '/repos/{owner}/{repo}/issues/comments', 'listRepoIssueComments'],
  ['GET', `/repos/${O}/${R}/issues/comments/${ID}`, '/repos/{owner}/{repo}/issues/comments/{comment_id}', 'getIssueComment'],
  ['GET', `/repos/${O}/${R}/issues/${N}`, '/repos/{owner}/{repo}/issues/{number}', 'getIssue'],
  ['GET', `/repos/${O}/${R}/issues/${N}/comments`, '/repos/{owner}/{repo}/issues/{number}/comments', 'listIssueComments'],
  ['GET', '/installation/repositories', '/installation/repositories', 'installationRepos'],
].map(([m, p, t, h, o]) => ({ method: m, re: new RegExp(`^${p}/?$`), template: t, handler: typeof h === 'string' ? H[h] : h, opts: o || {} }));

/** Extra route tables (app, actions, graphql) are registered by server.mjs. */
export function makeRouter(extra) {
  const all = [...ROUTES, ...extra.map(([m, p, t, h, o]) => ({ method: m, re: new RegExp(`^${p}/?$`), template: t, handler: h, opts: o || {} }))];
  return function route(method, path) {
    const m2 = method === 'HEAD' ? 'GET' : method;
    let methodMismatch = null;
    for (const r of all) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.method !== m2) { methodMismatch = r; continue; }
      const params = {};
      for (const [k, v] of Object.entries(m.groups || {})) params[k] = safeDecode(v);
      return { ...r, params };
    }
    return methodMismatch ? { methodMismatch: true, template: methodMismatch.template } : null;
  };
}

export const ROUTE_PATTERNS = { O, R, N, ID };
export function safeDecode(v) { try { return decodeURIComponent(v); } catch { return v; } }
