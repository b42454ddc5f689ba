// POST /graphql: parse + validate against GitHub's published schema (@octokit/graphql-schema),
// enforce GitHub's pagination / node limits, charge the documented point cost, then execute with
// resolvers over the dataset records. Error bodies mimic GitHub (graphql-ruby) wording.
import {
  buildClientSchema, parse, validate, execute, visit, Kind, GraphQLError, getVariableValues,
  getNamedType, isNonNullType, isListType, isScalarType, isEnumType, isObjectType,
} from 'graphql';
import { schema as ghSchema } from '@octokit/graphql-schema';
import { analyze } from './cost.mjs';
import { iso, parseTime } from './util.mjs';

let _schema = null;
/** GitHub's schema, built once (buildClientSchema; buildSchema(idl) throws on duplicate fields). */
export function getSchema() {
  if (!_schema) _schema = buildClientSchema(ghSchema.json);
  return _schema;
}

// ------------------------------------------------------------------ error translation
function pathIndex(doc) {
  const map = new Map();
  const stack = [];
  visit(doc, {
    enter(node) {
      let label = null;
      if (node.kind === Kind.OPERATION_DEFINITION) label = node.name ? `${node.operation} ${node.name.value}` : node.operation;
      else if (node.kind === Kind.FRAGMENT_DEFINITION) label = `fragment ${node.name.value}`;
      else if (node.kind === Kind.FIELD) label = node.alias ? node.alias.value : node.name.value;
      else if (node.kind === Kind.INLINE_FRAGMENT) label = node.typeCondition ? `... on ${node.typeCondition.name.value}` : '...';
      if (label !== null) stack.push(label);
      map.set(node, [...stack]);
      node.__pushed = label !== null;
    },
    leave(node) { if (node.__pushed) stack.pop(); delete node.__pushed; },
  });
  return map;
}

/** Convert a graphql-js validation error to GitHub's (graphql-ruby) style. */
export function githubStyleError(err, paths) {
  const msg = err.message;
  const out = { path: undefined, extensions: undefined, locations: err.locations, message: msg };
  const node = err.nodes?.[0];
  if (node && paths) out.path = paths.get(node);
  let m;
  if ((m = /^Cannot query field "([^"]+)" on type "([^"]+)"\./.exec(msg))) {
    out.message = `Field '${m[1]}' doesn't exist on type '${m[2]}'`;
    out.extensions = { code: 'undefinedField', typeName: m[2], fieldName: m[1] };
  } else if ((m = /^Unknown argument "([^"]+)" on field "([^".]+)\.([^"]+)"\./.exec(msg))) {
    out.message = `Field '${m[3]}' doesn't accept argument '${m[1]}'`;
    out.extensions = { code: 'argumentNotAccepted', name: m[3], typeName: 'Field', argumentName: m[1] };
  } else if ((m = /^Field "([^".]+)\.([^"]+)" argument "([^"]+)" of type "([^"]+)" is required, but it was not provided\./.exec(msg))) {
    out.message = `Field '${m[2]}' is missing required arguments: ${m[3]}`;
    out.extensions = { code: 'missingRequiredArguments', className: 'Field', name: m[2], arguments: m[3] };
  } else if ((m = /^Variable "\$([^"]+)" is not defined(?: by operation "([^"]+)")?\./.exec(msg))) {
    out.message = `Variable $${m[1]} is used by ${m[2] ?? 'anonymous query'} but not declared`;
    out.extensions = { code: 'variableNotDefined', variableName: m[1] };
  } else if ((m = /^Variable "\$([^"]+)" is never used(?: in operation "([^"]+)")?\./.exec(msg))) {
    out.message = `Variable $${m[1]} is declared by ${m[2] ?? 'anonymous query'} but not used`;
    out.extensions = { code: 'variableNotUsed', variableName: m[1] };
  } else if ((m = /^Field "([^"]+)" of type "([^"]+)" must have a selection of subfields/.exec(msg))) {
    out.message = `Field must have selections (field '${m[1]}' returns ${m[2]} but has no selections. Did you mean '${m[1]} { ... }'?)`;
    out.extensions = { code: 'selectionMismatch', nodeName: `field '${m[1]}'`, typeName: m[2] };
  } else if ((m = /^Field "([^"]+)" must not have a selection since type "([^"]+)" has no subfields\./.exec(msg))) {
    out.message = `Selections can't be made on scalars (field '${m[1]}' returns ${m[2]} but has selections)`;
    out.extensions = { code: 'selectionMismatch', nodeName: `field '${m[1]}'`, typeName: m[2] };
  } else if ((m = /^Unknown type "([^"]+)"\./.exec(msg))) {
    out.message = `No such type ${m[1]}, so it can't be a fragment condition`;
    out.extensions = { code: 'undefinedType', typeName: m[1] };
  } else if ((m = /^Unknown fragment "([^"]+)"\./.exec(msg))) {
    out.message = `Fragment ${m[1]} was used, but not defined`;
    out.extensions = { code: 'useAndDefineFragment', fragmentName: m[1] };
  } else if ((m = /^Fragment "([^"]+)" is never used\./.exec(msg))) {
    out.message = `Fragment ${m[1]} was defined, but not used`;
    out.extensions = { code: 'useAndDefineFragment', fragmentName: m[1] };
  } else if ((m = /^Variable "\$([^"]+)" of type "([^"]+)" used in position expecting type "([^"]+)"\./.exec(msg))) {
    out.message = `Nullability mismatch on variable $${m[1]} and argument (${m[2]} / ${m[3]})`;
    out.extensions = { code: 'variableMismatch', variableName: m[1], typeName: m[2] };
  } else if ((m = /^Fragment (?:"[^"]+" )?cannot be spread here as objects of type "([^"]+)" can never be of type "([^"]+)"\./.exec(msg))) {
    out.message = `Fragment on ${m[2]} can't be spread inside ${m[1]}`;
    out.extensions = { code: 'fragmentSpreadTypeMismatch', fragmentName: '...', typeName: m[2] };
  } else if (/cannot represent|Expected value of type/.test(msg)) {
    out.message = msg.replace(/"/g, "'");
    out.extensions = { code: 'argumentLiteralsIncompatible', typeName: 'CoercionError' };
  } else if ((m = /^There can be only one operation named "([^"]+)"\./.exec(msg))) {
    out.message = `Operation name "${m[1]}" must be unique`;
    out.extensions = { code: 'uniquelyNamedOperations', operationName: m[1] };
  } else {
    out.extensions = { code: 'validationError' };
  }
  if (!out.path) delete out.path;
  return out;
}

function parseErrorToGitHub(err) {
  const loc = err.locations?.[0] || { line: 1, column: 1 };
  const m = /found (.+?)\.?$/.exec(err.message);
  let tok = m ? m[1] : 'end of file';
  tok = tok.replace(/^"(.*)"$/, '$1');
  const names = { '}': 'RCURLY', '{': 'LCURLY', ')': 'RPAREN', '(': 'LPAREN', ':': 'COLON', '<EOF>': 'end of file', '$': 'VAR_SIGN', '!': 'BANG', '[': 'LBRACKET', ']': 'RBRACKET' };
  const desc = tok === '<EOF>' ? 'end of file' : `"${tok}" (${names[tok] || 'IDENTIFIER'})`;
  return { message: `Parse error on ${desc} at [${loc.line}, ${loc.column}]`, locations: [loc] };
}

function notFound(message, type = 'NOT_FOUND') { return new GraphQLError(message, { extensions: { type } }); }

// ------------------------------------------------------------------ connections
function encCursor(i, key) { return Buffer.from(`cursor:v2:${JSON.stringify([i, key])}`).toString('base64'); }
function decCursor(c) {
  try {
    const s = Buffer.from(String(c), 'base64').toString('utf8');
    if (!s.startsWith('cursor:v2:')) return null;
    const v = JSON.parse(s.slice(10));
    return Array.isArray(v) && Number.isInteger(v[0]) ? v : null;
  } catch { return null; }
}

/**
 * Relay connection over an in-memory list. keyOf gives a stable identity used to re-locate cursors
 * when the list changes between pages (GitHub cursors are also key-based, not offsets).
 */
export function connection(items, args, keyOf = (x, i) => i) {
  const n = items.length;
  const locate = (c, name) => {
    const v = decCursor(c);
    if (!v) throw notFound(`\`${name}\` does not appear to be a valid cursor.`, 'INVALID_CURSOR_ARGUMENTS');
    const [i, key] = v;
    if (key !== undefined && key !== null) {
      if (i < n && keyOf(items[i], i) === key) return i;
      const j = items.findIndex((x, k) => keyOf(x, k) === key);
      if (j >= 0) return j;
    }
    return Math.min(i, n);
  };
  let start = 0, end = n;
  if (args.after != null) start = Math.min(n, locate(args.after, 'after') + 1);
  if (args.before != null) end = Math.max(start, locate(args.before, 'before'));
  if (args.skip != null && args.skip > 0) start = Math.min(end, start + args.skip);
  if (args.first != null && end - start > args.first) end = start + Math.max(0, args.first);
  if (args.last != null && end - start > args.last) start = end - Math.max(0, args.last);
  const slice = items.slice(start, end);
  let edges = null;
  return {
    totalCount: n,
    nodes: slice,
    get edges() { return (edges ??= slice.map((node, k) => ({ cursor: encCursor(start + k, keyOf(node, start + k)), node }))); },
    pageInfo: {
      hasNextPage: end < n,
      hasPreviousPage: start > 0,
      startCursor: slice.length ? encCursor(start, keyOf(slice[0], start)) : null,
      endCursor: slice.length ? encCursor(end - 1, keyOf(slice[slice.length - 1], end - 1)) : null,
    },
  };
}
const byId = (x) => x.id;

// ------------------------------------------------------------------ resolvers
const WEB = 'https://github.com';
const prState = (pr) => (pr.merged ? 'MERGED' : pr.state === 'open' ? 'OPEN' : 'CLOSED');
const CHANGE = { added: 'ADDED', removed: 'DELETED', modified: 'MODIFIED', renamed: 'RENAMED', copied: 'COPIED', changed: 'CHANGED', unchanged: 'CHANGED' };
const bigint = (x) => (x === null || x === undefined ? null : String(x));
const text = (s) => (s ?? '').replace(/[`*_#>]/g, '');

function visibleRepo(ctx, repo) { return repo && ctx.cred.canSee(repo); }
function visibleNode(ctx, rec) {
  if (!rec) return null;
  const repo = rec.kind === 'repo' ? rec : rec.repo || rec.pr?.repo || rec.item?.repo;
  if (repo && !visibleRepo(ctx, repo)) return null;
  return rec;
}

function actorLogin(u) { return u.type === 'Bot' ? u.appSlug : u.login; }
const actorFields = {
  id: (u) => u.node_id,
  databaseId: (u) => u.id,
  login: (u) => actorLogin(u),
  name: (u) => u.name ?? null,
  avatarUrl: (u) => `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
  url: (u) => (u.type === 'Bot' ? `${WEB}/apps/${u.appSlug}` : `${WEB}/${u.login}`),
  resourcePath: (u) => (u.type === 'Bot' ? `/apps/${u.appSlug}` : `/${u.login}`),
  createdAt: (u) => iso(u.created_at),
  updatedAt: (u) => iso(u.updated_at),
  email: (u) => u.email ?? '',
  company: (u) => u.company ?? null,
  location: (u) => u.location ?? null,
  bio: (u) => u.bio ?? null,
  websiteUrl: () => null,
  twitterUsername: () => null,
  isSiteAdmin: () => false,
  isBountyHunter: () => false,
  description: (u) => u.description ?? null,
  followers: (u, a) => ({ ...connection([], a), totalCount: u.followers ?? 0 }),
  following: (u, a) => ({ ...connection([], a), totalCount: u.following ?? 0 }),
};

function commitObj(pr, idx) { return { kind: 'commit', pr, idx }; }

function comments(list, a) { return connection(list, a, byId); }

function prResolvers() {
  return {
    id: (pr, a, ctx) => ctx.ds.nid(pr),
    databaseId: (pr) => pr.id,
    fullDatabaseId: (pr) => bigint(pr.id),
    number: (pr) => pr.number,
    title: (pr) => pr.title,
    titleHTML: (pr) => pr.title,
    body: (pr, a, ctx) => ctx.ds.itemBody(pr) ?? '',
    bodyText: (pr, a, ctx) => text(ctx.ds.itemBody(pr)),
    bodyHTML: (pr, a, ctx) => ctx.ds.itemBody(pr) ?? '',
    state: (pr) => prState(pr),
    isDraft: (pr) => pr.draft,
    merged: (pr) => pr.merged,
    mergedAt: (pr) => iso(pr.merged_at),
    mergedBy: (pr) => pr.merged_by,
    closed: (pr) => pr.state === 'closed',
    closedAt: (pr) => iso(pr.closed_at),
    createdAt: (pr) => iso(pr.created_at),
    updatedAt: (pr) => iso(pr.updated_at),
    publishedAt: (pr) => iso(pr.created_at),
    lastEditedAt: () => null,
    url: (pr) => `${WEB}/${pr.repo.full_name}/pull/${pr.number}`,
    permalink: (pr) => `${WEB}/${pr.repo.full_name}/pull/${pr.number}`,
    resourcePath: (pr) => `/${pr.repo.full_name}/pull/${pr.number}`,
    additions: (pr, a, ctx) => ctx.ds.prAdditions(pr),
    deletions: (pr, a, ctx) => ctx.ds.prDeletions(pr),
    changedFiles: (pr) => pr.files.length,
    baseRefName: (pr) => pr.baseRef,
    headRefName: (pr) => pr.headRef,
    headRefOid: (pr, a, ctx) => ctx.ds.headSha(pr),
    baseRefOid: (pr, a, ctx) => ctx.ds.baseSha(pr),
    mergeCommit: (pr, a, ctx) => (pr.merged ? { kind: 'commit', pr, oid: ctx.ds.mergeSha(pr) } : null),
    potentialMergeCommit: (pr, a, ctx) => (pr.state === 'open' ? { kind: 'commit', pr, oid: ctx.ds.mergeSha(pr) } : null),
    mergeable: (pr) => (pr.mergeable === true ? 'MERGEABLE' : pr.mergeable === false ? 'CONFLICTING' : 'UNKNOWN'),
    locked: (pr) => pr.locked,
    activeLockReason: (pr) => (pr.active_lock_reason ? pr.active_lock_reason.toUpperCase().replace(/ /g, '_') : null),
    author: (pr) => pr.author,
    authorAssociation: (pr, a, ctx) => ctx.ds.association(pr.author, pr.repo),
    repository: (pr) => pr.repo,
    baseRepository: (pr) => pr.repo,
    headRepository: (pr) => (pr.headRepoDeleted ? null : pr.repo),
    headRepositoryOwner: (pr) => (pr.headRepoDeleted ? null : pr.repo.owner),
    isCrossRepository: (pr) => !!pr.headRepoDeleted,
    maintainerCanModify: (pr) => pr.maintainer_can_modify,
    totalCommentsCount: (pr) => pr.issueComments.length + pr.reviewComments.length,
    reviewDecision: (pr) => {
      const last = new Map();
      for (const r of pr.reviews) if (r.user && (r.state === 'APPROVED' || r.state === 'CHANGES_REQUESTED')) last.set(r.user.id, r.state);
      const v = [...last.values()];
      if (v.includes('CHANGES_REQUESTED')) return 'CHANGES_REQUESTED';
      if (v.includes('APPROVED')) return 'APPROVED';
      return pr.state === 'open' ? 'REVIEW_REQUIRED' : null;
    },
    commits: (pr, a) => connection(Array.from({ length: pr.nCommits }, (_, i) => ({ kind: 'prcommit', pr, idx: i })), a, (x) => x.idx),
    files: (pr, a) => connection(pr.files, a, (f) => f.path),
    reviews: (pr, a) => {
      let list = pr.reviews;
      if (a.states?.length) list = list.filter((r) => a.states.includes(r.state));
      if (a.author) list = list.filter((r) => r.user && r.user.login.toLowerCase() === String(a.author).toLowerCase());
      return connection(list, a, byId);
    },
    reviewThreads: (pr, a) => connection(pr.threads, a, byId),
    comments: (pr, a) => {
      let list = pr.issueComments;
      if (a.orderBy?.direction === 'DESC') list = [...list].reverse();
      return comments(list, a);
    },
    labels: (pr, a) => connection(pr.labels, a, (l) => l.id),
    assignees: (pr, a) => connection(pr.assignees, a, (u) => u.id),
    reviewRequests: (pr, a) => connection(pr.requested_reviewers.map((u) => ({ kind: 'reviewRequest', pr, user: u })), a, (x) => x.user.id),
    participants: (pr, a) => {
      const s = new Set([pr.author, ...pr.reviews.map((r) => r.user), ...pr.issueComments.map((c) => c.user)].filter(Boolean));
      return connection([...s], a, (u) => u.id);
    },
    closingIssuesReferences: (pr, a) => connection([], a),
    isInMergeQueue: () => false,
    viewerDidAuthor: () => false,
    viewerCanUpdate: () => false,
  };
}

const RESOLVERS = {
  Query: {
    repository: (_, a, ctx) => {
      const repo = ctx.ds.repo(a.owner, a.name);
      if (!visibleRepo(ctx, repo)) throw notFound(`Could not resolve to a Repository with the name '${a.owner}/${a.name}'.`);
      return repo;
    },
    rateLimit: (_, a, ctx) => ({ kind: 'rateLimit' }),
    node: (_, a, ctx) => visibleNode(ctx, ctx.ds.nodeLookup(a.id)),
    nodes: (_, a, ctx) => a.ids.map((id) => {
      const r = visibleNode(ctx, ctx.ds.nodeLookup(id));
      if (!r) ctx.extraErrors.push({ type: 'NOT_FOUND', path: ['nodes'], message: `Could not resolve to a node with the global id of '${id}'` });
      return r;
    }),
    viewer: (_, a, ctx) => {
      if (ctx.cred.kind === 'installation') throw notFound('Resource not accessible by integration', 'FORBIDDEN');
      return ctx.ds.viewer;
    },
    user: (_, a, ctx) => {
      const u = ctx.ds.user(a.login);
      if (!u || u.type !== 'User' || u.isGhostAccount) throw notFound(`Could not resolve to a User with the login of '${a.login}'.`);
      return u;
    },
    organization: (_, a, ctx) => {
      const u = ctx.ds.user(a.login);
      if (!u || u.type !== 'Organization') throw notFound(`Could not resolve to an Organization with the login of '${a.login}'.`);
      return u;
    },
    repositoryOwner: (_, a, ctx) => {
      const u = ctx.ds.user(a.login);
      return u && (u.type === 'User' || u.type === 'Organization') ? u : null;
    },
  },
  RateLimit: {
    limit: (_, a, ctx) => ctx.rate.limit,
    cost: (_, a, ctx) => ctx.analysis.cost,
    remaining: (_, a, ctx) => ctx.rate.remaining,
    used: (_, a, ctx) => ctx.rate.used,
    resetAt: (_, a, ctx) => iso(ctx.rate.resetAt),
    nodeCount: (_, a, ctx) => ctx.analysis.nodeCount,
  },
  Repository: {
    id: (r) => r.node_id,
    databaseId: (r) => r.id,
    name: (r) => r.name,
    nameWithOwner: (r) => r.full_name,
    owner: (r) => r.owner,
    description: (r) => r.description,
    url: (r) => `${WEB}/${r.full_name}`,
    resourcePath: (r) => `/${r.full_name}`,
    homepageUrl: (r) => r.homepage,
    sshUrl: (r) => `git@github.com:${r.full_name}.git`,
    isPrivate: (r) => r.private,
    visibility: (r) => (r.private ? 'PRIVATE' : 'PUBLIC'),
    isFork: () => false, isArchived: () => false, isDisabled: () => false, isEmpty: () => false, isLocked: () => false,
    isMirror: () => false, isTemplate: () => false, isInOrganization: (r) => r.owner.type === 'Organization',
    hasIssuesEnabled: () => true, hasWikiEnabled: () => true, hasProjectsEnabled: () => true, hasDiscussionsEnabled: () => false,
    stargazerCount: (r) => r.stargazers_count,
    forkCount: (r) => r.forks_count,
    diskUsage: (r) => r.size,
    createdAt: (r) => iso(r.created_at),
    updatedAt: (r) => iso(r.updated_at),
    pushedAt: (r) => iso(r.pushed_at),
    viewerPermission: () => 'READ',
    primaryLanguage: (r) => (r.language ? { kind: 'language', name: r.language } : null),
    defaultBranchRef: (r) => ({ kind: 'ref', repo: r, name: r.default_branch }),
    licenseInfo: () => ({ kind: 'license' }),
    stargazers: (r, a) => ({ ...connection([], a), totalCount: r.stargazers_count }),
    watchers: (r, a) => ({ ...connection([], a), totalCount: r.subscribers_count }),
    labels: (r, a) => connection(r.labels, a, (l) => l.id),
    pullRequest: (r, a) => {
      const pr = r.byNumber.get(a.number);
      if (!pr || pr.kind !== 'pr') throw notFound(`Could not resolve to a PullRequest with the number of ${a.number}.`);
      return pr;
    },
    issue: (r, a) => {
      const it = r.byNumber.get(a.number);
      if (!it || it.kind !== 'issue') throw notFound(`Could not resolve to an Issue with the number of ${a.number}.`);
      return it;
    },
    issueOrPullRequest: (r, a) => {
      const it = r.byNumber.get(a.number);
      if (!it) throw notFound(`Could not resolve to an issue or pull request with the number of ${a.number}.`);
      return it;
    },
    pullRequests: (r, a, ctx) => connection(ctx.ds.memo(`gqlpulls|${r.id}|${JSON.stringify([a.states, a.labels, a.baseRefName, a.headRefName, a.orderBy])}`, () => {
      let list = r.pulls;
      if (a.states?.length) list = list.filter((p) => a.states.includes(prState(p)));
      if (a.labels?.length) list = list.filter((p) => p.labels.some((l) => a.labels.includes(l.name)));
      if (a.baseRefName) list = list.filter((p) => p.baseRef === a.baseRefName);
      if (a.headRefName) list = list.filter((p) => p.headRef === a.headRefName);
      return orderItems(list, a.orderBy);
    }), a, byId),
    issues: (r, a) => {
      let list = r.items.filter((i) => i.kind === 'issue');
      const states = a.states || a.filterBy?.states;
      if (states?.length) list = list.filter((i) => states.includes(i.state.toUpperCase()));
      if (a.labels?.length) list = list.filter((i) => i.labels.some((l) => a.labels.includes(l.name)));
      if (a.filterBy?.since) { const s = parseTime(a.filterBy.since); list = list.filter((i) => i.updated_at >= s); }
      if (a.filterBy?.createdBy) list = list.filter((i) => i.author && i.author.login.toLowerCase() === a.filterBy.createdBy.toLowerCase());
      return connection(orderItems(list, a.orderBy), a, byId);
    },
  },
  Ref: {
    id: (ref) => `REF_${Buffer.from(`${ref.repo.id}:${ref.name}`).toString('base64url')}`,
    name: (ref) => ref.name,
    prefix: () => 'refs/heads/',
    repository: (ref) => ref.repo,
    target: () => null,
  },
  Language: { name: (l) => l.name, color: () => '#f34b7d', id: (l) => `L_${Buffer.from(l.name).toString('base64url')}` },
  License: { key: () => 'apache-2.0', name: () => 'Apache License 2.0', spdxId: () => 'Apache-2.0', id: () => 'MDc6TGljZW5zZTI=' },
  PullRequest: prResolvers(),
  Issue: {
    id: (it, a, ctx) => ctx.ds.nid(it),
    databaseId: (it) => it.issueId,
    fullDatabaseId: (it) => bigint(it.issueId),
    number: (it) => it.number,
    title: (it) => it.title,
    body: (it, a, ctx) => ctx.ds.itemBody(it) ?? '',
    bodyText: (it, a, ctx) => text(ctx.ds.itemBody(it)),
    state: (it) => it.state.toUpperCase(),
    stateReason: (it) => (it.state_reason ? it.state_reason.toUpperCase() : null),
    closed: (it) => it.state === 'closed',
    closedAt: (it) => iso(it.closed_at),
    createdAt: (it) => iso(it.created_at),
    updatedAt: (it) => iso(it.updated_at),
    url: (it) => `${WEB}/${it.repo.full_name}/issues/${it.number}`,
    resourcePath: (it) => `/${it.repo.full_name}/issues/${it.number}`,
    author: (it) => it.author,
    authorAssociation: (it, a, ctx) => ctx.ds.association(it.author, it.repo),
    repository: (it) => it.repo,
    locked: (it) => it.locked,
    comments: (it, a) => comments(it.issueComments, a),
    labels: (it, a) => connection(it.labels, a, (l) => l.id),
  },
  PullRequestChangedFile: {
    path: (f) => f.path,
    additions: (f) => f.additions,
    deletions: (f) => f.deletions,
    changeType: (f) => CHANGE[f.status] || 'MODIFIED',
    viewerViewedState: () => 'UNVIEWED',
  },
  PullRequestCommit: {
    id: (c, a, ctx) => `PURC_${Buffer.from(`${c.pr.id}:${ctx.ds.sha(c.pr, c.idx)}`).toString('base64url')}`,
    commit: (c, a, ctx) => ({ kind: 'commit', pr: c.pr, oid: ctx.ds.sha(c.pr, c.idx), idx: c.idx }),
    pullRequest: (c) => c.pr,
    url: (c, a, ctx) => `${WEB}/${c.pr.repo.full_name}/pull/${c.pr.number}/commits/${ctx.ds.sha(c.pr, c.idx)}`,
    resourcePath: (c, a, ctx) => `/${c.pr.repo.full_name}/pull/${c.pr.number}/commits/${ctx.ds.sha(c.pr, c.idx)}`,
  },
  Commit: {
    oid: (c, a, ctx) => c.oid ?? ctx.ds.sha(c.pr, c.idx),
    abbreviatedOid: (c, a, ctx) => (c.oid ?? ctx.ds.sha(c.pr, c.idx)).slice(0, 7),
    id: (c, a, ctx) => `C_${Buffer.from(c.oid ?? ctx.ds.sha(c.pr, c.idx)).toString('base64url').slice(0, 24)}`,
    message: (c) => (c.idx === 0 ? c.pr.title : `Address review feedback (${c.idx ?? 0})`),
    messageHeadline: (c) => (c.idx === 0 ? c.pr.title : `Address review feedback (${c.idx ?? 0})`),
    committedDate: (c) => iso(c.pr.commitTimes[c.idx ?? 0] ?? c.pr.created_at),
    authoredDate: (c) => iso(c.pr.commitTimes[c.idx ?? 0] ?? c.pr.created_at),
    url: (c, a, ctx) => `${WEB}/${c.pr.repo.full_name}/commit/${c.oid ?? ctx.ds.sha(c.pr, c.idx)}`,
    author: (c) => ({ kind: 'gitActor', user: c.pr.author, date: c.pr.commitTimes[c.idx ?? 0] ?? c.pr.created_at }),
    committer: (c) => ({ kind: 'gitActor', user: c.pr.author, date: c.pr.commitTimes[c.idx ?? 0] ?? c.pr.created_at }),
    repository: (c) => c.pr.repo,
  },
  GitActor: {
    name: (g) => (g.user ? g.user.name || g.user.login : 'ghost'),
    email: (g) => (g.user ? `${g.user.id}+${g.user.login}@users.noreply.github.com` : ''),
    date: (g) => iso(g.date),
    user: (g) => (g.user && g.user.type === 'User' ? g.user : null),
  },
  PullRequestReview: {
    id: (r, a, ctx) => ctx.ds.nid(r),
    databaseId: (r) => r.id,
    fullDatabaseId: (r) => bigint(r.id),
    state: (r) => r.state,
    body: (r, a, ctx) => ctx.ds.reviewBody(r),
    bodyText: (r, a, ctx) => text(ctx.ds.reviewBody(r)),
    bodyHTML: (r, a, ctx) => ctx.ds.reviewBody(r),
    submittedAt: (r) => iso(r.submitted_at),
    createdAt: (r) => iso(r.created_at),
    updatedAt: (r) => iso(r.submitted_at ?? r.created_at),
    publishedAt: (r) => iso(r.submitted_at),
    lastEditedAt: () => null,
    url: (r) => `${WEB}/${r.pr.repo.full_name}/pull/${r.pr.number}#pullrequestreview-${r.id}`,
    resourcePath: (r) => `/${r.pr.repo.full_name}/pull/${r.pr.number}#pullrequestreview-${r.id}`,
    author: (r) => r.user,
    authorAssociation: (r, a, ctx) => ctx.ds.association(r.user, r.pr.repo),
    commit: (r, a, ctx) => ({ kind: 'commit', pr: r.pr, oid: ctx.ds.sha(r.pr, r.commitIdx), idx: r.commitIdx }),
    comments: (r, a) => comments(r.pr.reviewComments.filter((c) => c.review === r), a),
    pullRequest: (r) => r.pr,
    repository: (r) => r.pr.repo,
    isMinimized: () => false,
    viewerDidAuthor: () => false,
  },
  PullRequestReviewComment: {
    id: (c, a, ctx) => ctx.ds.nid(c),
    databaseId: (c) => c.id,
    fullDatabaseId: (c) => bigint(c.id),
    body: (c, a, ctx) => ctx.ds.commentBody(c),
    bodyText: (c, a, ctx) => text(ctx.ds.commentBody(c)),
    bodyHTML: (c, a, ctx) => ctx.ds.commentBody(c),
    path: (c) => c.path,
    position: (c) => c.position,
    originalPosition: (c) => c.original_position,
    line: (c) => c.line,
    originalLine: (c) => c.original_line,
    startLine: (c) => c.start_line,
    originalStartLine: (c) => c.original_start_line,
    diffHunk: (c, a, ctx) => ctx.ds.diffHunk(c),
    createdAt: (c) => iso(c.created_at),
    updatedAt: (c) => iso(c.updated_at),
    publishedAt: (c) => iso(c.created_at),
    lastEditedAt: (c) => (c.updated_at !== c.created_at ? iso(c.updated_at) : null),
    url: (c) => `${WEB}/${c.pr.repo.full_name}/pull/${c.pr.number}#discussion_r${c.id}`,
    resourcePath: (c) => `/${c.pr.repo.full_name}/pull/${c.pr.number}#discussion_r${c.id}`,
    author: (c) => c.user,
    authorAssociation: (c, a, ctx) => ctx.ds.association(c.user, c.pr.repo),
    commit: (c, a, ctx) => ({ kind: 'commit', pr: c.pr, oid: ctx.ds.sha(c.pr, c.commitIdx), idx: c.commitIdx }),
    originalCommit: (c, a, ctx) => ({ kind: 'commit', pr: c.pr, oid: ctx.ds.sha(c.pr, c.origCommitIdx), idx: c.origCommitIdx }),
    replyTo: (c) => c.in_reply_to,
    pullRequestReview: (c) => c.review,
    pullRequest: (c) => c.pr,
    repository: (c) => c.pr.repo,
    outdated: (c) => c.position === null,
    state: () => 'SUBMITTED',
    subjectType: () => 'LINE',
    isMinimized: () => false,
    viewerDidAuthor: () => false,
  },
  PullRequestReviewThread: {
    id: (t, a, ctx) => ctx.ds.nid(t),
    isResolved: (t) => t.isResolved,
    isCollapsed: (t) => t.isResolved,
    isOutdated: (t) => t.outdated,
    path: (t) => t.path,
    line: (t) => (t.outdated ? null : t.line),
    originalLine: (t) => t.line,
    startLine: (t) => (t.outdated ? null : t.startLine),
    originalStartLine: (t) => t.startLine,
    diffSide: () => 'RIGHT',
    startDiffSide: (t) => (t.startLine ? 'RIGHT' : null),
    subjectType: () => 'LINE',
    comments: (t, a) => comments(t.comments, a),
    pullRequest: (t) => t.pr,
    repository: (t) => t.pr.repo,
    resolvedBy: (t) => (t.isResolved ? t.comments[0].user : null),
    viewerCanReply: () => false, viewerCanResolve: () => false, viewerCanUnresolve: () => false,
  },
  IssueComment: {
    id: (c, a, ctx) => ctx.ds.nid(c),
    databaseId: (c) => c.id,
    fullDatabaseId: (c) => bigint(c.id),
    body: (c, a, ctx) => ctx.ds.commentBody(c),
    bodyText: (c, a, ctx) => text(ctx.ds.commentBody(c)),
    bodyHTML: (c, a, ctx) => ctx.ds.commentBody(c),
    createdAt: (c) => iso(c.created_at),
    updatedAt: (c) => iso(c.updated_at),
    publishedAt: (c) => iso(c.created_at),
    lastEditedAt: (c) => (c.updated_at !== c.created_at ? iso(c.updated_at) : null),
    url: (c) => `${WEB}/${c.item.repo.full_name}/${c.item.kind === 'pr' ? 'pull' : 'issues'}/${c.item.number}#issuecomment-${c.id}`,
    resourcePath: (c) => `/${c.item.repo.full_name}/${c.item.kind === 'pr' ? 'pull' : 'issues'}/${c.item.number}#issuecomment-${c.id}`,
    author: (c) => c.user,
    authorAssociation: (c, a, ctx) => ctx.ds.association(c.user, c.item.repo),
    issue: (c) => c.item,
    pullRequest: (c) => (c.item.kind === 'pr' ? c.item : null),
    repository: (c) => c.item.repo,
    isMinimized: () => false,
    viewerDidAuthor: () => false,
  },
  ReviewRequest: {
    id: (r) => `RR_${Buffer.from(`${r.pr.id}:${r.user.id}`).toString('base64url')}`,
    requestedReviewer: (r) => r.user,
    pullRequest: (r) => r.pr,
    asCodeOwner: () => false,
  },
  Label: {
    id: (l) => l.node_id, name: (l) => l.name, color: (l) => l.color, description: (l) => l.description,
    isDefault: (l) => l.default, url: (l) => `${WEB}/labels/${encodeURIComponent(l.name)}`,
  },
};
for (const t of ['User', 'Bot', 'Organization', 'Mannequin', 'EnterpriseUserAccount']) RESOLVERS[t] = actorFields;

function orderItems(list, orderBy) {
  const field = orderBy?.field || 'CREATED_AT';
  const dir = orderBy?.direction === 'DESC' ? -1 : 1;
  if (field === 'CREATED_AT' && dir === 1) return list; // already in creation order
  const key = field === 'UPDATED_AT' ? (x) => x.updated_at : field === 'COMMENTS' ? (x) => x.issueComments.length : (x) => x.created_at;
  return [...list].sort((a, b) => dir * (key(a) - key(b) || a.number - b.number));
}

// Type resolution for interfaces/unions (Actor, Node, RepositoryOwner, ...)
function typeOf(v) {
  switch (v?.kind) {
    case 'user': return v.type === 'Bot' ? 'Bot' : v.type === 'Organization' ? 'Organization' : 'User';
    case 'repo': return 'Repository';
    case 'pr': return 'PullRequest';
    case 'issue': return 'Issue';
    case 'review': return 'PullRequestReview';
    case 'rc': return 'PullRequestReviewComment';
    case 'thread': return 'PullRequestReviewThread';
    case 'ic': return 'IssueComment';
    case 'commit': return 'Commit';
    default: return undefined;
  }
}

/** Value for schema-valid fields the fake does not model: null where nullable, else a type-appropriate empty. */
function fallback(type, args) {
  if (!isNonNullType(type)) {
    const named = getNamedType(type);
    if (/Connection$/.test(named.name) && !isListType(type)) return null;
    return null;
  }
  const inner = type.ofType;
  if (isListType(inner)) return [];
  const named = getNamedType(inner);
  if (/Connection$/.test(named.name)) return connection([], args || {});
  if (isScalarType(named)) {
    switch (named.name) {
      case 'Int': case 'Float': return 0;
      case 'Boolean': return false;
      case 'DateTime': return '1970-01-01T00:00:00Z';
      default: return '';
    }
  }
  if (isEnumType(named)) return named.getValues()[0]?.value ?? null;
  if (isObjectType(named)) return {};
  return null; // abstract non-null: graphql-js will report an error for this field
}

function fieldResolver(source, args, ctx, info) {
  const tr = RESOLVERS[info.parentType.name];
  const f = tr && tr[info.fieldName];
  if (f) return f(source, args, ctx, info);
  if (source && typeof source === 'object' && source.kind === undefined && info.fieldName in source) {
    return source[info.fieldName];
  }
  return fallback(info.returnType, args);
}

// ------------------------------------------------------------------ service
export class GraphQLService {
  /**
   * @param {object} deps {ds, limiter, cfg}
   */
  constructor(deps) {
    this.deps = deps;
    this.schema = getSchema();
    this.docCache = new Map(); // query text -> {doc, paths, validationErrors}
  }

  _prepare(query) {
    let e = this.docCache.get(query);
    if (e) return e;
    try {
      const doc = parse(query, { maxTokens: 50_000 });
      const errs = validate(this.schema, doc);
      e = { doc, errors: errs.length ? errs.map((x) => githubStyleError(x, pathIndex(doc))) : null };
    } catch (err) {
      e = { errors: [parseErrorToGitHub(err)] };
    }
    if (this.docCache.size > 500) this.docCache.clear();
    this.docCache.set(query, e);
    return e;
  }

  /**
   * Static checks only (used by validate-query.mjs too): returns {errors, analysis}.
   */
  check(query, variables, operationName, opts = {}) {
    const prep = this._prepare(query);
    if (prep.errors) return { errors: prep.errors, stage: 'validation' };
    const analysis = analyze(this.schema, prep.doc, operationName, variables || {}, opts);
    if (!analysis.operation) return { errors: [{ message: operationName ? `No operation named "${operationName}"` : 'An operation name is required' }], stage: 'validation' };
    if (analysis.errors.length) return { errors: analysis.errors, stage: 'limits', analysis };
    return { errors: null, analysis, doc: prep.doc };
  }

  /**
   * Handle a POST /graphql body for a credential.
   * @returns {Promise<{status:number, json:object, cost:number, rate:object|null, timeout?:boolean}>}
   */
  handle(body, cred) {
    const { ds, limiter, cfg } = this.deps;
    const peek = () => limiter.peek(cred.key, 'graphql');
    if (!body || typeof body !== 'object' || typeof body.query !== 'string') {
      return { status: 200, json: { errors: [{ message: 'A query attribute must be specified and must be a string.' }] }, cost: 0, rate: peek() };
    }
    let variables = body.variables ?? {};
    if (typeof variables === 'string') { try { variables = JSON.parse(variables || '{}'); } catch { variables = null; } }
    if (variables === null || typeof variables !== 'object' || Array.isArray(variables)) {
      return { status: 200, json: { errors: [{ message: 'Variables are invalid JSON.' }] }, cost: 0, rate: peek() };
    }
    const prep = this._prepare(body.query);
    if (prep.errors) return { status: 200, json: { errors: prep.errors }, cost: 0, rate: peek() };
    const doc = prep.doc;
    const opName = body.operationName || undefined;
    const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const op = opName ? ops.find((o) => o.name?.value === opName) : ops.length === 1 ? ops[0] : null;
    if (!op) {
      const message = opName ? `No operation named "${opName}"` : 'An operation name is required';
      return { status: 200, json: { errors: [{ message }] }, cost: 0, rate: peek() };
    }
    if (op.operation !== 'query') {
      return { status: 200, json: { errors: [{ type: 'FORBIDDEN', message: `The fake GitHub server does not implement ${op.operation}s.` }] }, cost: 0, rate: peek() };
    }
    // coerce variables the way execution will (so cost uses the same values)
    const coerced = getVariableValues(this.schema, op.variableDefinitions || [], variables, { maxErrors: 50 });
    if (coerced.errors) {
      const errors = coerced.errors.map((e) => {
        const m = /^Variable "\$([^"]+)" (?:of required type "([^"]+)" was not provided|of non-null type "([^"]+)" must not be null|got invalid value .*?; (.*))\.?$/.exec(e.message);
        const vd = m && op.variableDefinitions.find((v) => v.variable.name.value === m[1]);
        const tname = vd ? printType(vd.type) : '?';
        return {
          message: m ? `Variable $${m[1]} of type ${tname} was provided invalid value` : e.message,
          locations: e.locations,
          extensions: { value: m ? (variables[m[1]] ?? null) : null, problems: [{ path: [], explanation: m?.[4] || 'Expected value to not be null' }] },
        };
      });
      return { status: 200, json: { errors }, cost: 0, rate: peek() };
    }
    const analysis = analyze(this.schema, doc, opName, coerced.coerced);
    if (analysis.errors.length) {
      return { status: 200, json: { errors: analysis.errors }, cost: 0, rate: peek(), analysis };
    }
    // timeouts (GitHub answers 502 after ~10 s). The points are still charged.
    if (cfg.graphqlTimeoutNodes > 0 && analysis.nodeCount > cfg.graphqlTimeoutNodes) {
      const rate = limiter.canSpend(cred.key, 'graphql', analysis.cost) ? limiter.spend(cred.key, 'graphql', analysis.cost) : peek();
      return { status: 502, json: timeoutBody(), cost: analysis.cost, rate, timeout: true, analysis };
    }
    // primary rate limit: refuse if the query costs more than what is left
    if (!analysis.dryRun && !limiter.canSpend(cred.key, 'graphql', analysis.cost)) {
      const rate = peek();
      return {
        status: 200, rateLimited: true, cost: 0, rate, analysis,
        json: { errors: [{ type: 'RATE_LIMITED', code: 'graphql_rate_limit', message: `API rate limit exceeded for ${cred.label}.` }] },
      };
    }
    const rate = analysis.dryRun ? peek() : limiter.spend(cred.key, 'graphql', analysis.cost);
    const ctx = { ds, cred, rate, analysis, extraErrors: [] };
    let result;
    // field errors (e.g. databaseId > 2^31-1) create GraphQLErrors; skip the costly stack capture
    const stl = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
    if (analysis.dryRun) {
      // Only rateLimit is evaluated; other root fields are skipped.
      result = { data: { } };
      for (const sel of op.selectionSet.selections) {
        if (sel.kind === Kind.FIELD && sel.name.value === 'rateLimit') {
          const key = sel.alias ? sel.alias.value : 'rateLimit';
          const sub = execute({ schema: this.schema, document: { kind: Kind.DOCUMENT, definitions: [{ ...op, selectionSet: { kind: Kind.SELECTION_SET, selections: [sel] } }] }, variableValues: variables, contextValue: ctx, fieldResolver, typeResolver: typeOf });
          Object.assign(result.data, sub.data || {});
          if (!(key in result.data)) result.data[key] = null;
        } else if (sel.kind === Kind.FIELD) {
          result.data[sel.alias ? sel.alias.value : sel.name.value] = null;
        }
      }
    } else {
      result = execute({ schema: this.schema, document: doc, operationName: opName, variableValues: variables, contextValue: ctx, fieldResolver, typeResolver: typeOf });
    }
    } finally { Error.stackTraceLimit = stl; }
    const json = { data: result.data ?? null };
    const errs = [...(result.errors || []).map(formatExecError), ...ctx.extraErrors];
    if (errs.length) json.errors = errs;
    return { status: 200, json, cost: analysis.dryRun ? 0 : analysis.cost, rate, analysis };
  }
}

function printType(t) {
  if (t.kind === Kind.NON_NULL_TYPE) return `${printType(t.type)}!`;
  if (t.kind === Kind.LIST_TYPE) return `[${printType(t.type)}]`;
  return t.name.value;
}

function formatExecError(e) {
  const o = {};
  if (e.extensions?.type) o.type = e.extensions.type;
  if (e.path) o.path = e.path;
  if (e.locations) o.locations = e.locations;
  o.message = e.message;
  return o;
}

export function timeoutBody() {
  return {
    data: null,
    errors: [{ message: 'Something went wrong while executing your query. This may be the result of a timeout, or it could be a GitHub bug. Please include `0000:1111:2222:3333:44444444` when reporting this issue.' }],
  };
}
