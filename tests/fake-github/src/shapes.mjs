// REST JSON representations, with GitHub's field sets and key order (API version 2022-11-28).
// API URLs point at the fake's own base URL; html_url-style links use https://github.com.
import { iso, hashSeed, nodeId } from './util.mjs';

const WEB = 'https://github.com';
const enc = (p) => p.split('/').map(encodeURIComponent).join('/');

export class Shapes {
  constructor(ds, base) {
    this.ds = ds;
    this.B = base.replace(/\/$/, '');
  }

  // ------------------------------------------------------------------ users
  avatar(u) { return `https://avatars.githubusercontent.com/u/${u.id}?v=4`; }

  /** simple-user; null for deleted accounts (ghosts). */
  user(u) {
    if (!u) return null;
    if (u._simple && u._simpleVer === u.ver && u._simpleB === this.B) return u._simple;
    const B = this.B, l = u.login;
    const o = {
      login: l, id: u.id, node_id: u.node_id, avatar_url: this.avatar(u), gravatar_id: '',
      url: `${B}/users/${l}`,
      html_url: u.type === 'Bot' ? `${WEB}/apps/${u.appSlug}` : `${WEB}/${l}`,
      followers_url: `${B}/users/${l}/followers`, following_url: `${B}/users/${l}/following{/other_user}`,
      gists_url: `${B}/users/${l}/gists{/gist_id}`, starred_url: `${B}/users/${l}/starred{/owner}{/repo}`,
      subscriptions_url: `${B}/users/${l}/subscriptions`, organizations_url: `${B}/users/${l}/orgs`,
      repos_url: `${B}/users/${l}/repos`, events_url: `${B}/users/${l}/events{/privacy}`,
      received_events_url: `${B}/users/${l}/received_events`, type: u.type, user_view_type: 'public', site_admin: false,
    };
    u._simple = o; u._simpleVer = u.ver; u._simpleB = this.B;
    return o;
  }

  /** GET /users/{login} */
  fullUser(u) {
    return {
      ...this.user(u), name: u.name ?? null, company: u.company ?? null, blog: u.blog ?? '', location: u.location ?? null,
      email: u.email ?? null, hireable: u.hireable ?? null, bio: u.bio ?? null, twitter_username: u.twitter_username ?? null,
      public_repos: u.public_repos ?? 0, public_gists: u.public_gists ?? 0, followers: u.followers ?? 0, following: u.following ?? 0,
      created_at: iso(u.created_at), updated_at: iso(u.updated_at),
    };
  }

  // ------------------------------------------------------------------ repos
  _repoCore(repo) {
    const B = this.B, f = repo.full_name, a = `${B}/repos/${f}`;
    let openCount = 0;
    for (const it of repo.items) if (it.state === 'open') openCount++;
    return {
      id: repo.id, node_id: repo.node_id, name: repo.name, full_name: f, private: repo.private,
      owner: this.user(repo.owner), html_url: `${WEB}/${f}`, description: repo.description, fork: false, url: a,
      forks_url: `${a}/forks`, keys_url: `${a}/keys{/key_id}`, collaborators_url: `${a}/collaborators{/collaborator}`,
      teams_url: `${a}/teams`, hooks_url: `${a}/hooks`, issue_events_url: `${a}/issues/events{/number}`,
      events_url: `${a}/events`, assignees_url: `${a}/assignees{/user}`, branches_url: `${a}/branches{/branch}`,
      tags_url: `${a}/tags`, blobs_url: `${a}/git/blobs{/sha}`, git_tags_url: `${a}/git/tags{/sha}`,
      git_refs_url: `${a}/git/refs{/sha}`, trees_url: `${a}/git/trees{/sha}`, statuses_url: `${a}/statuses/{sha}`,
      languages_url: `${a}/languages`, stargazers_url: `${a}/stargazers`, contributors_url: `${a}/contributors`,
      subscribers_url: `${a}/subscribers`, subscription_url: `${a}/subscription`, commits_url: `${a}/commits{/sha}`,
      git_commits_url: `${a}/git/commits{/sha}`, comments_url: `${a}/comments{/number}`,
      issue_comment_url: `${a}/issues/comments{/number}`, contents_url: `${a}/contents/{+path}`,
      compare_url: `${a}/compare/{base}...{head}`, merges_url: `${a}/merges`, archive_url: `${a}/{archive_format}{/ref}`,
      downloads_url: `${a}/downloads`, issues_url: `${a}/issues{/number}`, pulls_url: `${a}/pulls{/number}`,
      milestones_url: `${a}/milestones{/number}`, notifications_url: `${a}/notifications{?since,all,participating}`,
      labels_url: `${a}/labels{/name}`, releases_url: `${a}/releases{/id}`, deployments_url: `${a}/deployments`,
      created_at: iso(repo.created_at), updated_at: iso(repo.updated_at), pushed_at: iso(repo.pushed_at),
      git_url: `git://github.com/${f}.git`, ssh_url: `git@github.com:${f}.git`, clone_url: `${WEB}/${f}.git`,
      svn_url: `${WEB}/${f}`, homepage: repo.homepage, size: repo.size, stargazers_count: repo.stargazers_count,
      watchers_count: repo.stargazers_count, language: repo.language, has_issues: true, has_projects: true,
      has_downloads: true, has_wiki: true, has_pages: false, has_discussions: false, forks_count: repo.forks_count,
      mirror_url: null, archived: false, disabled: false, open_issues_count: openCount,
      license: { key: 'apache-2.0', name: 'Apache License 2.0', spdx_id: 'Apache-2.0', url: `${B}/licenses/apache-2.0`, node_id: 'MDc6TGljZW5zZTI=' },
      allow_forking: true, is_template: false, web_commit_signoff_required: false, topics: repo.topics,
      visibility: repo.private ? 'private' : 'public', forks: repo.forks_count, open_issues: openCount,
      watchers: repo.stargazers_count, default_branch: repo.default_branch,
    };
  }

  /** The repository object embedded in PR head/base. */
  repoEmbedded(repo) {
    if (repo._emb && repo._embV === this.ds.version && repo._embB === this.B) return repo._emb;
    repo._emb = this._repoCore(repo); repo._embV = this.ds.version; repo._embB = this.B;
    return repo._emb;
  }

  /** GET /repos/{owner}/{repo} */
  repo(repo) {
    const o = {
      ...this._repoCore(repo),
      permissions: { admin: false, maintain: false, push: false, triage: false, pull: true },
      temp_clone_token: repo.private ? '' : null,
    };
    if (repo.owner.type === 'Organization') o.organization = this.user(repo.owner);
    o.network_count = repo.forks_count;
    o.subscribers_count = repo.subscribers_count;
    return o;
  }

  label(repo, l) {
    return { id: l.id, node_id: l.node_id, url: `${this.B}/repos/${repo.full_name}/labels/${encodeURIComponent(l.name)}`, name: l.name, color: l.color, default: l.default, description: l.description };
  }

  reactions(url, id) {
    const h = hashSeed('react', id);
    const plus = h % 11 === 0 ? (h >>> 8) % 6 : 0, heart = h % 17 === 0 ? 1 : 0, rocket = h % 23 === 0 ? 2 : 0;
    return { url, total_count: plus + heart + rocket, '+1': plus, '-1': 0, laugh: 0, hooray: 0, confused: 0, heart, rocket, eyes: 0 };
  }

  // ------------------------------------------------------------------ pull requests
  _prLinks(pr) {
    const B = this.B, f = pr.repo.full_name, n = pr.number, a = `${B}/repos/${f}`;
    return {
      url: `${a}/pulls/${n}`, html_url: `${WEB}/${f}/pull/${n}`, diff_url: `${WEB}/${f}/pull/${n}.diff`,
      patch_url: `${WEB}/${f}/pull/${n}.patch`, issue_url: `${a}/issues/${n}`, commits_url: `${a}/pulls/${n}/commits`,
      review_comments_url: `${a}/pulls/${n}/comments`, review_comment_url: `${a}/pulls/comments{/number}`,
      comments_url: `${a}/issues/${n}/comments`, statuses_url: `${a}/statuses/${this.ds.headSha(pr)}`,
    };
  }

  _ref(pr, which) {
    const repo = pr.repo, ds = this.ds;
    if (which === 'head') {
      const u = pr.headRepoDeleted ? (pr.author || repo.owner) : repo.owner;
      return {
        label: `${u.login}:${pr.headRef}`, ref: pr.headRef, sha: ds.headSha(pr), user: this.user(u),
        repo: pr.headRepoDeleted ? null : this.repoEmbedded(repo),
      };
    }
    return { label: `${repo.owner.login}:${pr.baseRef}`, ref: pr.baseRef, sha: ds.baseSha(pr), user: this.user(repo.owner), repo: this.repoEmbedded(repo) };
  }

  /** pull-request-simple: the object in GET /pulls lists. */
  prSimple(pr) {
    const L = this._prLinks(pr), ds = this.ds;
    return {
      url: L.url, id: pr.id, node_id: ds.nid(pr), html_url: L.html_url, diff_url: L.diff_url, patch_url: L.patch_url,
      issue_url: L.issue_url, number: pr.number, state: pr.state, locked: pr.locked, title: pr.title,
      user: this.user(pr.author), body: ds.itemBody(pr), created_at: iso(pr.created_at), updated_at: iso(pr.updated_at),
      closed_at: iso(pr.closed_at), merged_at: iso(pr.merged_at), merge_commit_sha: ds.mergeSha(pr),
      assignee: this.user(pr.assignees[0] || null), assignees: pr.assignees.map((u) => this.user(u)),
      requested_reviewers: pr.requested_reviewers.map((u) => this.user(u)), requested_teams: [],
      labels: pr.labels.map((l) => this.label(pr.repo, l)), milestone: null, draft: pr.draft,
      commits_url: L.commits_url, review_comments_url: L.review_comments_url, review_comment_url: L.review_comment_url,
      comments_url: L.comments_url, statuses_url: L.statuses_url,
      head: this._ref(pr, 'head'), base: this._ref(pr, 'base'),
      _links: {
        self: { href: L.url }, html: { href: L.html_url }, issue: { href: L.issue_url }, comments: { href: L.comments_url },
        review_comments: { href: L.review_comments_url }, review_comment: { href: L.review_comment_url },
        commits: { href: L.commits_url }, statuses: { href: L.statuses_url },
      },
      author_association: this.ds.association(pr.author, pr.repo), auto_merge: null, active_lock_reason: pr.active_lock_reason,
    };
  }

  /** pull-request: GET /pulls/{number}. */
  prFull(pr) {
    const ds = this.ds;
    return {
      ...this.prSimple(pr),
      merged: pr.merged, mergeable: pr.mergeable, rebaseable: pr.rebaseable, mergeable_state: pr.mergeable_state,
      merged_by: this.user(pr.merged_by), comments: pr.issueComments.length, review_comments: pr.reviewComments.length,
      maintainer_can_modify: pr.maintainer_can_modify, commits: pr.nCommits,
      additions: ds.prAdditions(pr), deletions: ds.prDeletions(pr), changed_files: pr.files.length,
    };
  }

  file(pr, f) {
    const f2 = pr.repo.full_name, sha = this.ds.headSha(pr), p = enc(f.path);
    const o = {
      sha: this.ds.fileSha(f), filename: f.path, status: f.status, additions: f.additions, deletions: f.deletions,
      changes: f.additions + f.deletions,
      blob_url: `${WEB}/${f2}/blob/${sha}/${p}`, raw_url: `${WEB}/${f2}/raw/${sha}/${p}`,
      contents_url: `${this.B}/repos/${f2}/contents/${p}?ref=${sha}`,
    };
    const patch = this.ds.filePatch(f);
    if (patch !== undefined) o.patch = patch;
    if (f.previous_filename) o.previous_filename = f.previous_filename;
    return o;
  }

  commit(pr, i) {
    const ds = this.ds, f = pr.repo.full_name, sha = ds.sha(pr, i), a = `${this.B}/repos/${f}`;
    const who = pr.author || pr.repo.team[0];
    const date = iso(pr.commitTimes[i] ?? pr.created_at);
    const parent = i === 0 ? ds.baseSha(pr) : ds.sha(pr, i - 1);
    const person = { name: who.name || who.login, email: `${who.id}+${who.login}@users.noreply.github.com`, date };
    return {
      sha, node_id: nodeId('C', pr.repo.id, hashSeed(sha)), commit: {
        author: person, committer: { ...person }, message: i === 0 ? pr.title : `Address review feedback (${i})`,
        tree: { sha: ds.sha(pr, i).split('').reverse().join(''), url: `${a}/git/trees/${sha.split('').reverse().join('')}` },
        url: `${a}/git/commits/${sha}`, comment_count: 0,
        verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
      },
      url: `${a}/commits/${sha}`, html_url: `${WEB}/${f}/commit/${sha}`, comments_url: `${a}/commits/${sha}/comments`,
      author: this.user(pr.author), committer: this.user(pr.author),
      parents: [{ sha: parent, url: `${a}/commits/${parent}`, html_url: `${WEB}/${f}/commit/${parent}` }],
    };
  }

  review(rv) {
    const pr = rv.pr, f = pr.repo.full_name, ds = this.ds;
    const html = `${WEB}/${f}/pull/${pr.number}#pullrequestreview-${rv.id}`, prUrl = `${this.B}/repos/${f}/pulls/${pr.number}`;
    const o = {
      id: rv.id, node_id: ds.nid(rv), user: this.user(rv.user), body: ds.reviewBody(rv), state: rv.state,
      html_url: html, pull_request_url: prUrl, author_association: ds.association(rv.user, pr.repo),
      _links: { html: { href: html }, pull_request: { href: prUrl } },
    };
    if (rv.submitted_at !== null) o.submitted_at = iso(rv.submitted_at);
    o.commit_id = ds.sha(pr, rv.commitIdx);
    return o;
  }

  reviewComment(c) {
    const pr = c.pr, f = pr.repo.full_name, ds = this.ds, B = this.B;
    const url = `${B}/repos/${f}/pulls/comments/${c.id}`, html = `${WEB}/${f}/pull/${pr.number}#discussion_r${c.id}`;
    const prUrl = `${B}/repos/${f}/pulls/${pr.number}`;
    const o = {
      url, pull_request_review_id: c.review ? c.review.id : null, id: c.id, node_id: ds.nid(c), diff_hunk: ds.diffHunk(c),
      path: c.path, commit_id: ds.sha(pr, c.commitIdx), original_commit_id: ds.sha(pr, c.origCommitIdx),
      user: this.user(c.user), body: ds.commentBody(c), created_at: iso(c.created_at), updated_at: iso(c.updated_at),
      html_url: html, pull_request_url: prUrl, author_association: ds.association(c.user, pr.repo),
      _links: { self: { href: url }, html: { href: html }, pull_request: { href: prUrl } },
      reactions: this.reactions(`${url}/reactions`, c.id),
      start_line: c.start_line, original_start_line: c.original_start_line, start_side: c.start_side,
      line: c.line, original_line: c.original_line, side: c.side,
    };
    if (c.in_reply_to) o.in_reply_to_id = c.in_reply_to.id;
    o.original_position = c.original_position;
    o.position = c.position;
    o.subject_type = 'line';
    return o;
  }

  issueComment(c) {
    const it = c.item, f = it.repo.full_name, ds = this.ds, B = this.B;
    const url = `${B}/repos/${f}/issues/comments/${c.id}`;
    return {
      url, html_url: `${WEB}/${f}/${it.kind === 'pr' ? 'pull' : 'issues'}/${it.number}#issuecomment-${c.id}`,
      issue_url: `${B}/repos/${f}/issues/${it.number}`, id: c.id, node_id: ds.nid(c), user: this.user(c.user),
      created_at: iso(c.created_at), updated_at: iso(c.updated_at), author_association: ds.association(c.user, it.repo),
      body: ds.commentBody(c), reactions: this.reactions(`${url}/reactions`, c.id), performed_via_github_app: null,
    };
  }

  /** Issue representation (GET /issues lists both issues and PRs; PRs carry a pull_request key). */
  issue(it, single = false) {
    const ds = this.ds, f = it.repo.full_name, B = this.B, a = `${B}/repos/${f}/issues/${it.number}`;
    const isPR = it.kind === 'pr';
    const o = {
      url: a, repository_url: `${B}/repos/${f}`, labels_url: `${a}/labels{/name}`, comments_url: `${a}/comments`,
      events_url: `${a}/events`, html_url: `${WEB}/${f}/${isPR ? 'pull' : 'issues'}/${it.number}`,
      id: it.issueId, node_id: ds.issueNid(it), number: it.number, title: it.title, user: this.user(it.author),
      labels: it.labels.map((l) => this.label(it.repo, l)), state: it.state, locked: it.locked,
      assignee: this.user(it.assignees[0] || null), assignees: it.assignees.map((u) => this.user(u)), milestone: null,
      comments: it.issueComments.length, created_at: iso(it.created_at), updated_at: iso(it.updated_at),
      closed_at: iso(it.closed_at), author_association: ds.association(it.author, it.repo), type: null,
      active_lock_reason: it.active_lock_reason ?? null, sub_issues_summary: { total: 0, completed: 0, percent_completed: 0 },
    };
    if (isPR) {
      o.draft = it.draft;
      o.pull_request = {
        url: `${B}/repos/${f}/pulls/${it.number}`, html_url: `${WEB}/${f}/pull/${it.number}`,
        diff_url: `${WEB}/${f}/pull/${it.number}.diff`, patch_url: `${WEB}/${f}/pull/${it.number}.patch`, merged_at: iso(it.merged_at),
      };
    }
    o.body = ds.itemBody(it);
    if (single) o.closed_by = this.user(isPR ? (it.merged_by || (it.state === 'closed' ? it.repo.team[0] : null)) : it.closed_by);
    o.reactions = this.reactions(`${a}/reactions`, it.issueId);
    o.timeline_url = `${a}/timeline`;
    o.performed_via_github_app = null;
    o.state_reason = isPR ? null : it.state_reason;
    return o;
  }
}
