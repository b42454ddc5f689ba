// Deterministic synthetic GitHub dataset.
//
// Everything is derived from (seed, dataset kind, counts, now). Each repository and each PR/issue
// gets its own sub-PRNG (hashSeed of seed + names), so generation order never changes the output.
// Heavy text (bodies, patches, diff hunks) is generated lazily from per-object seed keys and memoised;
// the values are still a pure function of the seed.
//
// Internal records hold timestamps as epoch milliseconds (whole seconds); serialisers in shapes.mjs
// turn them into GitHub's REST JSON and graphql.mjs resolves GraphQL fields from the same records.
import { Rng, hashSeed, sha1hex, nodeId } from './util.mjs';
import * as T from './text.mjs';

export const DAY = 86_400_000;
export const HOUR = 3_600_000;
export const MIN = 60_000;
const sec = (ms) => Math.floor(ms / 1000) * 1000;

/** Well-known bot accounts (ids are GitHub's real ones). GraphQL exposes their login without "[bot]". */
const BOTS = [
  { login: 'dependabot[bot]', id: 49699333, appSlug: 'dependabot' },
  { login: 'github-actions[bot]', id: 41898282, appSlug: 'github-actions' },
  { login: 'renovate[bot]', id: 29139614, appSlug: 'renovate' },
  { login: 'codecov[bot]', id: 22429695, appSlug: 'codecov' },
];

const REVIEW_STATES = [[45, 'APPROVED'], [33, 'COMMENTED'], [15, 'CHANGES_REQUESTED'], [7, 'DISMISSED']];

const LABELS = [
  ['bug', 'd73a4a', "Something isn't working", true],
  ['enhancement', 'a2eeef', 'New feature or request', true],
  ['documentation', '0075ca', 'Improvements or additions to documentation', true],
  ['dependencies', '0366d6', 'Pull requests that update a dependency file', false],
  ['good first issue', '7057ff', 'Good for newcomers', true],
  ['💥 breaking', 'b60205', 'Breaking change', false],
  ['area/ci', 'fbca04', null, false],
  ['performance', 'c5def5', 'Make it faster', false],
];

export class Dataset {
  /**
   * @param {object} o
   * @param {number} o.seed
   * @param {'standard'|'small'|'bench'} o.dataset
   * @param {number} [o.repos]  number of main repositories (standard)
   * @param {number} [o.prs]    total PRs (standard/small) or PRs in bench/big (bench)
   * @param {number} o.now      data clock "now" in ms
   */
  constructor(o) {
    this.seed = o.seed ?? 42;
    this.kind = o.dataset ?? 'standard';
    this.nowMs = sec(o.now ?? Date.now());
    this.version = 1; // bumped on every mutation; response caches key on it
    this.users = [];
    this.usersById = new Map();
    this.usersByLogin = new Map(); // lower-case login -> user
    this.repos = new Map(); // lower-case full_name -> repo
    this.reposById = new Map();
    this.owners = new Map(); // lower-case login -> owner account (org or user)
    this.installations = []; // {id, account, repos:Set<repoId>}
    this.nodeIndex = new Map(); // node_id -> record (filled lazily)
    this.labelSeq = 0;
    const t0 = Date.now();
    this._generate(o);
    this.genMs = Date.now() - t0;
  }

  // ------------------------------------------------------------------ users
  _makeUser(u) {
    const user = {
      kind: 'user', type: 'User', site_admin: false, ver: 0, bio: null, company: null, location: null,
      blog: '', email: null, twitter_username: null, hireable: null, followers: 0, following: 0,
      public_repos: 0, public_gists: 0, ...u,
    };
    user.node_id = nodeId(user.type === 'Bot' ? 'BOT' : user.type === 'Organization' ? 'O' : 'U', user.id);
    this.users.push(user);
    this.usersById.set(user.id, user);
    this.usersByLogin.set(user.login.toLowerCase(), user);
    return user;
  }

  _genUsers(n) {
    const r = new Rng(hashSeed(this.seed, 'users'));
    const now = this.nowMs;
    const protoUsers = [];
    const seen = new Set(BOTS.map((b) => b.login.toLowerCase()));
    seen.add('ghost'); seen.add('progcap-tester'); seen.add('solo-dev'); seen.add('rename-me'); seen.add('old-name');
    for (let i = 0; i < n; i++) {
      let login = T.loginFor(r);
      while (seen.has(login.toLowerCase())) login = `${login}${r.int(0, 9)}`;
      seen.add(login.toLowerCase());
      protoUsers.push({ login, created: sec(now - r.int(60, 15 * 365) * DAY - r.int(0, DAY)), name: T.personName(r), r2: r.next() });
    }
    // ids increase with account age, like GitHub's
    protoUsers.sort((a, b) => a.created - b.created);
    let id = 1000 + r.int(0, 5000);
    // ids of bots and of the special accounts/orgs created below must not be reused
    const botIds = new Set([...BOTS.map((b) => b.id), 199_000_001, 98_765_432, 187_000_777, 71_000_001, 71_000_002, 10137]);
    for (const p of protoUsers) {
      id += r.int(1, Math.floor(240_000_000 / n));
      while (botIds.has(id)) id++;
      const rr = new Rng(hashSeed(this.seed, 'user', p.login));
      this._makeUser({
        login: p.login, id, name: p.name, created_at: p.created,
        updated_at: sec(p.created + (now - p.created) * rr.next()),
        company: rr.chance(0.3) ? rr.pick(['@acme', 'ACME Corp', 'Initech', 'Globex', 'Umbrella', '独立']) : null,
        location: rr.chance(0.4) ? rr.pick(['Berlin', 'Tokyo', 'São Paulo', 'Lagos', 'Toronto', 'Zürich', 'Remote']) : null,
        bio: rr.chance(0.3) ? T.body(`bio:${p.login}`, 'comment').slice(0, 160) : null,
        followers: rr.skewed(0, 3000, 4), following: rr.skewed(0, 300, 3),
        public_repos: rr.skewed(0, 200, 3), public_gists: rr.skewed(0, 50, 4),
        hireable: rr.chance(0.2) ? true : null,
      });
    }
    for (const b of BOTS) {
      this._makeUser({
        login: b.login, id: b.id, type: 'Bot', appSlug: b.appSlug, name: null,
        created_at: sec(now - 6 * 365 * DAY), updated_at: sec(now - 30 * DAY),
      });
    }
    // special accounts: the PAT "viewer", a user intended to be renamed by tests
    this.viewer = this._makeUser({ login: 'progcap-tester', id: 199_000_001, name: 'Progcap Tester', created_at: sec(now - 400 * DAY), updated_at: sec(now - 10 * DAY) });
    this.renameMe = this._makeUser({ login: 'rename-me', id: 98_765_432, name: 'Renamé Ünicode 🙂', created_at: sec(now - 3000 * DAY), updated_at: sec(now - 100 * DAY) });
    // GitHub's real ghost account (shown by GET /users/ghost); deleted authors serialise as null in content
    this.ghostUser = this._makeUser({ login: 'ghost', id: 10137, name: 'Deleted user', created_at: Date.parse('2011-01-24T00:00:00Z'), updated_at: Date.parse('2011-01-24T00:00:00Z') });
    this.ghostUser.isGhostAccount = true;
    this.humans = this.users.filter((u) => u.type === 'User' && !u.isGhostAccount && u !== this.viewer);
    this.bots = this.users.filter((u) => u.type === 'Bot');
    this.botByName = Object.fromEntries(this.bots.map((b) => [b.appSlug, b]));
  }

  _makeOrg(login, id, name) {
    const org = this._makeUser({ login, id, type: 'Organization', name, created_at: sec(this.nowMs - 3650 * DAY), updated_at: sec(this.nowMs - 20 * DAY) });
    org.description = `${name} — synthetic organisation for progcap tests`;
    this.owners.set(login.toLowerCase(), org);
    return org;
  }

  // ------------------------------------------------------------------ repos
  _makeRepo(owner, name, o = {}) {
    const r = new Rng(hashSeed(this.seed, 'repo', owner.login, name));
    const full = `${owner.login}/${name}`;
    const repo = {
      kind: 'repo', owner, name, full_name: full, seedName: full, private: !!o.private,
      id: o.id, description: o.description ?? `${name}: ${T.prTitle(r, false)}`,
      created_at: sec(this.nowMs - (800 + r.int(0, 1500)) * DAY),
      language: o.language ?? r.pick(['C++', 'C++', 'Python', 'TypeScript', 'Go', 'Rust']),
      default_branch: 'main', stargazers_count: r.skewed(0, 20000, 3), forks_count: r.skewed(0, 3000, 3),
      subscribers_count: r.skewed(0, 500, 3), size: r.int(100, 90000),
      topics: r.shuffle(['etl', 'github', 'cpp', 'data', 'pipelines', 'testing']).slice(0, r.int(0, 4)),
      homepage: r.chance(0.5) ? `https://${name}.example.org` : null,
      has_installation: o.installed !== false,
      items: [], byNumber: new Map(), pulls: [], labels: [], workflowsRuns: [], runSeq: 0,
      team: [],
    };
    repo.node_id = nodeId('R', repo.id);
    for (const [lname, color, desc, dflt] of LABELS) {
      const lid = 1_000_000_000 + (hashSeed(this.seed, full, lname) % 4_000_000_000 >>> 0) % 3_000_000_000;
      repo.labels.push({ id: lid, node_id: nodeId('LA', repo.id, lid), name: lname, color, description: desc, default: dflt });
    }
    // a stable "team" of maintainers/reviewers per repo
    const rr = new Rng(hashSeed(this.seed, 'team', full));
    const team = new Set();
    while (team.size < Math.min(14, this.humans.length)) team.add(rr.pick(this.humans));
    repo.team = [...team];
    this.repos.set(full.toLowerCase(), repo);
    this.reposById.set(repo.id, repo);
    return repo;
  }

  /** author_association of a user towards a repo (stable hash). */
  association(user, repo) {
    if (!user) return 'NONE';
    if (user === repo.owner) return 'OWNER';
    if (repo.team.includes(user)) return hashSeed(user.id, repo.id) % 5 === 0 ? 'COLLABORATOR' : 'MEMBER';
    if (user.type === 'Bot') return 'CONTRIBUTOR';
    const h = hashSeed(this.seed, 'assoc', user.id, repo.id) % 100;
    return h < 55 ? 'CONTRIBUTOR' : h < 62 ? 'FIRST_TIME_CONTRIBUTOR' : h < 65 ? 'FIRST_TIMER' : 'NONE';
  }

  // ------------------------------------------------------------------ generation
  _generate(o) {
    const kind = this.kind;
    const nUsers = kind === 'small' ? 60 : kind === 'bench' ? 800 : 240;
    this._genUsers(nUsers);
    const acme = this._makeOrg('acme', 71_000_001, 'ACME');
    const specs = [];
    let repoId = 600_000_000 + (hashSeed(this.seed, 'repoid') % 1_000_000);
    const nextRepoId = () => (repoId += 1 + (hashSeed(this.seed, 'rid', repoId) % 5_000_000));
    if (kind === 'bench') {
      const benchOrg = this._makeOrg('bench', 71_000_002, 'Bench Org');
      specs.push({ owner: benchOrg, name: 'big', prs: o.prs ?? 10_000 });
    } else if (kind === 'small') {
      specs.push({ owner: acme, name: 'widgets', prs: o.prs ?? 25 });
    } else {
      const nRepos = o.repos ?? 3;
      const total = o.prs ?? 600;
      const names = ['widgets', 'gadgets', 'tools'];
      const weights = nRepos === 3 ? [3, 2, 1] : Array.from({ length: nRepos }, () => 1);
      const wsum = weights.reduce((a, b) => a + b, 0);
      let left = total;
      for (let i = 0; i < nRepos; i++) {
        const n = i === nRepos - 1 ? left : Math.round((total * weights[i]) / wsum);
        left -= n;
        specs.push({ owner: acme, name: names[i] ?? `repo-${i + 1}`, prs: n });
      }
    }
    for (const s of specs) {
      const repo = this._makeRepo(s.owner, s.name, { id: nextRepoId() });
      this._genRepoItems(repo, s.prs);
    }
    // always-present extra repos
    const patho = this._makeRepo(acme, 'pathological', { id: nextRepoId(), description: 'Edge cases: huge PRs, ghosts, bots, unicode 🚀, hostile strings', language: 'C++' });
    this._genPathological(patho);
    const secret = this._makeRepo(acme, 'secret', { id: nextRepoId(), private: true, description: 'Private repository (invisible to plain PATs)' });
    this._genRepoItems(secret, 5);
    const personalOwner = this._makeUser({ login: 'solo-dev', id: 187_000_777, name: 'Solo Developer', created_at: sec(this.nowMs - 900 * DAY), updated_at: sec(this.nowMs - 9 * DAY) });
    this.owners.set(personalOwner.login.toLowerCase(), personalOwner);
    const dot = this._makeRepo(personalOwner, 'dotfiles', { id: nextRepoId(), installed: false, description: 'User-owned repo without an app installation' });
    this._genRepoItems(dot, 3);
    this.personalOwner = personalOwner;

    // App installations: one per organisation, covering all of its repos
    let instId = 41_000_001;
    for (const owner of this.owners.values()) {
      if (owner.type !== 'Organization') continue;
      const repos = [...this.repos.values()].filter((rp) => rp.owner === owner && rp.has_installation);
      this.installations.push({ id: instId++, account: owner, repoIds: new Set(repos.map((x) => x.id)), created_at: sec(this.nowMs - 500 * DAY) });
    }
    this._assignIds();
    this._finalize();
  }

  /** Ordinary PRs + a few plain issues, numbered in creation order. */
  _genRepoItems(repo, nPRs) {
    const r = new Rng(hashSeed(this.seed, 'items', repo.full_name));
    const nIssues = Math.round(nPRs * 0.08);
    const total = nPRs + nIssues;
    const start = this.nowMs - 730 * DAY, end = this.nowMs - 2 * HOUR;
    const times = Array.from({ length: total }, () => sec(start + (end - start) * Math.pow(r.next(), 0.8)));
    times.sort((a, b) => a - b);
    const isIssue = new Array(total).fill(false);
    for (let k = 0; k < nIssues; k++) isIssue[1 + Math.floor(r.next() * (total - 1))] = true;
    let prsMade = 0;
    for (let i = 0; i < total; i++) {
      const number = i + 1;
      if (isIssue[i] || prsMade >= nPRs) this._genIssue(repo, number, times[i]);
      else { this._genPR(repo, number, times[i], {}); prsMade++; }
    }
    // the loop above may fall short if issue slots collided; top up
    let number = total;
    while (prsMade < nPRs) { this._genPR(repo, ++number, sec(end - (nPRs - prsMade) * MIN), {}); prsMade++; }
    repo.nextNumber = number + 1;
  }

  _pickUser(r, repo, exclude) {
    for (let i = 0; i < 8; i++) {
      const u = r.chance(0.6) ? r.pick(repo.team) : r.pick(this.humans);
      if (u !== exclude) return u;
    }
    return this.humans.find((u) => u !== exclude);
  }

  /** time sampler biased towards the beginning of [a, b] */
  _t(r, a, b, exp = 1.8) {
    if (b <= a) return sec(a);
    return sec(a + (b - a) * Math.pow(r.next(), exp));
  }

  /**
   * Generate one PR with all children. `s` overrides: state ('open'|'closed'|'merged'), draft, author
   * (user or null for ghost), title, body, nFiles, nReviews, nRC, nIC, nCommits, reviewStates, files.
   */
  _genPR(repo, number, created, s) {
    const r = new Rng(hashSeed(this.seed, repo.full_name, number));
    const now = this.nowMs;
    const isBotPR = s.author === undefined ? r.chance(0.07) : !!(s.author && s.author.type === 'Bot');
    const author = s.author !== undefined ? s.author
      : isBotPR ? this.botByName.dependabot
        : r.chance(0.01) ? null : this._pickUser(r, repo, null);
    let state = s.state ?? r.weighted([[62, 'merged'], [15, 'closed'], [23, 'open']]);
    let closeAt = null;
    if (state !== 'open') {
      closeAt = sec(created + 5 * MIN + Math.pow(r.next(), 2.5) * 20 * DAY);
      if (closeAt > now - MIN) {
        if (s.state) closeAt = sec(Math.max(created + MIN, now - MIN)); else { state = 'open'; closeAt = null; }
      }
    }
    const draft = s.draft ?? (state === 'open' && r.chance(0.25));
    const activityEnd = closeAt ?? now - 30_000;
    const title = s.title ?? T.prTitle(r, isBotPR);
    const pr = {
      kind: 'pr', repo, number, created_at: created, author, state: state === 'open' ? 'open' : 'closed',
      merged: state === 'merged', draft, locked: !!s.locked, active_lock_reason: s.locked ? 'too heated' : null,
      title, bodyKey: `${repo.full_name}#${number}`, bodyOverride: s.body, bodyNull: s.body === undefined && r.chance(0.08),
      closed_at: closeAt, merged_at: state === 'merged' ? closeAt : null,
      merged_by: state === 'merged' ? (s.mergedBy !== undefined ? s.mergedBy : r.pick(repo.team)) : null,
      files: [], reviews: [], reviewComments: [], issueComments: [], threads: [],
      labels: [], assignees: [], requested_reviewers: [], milestone: null,
      headRef: s.headRef ?? T.branchName(r, title, number, isBotPR), baseRef: r.chance(0.9) ? 'main' : 'release/1.x',
      headRepoDeleted: !!s.headRepoDeleted, maintainer_can_modify: r.chance(0.3),
    };
    if (s.bodyNull !== undefined) pr.bodyNull = s.bodyNull;
    // commits
    const nCommits = s.nCommits ?? r.weighted([[90, () => r.skewed(1, 10, 1.5)], [9.5, () => r.int(11, 60)], [0.5, () => r.int(251, 300)]])();
    pr.nCommits = nCommits;
    pr.commitTimes = [];
    for (let i = 0; i < nCommits; i++) pr.commitTimes.push(this._t(r, created - HOUR, Math.min(activityEnd, created + 10 * DAY), 1.5));
    pr.commitTimes.sort((a, b) => a - b);
    // commit shas are derived lazily (see sha()); children store commit indexes
    const commitAt = (t) => {
      let i = 0; while (i + 1 < nCommits && pr.commitTimes[i + 1] <= t) i++;
      return i;
    };
    // labels / assignees / requested reviewers
    const nl = isBotPR ? 1 : r.weighted([[50, 0], [30, 1], [15, 2], [5, 3]]);
    const labelPool = r.shuffle([...repo.labels]);
    pr.labels = isBotPR ? [repo.labels.find((l) => l.name === 'dependencies')] : labelPool.slice(0, nl);
    if (r.chance(0.3)) pr.assignees.push(r.pick(repo.team));
    // files
    const nFiles = s.nFiles ?? r.weighted([[90, () => r.skewed(1, 20, 1.8)], [9, () => r.int(21, 99)], [1, () => r.int(101, 350)]])();
    const used = new Set();
    for (let i = 0; i < nFiles; i++) {
      const path = (s.paths && s.paths[i]) || T.filePath(r, used);
      const isBin = path.endsWith('.png');
      let status = s.fileStatus?.[i] ?? (isBin ? r.pick(['added', 'modified']) : r.weighted([[76, 'modified'], [15, 'added'], [6.5, 'removed'], [1.5, 'renamed'], [0.5, 'copied'], [0.5, 'changed']]));
      let additions = 0, deletions = 0;
      if (!isBin) {
        if (status === 'added' || status === 'copied') additions = r.skewed(1, 300, 2.5);
        else if (status === 'removed') deletions = r.skewed(1, 200, 2.5);
        else if (status === 'renamed') { if (!r.chance(0.5)) { additions = r.skewed(0, 20, 2); deletions = r.skewed(0, 20, 2); } }
        else { additions = r.skewed(0, 120, 2.5); deletions = r.skewed(0, 80, 2.5); if (additions + deletions === 0) additions = 1; }
      }
      const f = { path, status, additions, deletions, binary: isBin, key: `${repo.full_name}#${number}:${path}` };
      if (status === 'renamed' || status === 'copied') f.previous_filename = s.previousNames?.[i] ?? T.filePath(r, used);
      pr.files.push(f);
    }
    pr.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    // reviews
    const nReviews = s.nReviews ?? r.weighted([[88, () => r.skewed(0, 4, 1.5)], [11.6, () => r.int(5, 12)], [0.4, () => r.int(101, 130)]])();
    const reviewers = [];
    for (let i = 0; i < nReviews; i++) {
      const state2 = s.reviewStates?.[i] ?? (i === nReviews - 1 && r.chance(0.01) ? 'PENDING' : r.weighted(REVIEW_STATES));
      const user = r.chance(0.015) ? null : this._pickUser(r, repo, author);
      const t = this._t(r, created + MIN, activityEnd, 1.6);
      pr.reviews.push({ kind: 'review', pr, user, state: state2, created_at: t, submitted_at: state2 === 'PENDING' ? null : t, commitIdx: commitAt(t) });
      if (user) reviewers.push(user);
    }
    // review comments in threads; replies each create their own COMMENTED review (as on GitHub)
    const nRC = s.nRC ?? r.weighted([[55, () => 0], [34, () => r.skewed(1, 10, 1.8)], [10, () => r.int(11, 40)], [1, () => r.int(101, 250)]])();
    if (nRC > 0 && !pr.reviews.some((x) => x.state !== 'PENDING')) {
      const t = this._t(r, created + MIN, activityEnd, 1.6);
      pr.reviews.push({ kind: 'review', pr, user: this._pickUser(r, repo, author), state: 'COMMENTED', created_at: t, submitted_at: t, commitIdx: commitAt(t) });
    }
    const submitted = pr.reviews.filter((x) => x.state !== 'PENDING');
    const participants = [author, ...reviewers].filter(Boolean);
    const filesWithLines = pr.files.filter((f) => !f.binary);
    let made = 0;
    while (made < nRC) {
      const review = r.pick(submitted);
      const file = filesWithLines.length ? r.pick(filesWithLines) : (pr.files[0] || { path: 'README.md', key: 'x' });
      const outdated = r.chance(0.15);
      const pos = r.int(1, 40);
      const rootT = sec(Math.max(created + 1000, review.submitted_at - r.int(0, 600) * 1000));
      const line = r.int(1, 800);
      const multi = r.chance(0.1);
      const thread = { kind: 'thread', pr, comments: [], isResolved: r.chance(0.4), path: file.path, outdated, line, startLine: multi ? Math.max(1, line - r.int(1, 5)) : null };
      const mk = (user, t, rev, replyTo) => {
        const c = {
          kind: 'rc', pr, thread, review: rev, user, created_at: t, updated_at: r.chance(0.1) ? this._t(r, t, now, 2) : t,
          path: file.path, position: outdated ? null : pos, original_position: outdated ? pos + r.int(0, 5) : pos,
          line: outdated ? null : line, original_line: line, start_line: outdated ? null : thread.startLine,
          original_start_line: thread.startLine, side: 'RIGHT', start_side: thread.startLine ? 'RIGHT' : null,
          commitIdx: outdated ? nCommits - 1 : commitAt(t), origCommitIdx: commitAt(rootT), in_reply_to: replyTo,
          hunkKey: `${file.key}:${pos}`,
        };
        thread.comments.push(c);
        pr.reviewComments.push(c);
        made++;
        return c;
      };
      const root = mk(review.user, rootT, review, null);
      const nReplies = Math.min(nRC - made, r.weighted([[55, 0], [25, 1], [12, 2], [8, r.int(3, 6)]]));
      let t = rootT;
      for (let k = 0; k < nReplies; k++) {
        t = Math.min(now - 1000, this._t(r, t + 1000, Math.max(t + 2000, activityEnd), 3));
        const user = r.chance(0.03) ? null : (participants.length ? r.pick(participants) : this._pickUser(r, repo, null));
        const rev = { kind: 'review', pr, user, state: 'COMMENTED', created_at: t, submitted_at: t, commitIdx: commitAt(t), emptyBody: true };
        pr.reviews.push(rev);
        mk(user, t, rev, root);
      }
      pr.threads.push(thread);
    }
    // issue comments (conversation)
    const nIC = s.nIC ?? r.weighted([[88, () => r.skewed(0, 15, 1.8)], [10.5, () => r.int(16, 50)], [1.5, () => r.int(101, 200)]])();
    const late = 'late' in s ? s.late : (r.chance(0.04) ? now - r.int(60, 20 * 3600) * 1000 : r.chance(0.08) ? now - r.int(26 * 3600, 6.5 * 86400) * 1000 : null);
    for (let i = 0; i < nIC; i++) {
      const who = r.weighted([[30, 'author'], [55, 'other'], [12, 'bot'], [3, 'ghost']]);
      const user = who === 'author' ? author : who === 'bot' ? r.pick([this.botByName['github-actions'], this.botByName.codecov]) : who === 'ghost' ? null : this._pickUser(r, repo, null);
      let t = this._t(r, created + MIN, activityEnd + (closeAt ? r.int(0, 3) * DAY : 0), 1.5);
      if (i === nIC - 1 && late !== null && late > created) t = sec(late);
      t = Math.min(t, now - 1000);
      pr.issueComments.push({ kind: 'ic', item: pr, user, created_at: t, updated_at: r.chance(0.12) ? this._t(r, t, now - 1000, 3) : t });
    }
    pr.issueComments.sort((a, b) => a.created_at - b.created_at);
    if (late !== null && nIC === 0 && late > created) {
      const t = sec(late);
      pr.issueComments.push({ kind: 'ic', item: pr, user: this._pickUser(r, repo, null), created_at: t, updated_at: t });
    }
    pr.reviews.sort((a, b) => a.created_at - b.created_at || (a.submitted_at === null) - (b.submitted_at === null));
    pr.reviewComments.sort((a, b) => a.created_at - b.created_at);
    // open PRs: requested reviewers who have not reviewed yet
    if (pr.state === 'open' && r.chance(0.4)) {
      const cand = repo.team.filter((u) => u !== author && !reviewers.includes(u));
      if (cand.length) pr.requested_reviewers.push(r.pick(cand));
    }
    // mergeability (GitHub computes it lazily; closed PRs report null/"unknown")
    if (pr.state === 'open') {
      pr.mergeable = r.weighted([[70, true], [15, false], [15, null]]);
      pr.rebaseable = pr.mergeable === null ? null : pr.mergeable && r.chance(0.9);
      pr.mergeable_state = pr.draft ? 'draft' : pr.mergeable === true ? r.weighted([[60, 'clean'], [25, 'blocked'], [15, 'unstable']]) : pr.mergeable === false ? 'dirty' : 'unknown';
    } else { pr.mergeable = null; pr.rebaseable = null; pr.mergeable_state = 'unknown'; }
    // updated_at = last activity + a little
    let last = Math.max(created, closeAt ?? 0, ...pr.commitTimes);
    for (const x of pr.reviews) last = Math.max(last, x.created_at);
    for (const x of pr.reviewComments) last = Math.max(last, x.updated_at);
    for (const x of pr.issueComments) last = Math.max(last, x.updated_at);
    pr.updated_at = sec(Math.min(now, Math.max(created + 1000, last + r.int(1, 120) * 1000)));
    this._addItem(repo, pr);
    return pr;
  }

  _genIssue(repo, number, created, s = {}) {
    const r = new Rng(hashSeed(this.seed, repo.full_name, number, 'issue'));
    const now = this.nowMs;
    const closed = s.closed ?? r.chance(0.5);
    const closeAt = closed ? sec(Math.min(now - MIN, created + r.int(1, 60 * 24 * 30) * MIN)) : null;
    const issue = {
      kind: 'issue', repo, number, created_at: created, author: s.author !== undefined ? s.author : this._pickUser(r, repo, null),
      title: s.title ?? `${r.pick(['Crash', 'Question', 'Feature request', 'Bug'])}: ${T.prTitle(r, false)}`,
      bodyKey: `${repo.full_name}#${number}`, bodyNull: r.chance(0.1), state: closed ? 'closed' : 'open',
      state_reason: closed ? r.pick(['completed', 'not_planned']) : null, closed_at: closeAt, closed_by: closed ? r.pick(repo.team) : null,
      labels: r.chance(0.5) ? [r.pick(repo.labels)] : [], assignees: [], issueComments: [], locked: false, milestone: null,
    };
    const nIC = s.nIC ?? r.skewed(0, 8, 1.5);
    for (let i = 0; i < nIC; i++) {
      const t = Math.min(now - 1000, this._t(r, created + MIN, (closeAt ?? now) + DAY, 1.5));
      issue.issueComments.push({ kind: 'ic', item: issue, user: r.chance(0.03) ? null : this._pickUser(r, repo, null), created_at: t, updated_at: t });
    }
    issue.issueComments.sort((a, b) => a.created_at - b.created_at);
    let last = Math.max(created, closeAt ?? 0);
    for (const c of issue.issueComments) last = Math.max(last, c.updated_at);
    issue.updated_at = sec(Math.min(now, last + r.int(1, 60) * 1000));
    this._addItem(repo, issue);
    return issue;
  }

  _addItem(repo, item) {
    repo.items.push(item);
    repo.byNumber.set(item.number, item);
    if (item.kind === 'pr') repo.pulls.push(item);
  }

  /** The edge-case repository. PR numbers are fixed so tests can refer to them (see README). */
  _genPathological(repo) {
    const now = this.nowMs;
    const bot = this.botByName.dependabot;
    const team = repo.team;
    let n = 0;
    const t = (daysAgo) => sec(now - daysAgo * DAY);
    const P = (daysAgo, spec) => this._genPR(repo, ++n, t(daysAgo), spec);
    P(300, { title: 'Mega review: 130 reviews and 250 review comments', state: 'merged', nReviews: 130, nRC: 250, nIC: 12, nFiles: 25, author: team[0] }); // #1
    P(280, { title: 'Vendor everything: 3,105 files', state: 'merged', nFiles: 3105, nReviews: 2, nRC: 3, nIC: 4, author: team[1] }); // #2
    P(250, { title: 'Flame war: 240 issue comments', state: 'closed', nIC: 240, nReviews: 3, nRC: 2, nFiles: 3, author: team[2], locked: true }); // #3
    P(200, { title: 'Change by a deleted account', state: 'merged', author: null, mergedBy: null, nIC: 6, nReviews: 3, nRC: 6, nFiles: 4 }); // #4
    P(150, { title: 'Bump lodash from 4.17.20 to 4.17.21', state: 'merged', author: bot, nIC: 3, nReviews: 1, nRC: 0, nFiles: 2, paths: ['package-lock.json', 'package.json'] }); // #5
    P(120, { title: 'PR by the user that tests rename', state: 'open', author: this.renameMe, nIC: 4, nReviews: 2, nRC: 3, nFiles: 3 }); // #6
    P(100, { title: T.UNICODE_TITLE, body: T.UNICODE_BODY, state: 'merged', nIC: 5, nReviews: 2, nRC: 4, nFiles: 3, paths: ['docs/日本語/読んで.md', 'src/ünïcödé file.cc', 'assets/emoji 🚀.txt'] }); // #7
    P(90, { title: 'Huge description (~1 MB body)', body: T.hugeBody(), state: 'closed', nIC: 2, nReviews: 1, nRC: 1, nFiles: 2 }); // #8
    P(10, { title: 'Draft: work in progress', state: 'open', draft: true, nIC: 2, nReviews: 0, nRC: 0, nFiles: 5 }); // #9
    P(5, { title: 'Open and ready for review', state: 'open', draft: false, nIC: 3, nReviews: 2, nRC: 2, nFiles: 6, late: now - 2 * HOUR }); // #10
    P(60, { title: 'Closed without merging', state: 'closed', nIC: 2, nReviews: 1, nRC: 0, nFiles: 2 }); // #11
    P(50, { title: 'Merged normally', state: 'merged', nIC: 4, nReviews: 2, nRC: 3, nFiles: 4 }); // #12
    P(40, { title: 'Rename files (previous_filename)', state: 'merged', nFiles: 3, nIC: 1, nReviews: 1, nRC: 0, fileStatus: ['renamed', 'renamed', 'modified'], paths: ['src/new_name.cc', 'include/progcap/new_name.h', 'CMakeLists.txt'], previousNames: ['src/old_name.cc', 'include/progcap/old_name.h'] }); // #13
    P(30, { title: T.HOSTILE_TITLE, body: T.HOSTILE_BODY, state: 'open', nIC: 3, nReviews: 1, nRC: 1, nFiles: 1, headRef: "feature/quote'n\"slash\\-14" }); // #14
    P(20, { title: 'Every review state', state: 'open', nReviews: 5, reviewStates: ['APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED', 'PENDING'], nRC: 4, nIC: 1, nFiles: 2 }); // #15
    this._genIssue(repo, ++n, t(15), { title: 'A plain issue (not a PR) with comments', nIC: 5, closed: false }); // #16
    P(12, { title: 'Empty PR: no files changed', state: 'closed', nFiles: 0, nCommits: 1, nReviews: 0, nRC: 0, nIC: 1 }); // #17
    P(8, { title: 'From a fork that was deleted', state: 'open', headRepoDeleted: true, nFiles: 2, nReviews: 1, nRC: 0, nIC: 1 }); // #18
    P(3, { title: 'Long commit history (300 commits, REST caps at 250)', state: 'open', nCommits: 300, nFiles: 8, nReviews: 1, nRC: 1, nIC: 1 }); // #19
    repo.nextNumber = n + 1;
    // hostile strings in comments too
    const host = repo.byNumber.get(14);
    host.issueComments[0].bodyOverride = T.HOSTILE_BODY;
    host.reviewComments[0].bodyOverride = T.HOSTILE_TITLE;
    const uni = repo.byNumber.get(7);
    uni.issueComments[0].bodyOverride = T.UNICODE_BODY;
    // ghost content everywhere on #4
    const g = repo.byNumber.get(4);
    g.issueComments[0].user = null; g.reviews[0].user = null;
    if (g.reviewComments[0]) g.reviewComments[0].user = null;
    // bot comments on #5
    const b = repo.byNumber.get(5);
    for (const c of b.issueComments) c.user = bot;
    // the renamable user also comments elsewhere
    repo.byNumber.get(12).issueComments[0].user = this.renameMe;
  }

  // ------------------------------------------------------------------ ids
  /**
   * Assign database ids per object type in creation-time order (as GitHub's are), spread over a
   * range that crosses 2^31 so consumers must use 64-bit ints (and GraphQL fullDatabaseId).
   */
  _assignIds() {
    const prs = [], issues = [], reviews = [], rcs = [], ics = [], threads = [];
    for (const repo of this.repos.values()) {
      for (const it of repo.items) {
        issues.push(it);
        if (it.kind === 'pr') {
          prs.push(it);
          for (const x of it.reviews) reviews.push(x);
          for (const x of it.reviewComments) rcs.push(x);
          for (const x of it.threads) threads.push(x);
        }
        for (const x of it.issueComments) ics.push(x);
      }
    }
    const assign = (list, field, base, span, timeOf, salt) => {
      list.sort((a, b) => timeOf(a) - timeOf(b)); // stable sort: ties keep (deterministic) generation order
      const r = new Rng(hashSeed(this.seed, 'ids', salt));
      const step = Math.max(2, Math.floor(span / Math.max(1, list.length)));
      let id = base;
      for (const x of list) { id += r.int(1, step * 2 - 1); x[field] = id; }
      return id;
    };
    const tc = (x) => x.created_at;
    this.idNext = {
      pr: assign(prs, 'id', 1_650_000_000, 800_000_000, tc, 'pr') + 1,
      issue: assign(issues, 'issueId', 1_700_000_000, 800_000_000, tc, 'issue') + 1,
      review: assign(reviews, 'id', 1_550_000_000, 900_000_000, tc, 'review') + 1,
      rc: assign(rcs, 'id', 1_500_000_000, 900_000_000, tc, 'rc') + 1,
      ic: assign(ics, 'id', 1_600_000_000, 900_000_000, tc, 'ic') + 1,
      thread: assign(threads, 'id', 900_000_000, 600_000_000, (x) => x.comments[0].created_at, 'thread') + 1,
    };
  }

  _finalize() {
    for (const repo of this.repos.values()) {
      let last = repo.created_at;
      for (const it of repo.items) last = Math.max(last, it.updated_at);
      repo.updated_at = sec(Math.min(this.nowMs, last));
      repo.pushed_at = sec(Math.min(this.nowMs, last));
    }
  }

  /** Global node id of any record (computed lazily; users/repos carry theirs eagerly). */
  nid(x) {
    if (x._nid) return x._nid;
    switch (x.kind) {
      case 'pr': return (x._nid = nodeId('PR', x.repo.id, x.id));
      case 'issue': return (x._nid = nodeId('I', x.repo.id, x.issueId));
      case 'review': return (x._nid = nodeId('PRR', x.pr.repo.id, x.id));
      case 'rc': return (x._nid = nodeId('PRRC', x.pr.repo.id, x.id));
      case 'thread': return (x._nid = nodeId('PRRT', x.pr.repo.id, x.id));
      case 'ic': return (x._nid = nodeId('IC', x.item.repo.id, x.id));
      default: return x.node_id;
    }
  }
  /** node id of the issue behind a PR (REST issue objects for PRs carry this one). */
  issueNid(it) { return it.kind === 'pr' ? (it._inid ??= nodeId('I', it.repo.id, it.issueId)) : this.nid(it); }
  /** i-th commit sha of a PR (0-based); memoised. */
  sha(pr, i) {
    const a = (pr._shas ??= []);
    return a[i] ??= sha1hex(`${this.seed}:${pr.repo.seedName}:${pr.number}:commit:${i}`);
  }
  headSha(pr) { return this.sha(pr, pr.nCommits - 1); }
  baseSha(pr) { return (pr._base ??= sha1hex(`${this.seed}:${pr.repo.seedName}:${pr.number}:base`)); }
  mergeSha(pr) { return (pr._merge ??= sha1hex(`${this.seed}:${pr.repo.seedName}:${pr.number}:merge`)); }

  // ------------------------------------------------------------------ lookup
  repo(owner, name) { return this.repos.get(`${owner}/${name}`.toLowerCase()) || null; }
  repoByFull(full) { return this.repos.get(String(full).toLowerCase()) || null; }
  user(login) { return this.usersByLogin.get(String(login).toLowerCase()) || null; }
  installationFor(repo) { return this.installations.find((i) => i.repoIds.has(repo.id)) || null; }
  installationById(id) { return this.installations.find((i) => i.id === Number(id)) || null; }

  /** Build (once per version) an index node_id -> record for GraphQL node()/nodes(). */
  nodeLookup(id) {
    if (this._nodeIndexVersion !== this.version) {
      this.nodeIndex = new Map();
      const add = (x) => this.nodeIndex.set(this.nid(x), x);
      for (const u of this.users) this.nodeIndex.set(u.node_id, u);
      for (const repo of this.repos.values()) {
        this.nodeIndex.set(repo.node_id, repo);
        for (const it of repo.items) {
          add(it);
          for (const c of it.issueComments) add(c);
          if (it.kind === 'pr') {
            for (const x of it.reviews) add(x);
            for (const x of it.reviewComments) add(x);
            for (const x of it.threads) add(x);
          }
        }
      }
      this._nodeIndexVersion = this.version;
    }
    return this.nodeIndex.get(id) || null;
  }

  // ------------------------------------------------------------------ lazy text
  itemBody(it) {
    if (it.bodyOverride !== undefined) return it.bodyOverride;
    if (it.bodyNull) return null;
    return (it._body ??= T.body(`${this.seed}:${it.bodyKey}`, 'pr'));
  }
  reviewBody(rv) {
    if (rv.bodyOverride !== undefined) return rv.bodyOverride;
    if (rv.emptyBody) return '';
    return (rv._body ??= T.reviewBody(`${this.seed}:rv:${rv.id}`, rv.state));
  }
  commentBody(c) {
    if (c.bodyOverride !== undefined) return c.bodyOverride;
    return (c._body ??= T.body(`${this.seed}:${c.kind}:${c.id}`, 'comment'));
  }
  filePatch(f) {
    if (f.binary || f.additions + f.deletions === 0) return undefined;
    return (f._patch ??= T.patch(`${this.seed}:${f.key}`, f.additions, f.deletions));
  }
  fileSha(f) { return (f._sha ??= f.status === 'removed' ? sha1hex(`${this.seed}:${f.key}:old`) : sha1hex(`${this.seed}:${f.key}`)); }
  diffHunk(c) { return (c._hunk ??= T.diffHunk(`${this.seed}:${c.hunkKey}`, c.original_position)); }
  prAdditions(pr) { let a = 0; for (const f of pr.files) a += f.additions; return a; }
  prDeletions(pr) { let d = 0; for (const f of pr.files) d += f.deletions; return d; }

  // ------------------------------------------------------------------ clock & mutation
  /** Data clock: pinned (moves only with advance_time / mutations) or wall-clock based. */
  now() {
    if (this.clockPinned) return this.nowMs;
    return sec(Math.max(this.nowMs, Date.now() + (this.clockOffset || 0)));
  }
  /** A timestamp for a mutation that is strictly after `after`. */
  _stamp(after = 0) {
    let t = this.now();
    if (t <= after) t = after + 1000;
    if (this.clockPinned && t > this.nowMs) this.nowMs = t;
    return t;
  }
  bump() { this.version++; }

  /** Memoise derived data (sorted/filtered lists) until the next mutation. */
  memo(key, fn) {
    if (this._memoVersion !== this.version) { this._memo = new Map(); this._memoVersion = this.version; }
    let v = this._memo.get(key);
    if (v === undefined) {
      v = fn();
      if (this._memo.size > 5000) this._memo.clear();
      this._memo.set(key, v);
    }
    return v;
  }

  /** Apply a /_fake/mutate op. Returns a JSON-able result or throws {status, message}. */
  mutate(op) {
    const fail = (status, message) => { const e = new Error(message); e.status = status; throw e; };
    const getRepo = () => this.repoByFull(op.repo) || fail(404, `unknown repo ${op.repo}`);
    const getPR = (repo) => {
      const it = repo.byNumber.get(Number(op.number));
      if (!it || it.kind !== 'pr') fail(404, `unknown PR ${op.repo}#${op.number}`);
      return it;
    };
    const touch = (it, t) => {
      it.updated_at = Math.max(it.updated_at + 1000, t);
      it.repo.updated_at = Math.max(it.repo.updated_at, it.updated_at);
      it.repo.pushed_at = it.repo.updated_at;
    };
    const userArg = (repo, key = 'user') => {
      if (op[key] === null) return null;
      if (op[key] !== undefined) return this.user(op[key]) || fail(404, `unknown user ${op[key]}`);
      return repo.team[(repo.items.length + this.version) % repo.team.length];
    };
    switch (op.op) {
      case 'touch_pr': {
        const repo = getRepo(); const pr = getPR(repo);
        const t = this._stamp(pr.updated_at);
        const f = op.fields || {};
        if (f.title !== undefined) pr.title = String(f.title);
        if (f.body !== undefined) pr.bodyOverride = f.body;
        if (f.draft !== undefined) pr.draft = !!f.draft;
        if (f.state === 'closed' && pr.state === 'open') { pr.state = 'closed'; pr.closed_at = t; pr.mergeable = null; pr.rebaseable = null; pr.mergeable_state = 'unknown'; }
        if (f.state === 'open' && pr.state === 'closed' && !pr.merged) { pr.state = 'open'; pr.closed_at = null; }
        if (f.merged === true && !pr.merged) { pr.merged = true; pr.state = 'closed'; pr.closed_at = t; pr.merged_at = t; pr.merged_by = repo.team[0]; pr.mergeable = null; pr.rebaseable = null; pr.mergeable_state = 'unknown'; }
        touch(pr, t); this.bump();
        return { repo: repo.full_name, number: pr.number, updated_at: pr.updated_at };
      }
      case 'push_commit': {
        // A new head commit: head.sha changes, one file is added (or, with `path` of an existing
        // file, its line counts grow), commits +1.
        const repo = getRepo(); const pr = getPR(repo);
        const t = this._stamp(pr.updated_at);
        pr.nCommits += 1; pr.commitTimes.push(t);
        const path = op.path ?? `src/pushed_${pr.nCommits}.cc`;
        const f = pr.files.find((x) => x.path === path);
        if (f) { f.additions += 5; f.deletions += 1; if (f.status !== 'added') f.status = 'modified'; }
        else pr.files.push({ path, status: 'added', additions: op.additions ?? 10, deletions: 0, binary: false, key: `${repo.full_name}#${pr.number}:${path}` });
        touch(pr, t); this.bump();
        return { repo: repo.full_name, number: pr.number, head_sha: this.headSha(pr), files: pr.files.length };
      }
      case 'add_review': {
        const repo = getRepo(); const pr = getPR(repo);
        const t = this._stamp(pr.updated_at);
        const rv = { kind: 'review', pr, user: userArg(repo), state: op.state || 'APPROVED', created_at: t, submitted_at: op.state === 'PENDING' ? null : t, commitIdx: pr.nCommits - 1, id: this.idNext.review++ };
        if (op.body !== undefined) rv.bodyOverride = String(op.body);
        pr.reviews.push(rv); touch(pr, t); this.bump();
        return { id: rv.id, node_id: this.nid(rv) };
      }
      case 'add_review_comment': {
        const repo = getRepo(); const pr = getPR(repo);
        const t = this._stamp(pr.updated_at);
        const user = userArg(repo);
        const rv = { kind: 'review', pr, user, state: 'COMMENTED', created_at: t, submitted_at: t, commitIdx: pr.nCommits - 1, id: this.idNext.review++, emptyBody: true };
        const replyTo = op.in_reply_to ? pr.reviewComments.find((c) => c.id === Number(op.in_reply_to)) : null;
        const path = replyTo ? replyTo.path : (pr.files[0]?.path ?? 'README.md');
        const thread = replyTo ? replyTo.thread : { kind: 'thread', pr, comments: [], isResolved: false, path, outdated: false, line: 10, startLine: null, id: this.idNext.thread++ };
        if (!replyTo) pr.threads.push(thread);
        const root = replyTo ? (replyTo.in_reply_to || replyTo) : null;
        const c = {
          kind: 'rc', pr, thread, review: rv, user, created_at: t, updated_at: t, path, position: 1, original_position: 1,
          line: thread.line, original_line: thread.line, start_line: null, original_start_line: null, side: 'RIGHT', start_side: null,
          commitIdx: pr.nCommits - 1, origCommitIdx: pr.nCommits - 1, in_reply_to: root, hunkKey: `${pr.number}:${path}:new`, id: this.idNext.rc++,
        };
        if (op.body !== undefined) c.bodyOverride = String(op.body);
        thread.comments.push(c); pr.reviewComments.push(c); pr.reviews.push(rv); touch(pr, t); this.bump();
        return { id: c.id, node_id: this.nid(c), pull_request_review_id: rv.id };
      }
      case 'add_comment': {
        const repo = getRepo();
        const it = repo.byNumber.get(Number(op.number)) || fail(404, `unknown issue/PR ${op.repo}#${op.number}`);
        const t = this._stamp(it.updated_at);
        const c = { kind: 'ic', item: it, user: userArg(repo), created_at: t, updated_at: t, id: this.idNext.ic++ };
        if (op.body !== undefined) c.bodyOverride = String(op.body);
        it.issueComments.push(c); touch(it, t); this.bump();
        return { id: c.id, node_id: this.nid(c) };
      }
      case 'edit_comment': {
        const repo = getRepo();
        let found = null;
        for (const it of repo.items) {
          found = it.issueComments.find((c) => c.id === Number(op.id)) || (it.reviewComments || []).find((c) => c.id === Number(op.id));
          if (found) break;
        }
        if (!found) fail(404, `unknown comment ${op.id}`);
        const t = this._stamp(found.updated_at);
        found.bodyOverride = String(op.body ?? `edited at ${new Date(t).toISOString()}`);
        found.updated_at = t;
        touch(found.item || found.pr, t); this.bump();
        return { id: found.id, updated_at: t };
      }
      case 'add_pr': {
        const repo = getRepo();
        const t = this._stamp(0);
        const number = repo.nextNumber++;
        const pr = this._genPR(repo, number, t, { state: 'open', draft: false, nFiles: op.files ?? 3, nReviews: 0, nRC: 0, nIC: 0, nCommits: 1, late: null, title: op.title });
        pr.updated_at = t; pr.closed_at = null;
        pr.commitTimes = [t];
        pr.id = this.idNext.pr++; pr.issueId = this.idNext.issue++;
        repo.updated_at = Math.max(repo.updated_at, t); repo.pushed_at = repo.updated_at;
        this.bump();
        return { repo: repo.full_name, number, id: pr.id, node_id: this.nid(pr) };
      }
      case 'rename_user': {
        const u = this.usersById.get(Number(op.id)) || this.user(op.from ?? '') || fail(404, `unknown user id ${op.id}`);
        const login = String(op.login || '');
        if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(login) && u.type !== 'Bot') fail(422, `invalid login ${login}`);
        const holder = this.user(login);
        if (holder && holder !== u) fail(422, `login ${login} is taken by user ${holder.id}`);
        this.usersByLogin.delete(u.login.toLowerCase());
        const old = u.login;
        u.login = login; u.ver++; u.updated_at = this._stamp(u.updated_at);
        this.usersByLogin.set(login.toLowerCase(), u);
        if (this.owners.has(old.toLowerCase())) { this.owners.delete(old.toLowerCase()); this.owners.set(login.toLowerCase(), u); }
        this._rekeyRepos();
        this.bump();
        return { id: u.id, old_login: old, login };
      }
      case 'advance_time': {
        const s = Number(op.seconds) || 0;
        if (this.clockPinned) this.nowMs = sec(this.nowMs + s * 1000);
        else this.clockOffset = (this.clockOffset || 0) + s * 1000;
        this.bump();
        return { now: new Date(this.now()).toISOString() };
      }
      default:
        fail(400, `unknown op ${op.op}`);
    }
    return null;
  }

  _rekeyRepos() {
    const all = [...this.repos.values()];
    this.repos.clear();
    for (const r of all) { r.full_name = `${r.owner.login}/${r.name}`; this.repos.set(r.full_name.toLowerCase(), r); }
  }

  // ------------------------------------------------------------------ summaries
  summary() {
    const out = {};
    for (const repo of this.repos.values()) {
      const s = { id: repo.id, private: repo.private, pull_requests: 0, issues: 0, files: 0, files_rest_visible: 0, reviews: 0, review_comments: 0, issue_comments: 0, issue_comments_on_issues: 0, review_threads: 0 };
      for (const it of repo.items) {
        if (it.kind === 'pr') {
          s.pull_requests++;
          s.files += it.files.length; s.files_rest_visible += Math.min(3000, it.files.length);
          s.reviews += it.reviews.length; s.review_comments += it.reviewComments.length; s.review_threads += it.threads.length;
          s.issue_comments += it.issueComments.length;
        } else { s.issues++; s.issue_comments_on_issues += it.issueComments.length; }
      }
      out[repo.full_name] = s;
    }
    return out;
  }
}
