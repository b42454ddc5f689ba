import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fake } from './helpers.mjs';

let f, api;
before(async () => { f = await fake({ dataset: 'standard' }); api = f.api; });
after(() => f.close());

const cost = async (q, variables) => {
  const dry = q.replace(/^\s*(query[^{]*)?\{/, (m) => `${m} rateLimit(dryRun: true) { cost nodeCount } `);
  const r = await api.gql(dry, variables);
  assert.equal(r.status, 200, r.text);
  assert.ok(!r.json.errors, JSON.stringify(r.json.errors));
  return r.json.data.rateLimit;
};

describe('validation (GitHub style errors, HTTP 200)', () => {
  test('reviewComments on PullRequest is undefinedField', async () => {
    const r = await api.gql('query { repository(owner:"acme", name:"widgets") { pullRequest(number: 1) { reviewComments(first: 10) { nodes { body } } } } }');
    assert.equal(r.status, 200);
    const e = r.json.errors[0];
    assert.equal(e.message, "Field 'reviewComments' doesn't exist on type 'PullRequest'");
    assert.equal(e.extensions.code, 'undefinedField');
    assert.equal(e.extensions.typeName, 'PullRequest');
    assert.deepEqual(e.locations, [{ line: 1, column: 77 }]);
    assert.deepEqual(e.path, ['query', 'repository', 'pullRequest', 'reviewComments']);
    assert.equal(r.json.data, undefined);
  });

  test('inReplyTo and filterBy are rejected like on GitHub', async () => {
    const r = await api.gql('{ repository(owner:"acme", name:"widgets") { pullRequests(first: 5, filterBy: {since: "2020-01-01T00:00:00Z"}) { nodes { number } } } }');
    assert.equal(r.json.errors[0].extensions.code, 'argumentNotAccepted');
    assert.equal(r.json.errors[0].message, "Field 'pullRequests' doesn't accept argument 'filterBy'");
  });

  test('first: 1000 -> EXCESSIVE_PAGINATION', async () => {
    const r = await api.gql('{ repository(owner:"acme", name:"widgets") { pullRequests(first: 1000) { nodes { number } } } }');
    assert.equal(r.status, 200);
    assert.equal(r.json.errors[0].type, 'EXCESSIVE_PAGINATION');
    assert.equal(r.json.errors[0].message, 'Requesting 1000 records on the `pullRequests` connection exceeds the `first` limit of 100 records.');
    assert.deepEqual(r.json.errors[0].path, ['repository', 'pullRequests']);
  });

  test('missing first/last -> MISSING_PAGINATION_BOUNDARIES (totalCount alone is fine)', async () => {
    const r = await api.gql('{ repository(owner:"acme", name:"widgets") { pullRequests { nodes { number } } } }');
    assert.equal(r.json.errors[0].type, 'MISSING_PAGINATION_BOUNDARIES');
    assert.equal(r.json.errors[0].message, 'You must provide a `first` or `last` value to properly paginate the `pullRequests` connection.');
    const ok = await api.gql('{ repository(owner:"acme", name:"widgets") { pullRequests { totalCount } } }');
    assert.equal(ok.json.data.repository.pullRequests.totalCount, 300);
  });

  test('more than 500,000 nodes -> MAX_NODE_LIMIT_EXCEEDED', async () => {
    const r = await api.gql('{ repository(owner:"acme", name:"widgets") { pullRequests(first: 100) { nodes { reviews(first: 100) { nodes { comments(first: 100) { nodes { id } } } } } } } }');
    assert.equal(r.json.errors[0].type, 'MAX_NODE_LIMIT_EXCEEDED');
  });

  test('parse errors and bad variables', async () => {
    const r = await api.gql('{ repository(owner:"acme" name:"widgets") { id ');
    assert.match(r.json.errors[0].message, /^Parse error on/);
    const v = await api.gql('query($n: Int!) { repository(owner:"acme", name:"widgets") { pullRequests(first: $n) { totalCount } } }', {});
    assert.equal(v.json.errors[0].message, 'Variable $n of type Int! was provided invalid value');
  });
});

describe('cost (documented formula)', () => {
  test('GitHub docs example: 5,101 requests -> 51 points', async () => {
    const q = `query { viewer { login repositories(first: 100) { edges { node { id
      issues(first: 50) { edges { node { id labels(first: 60) { edges { node { id name } } } } } } } } } } }`;
    const c = await cost(q);
    assert.equal(c.cost, 51);
    assert.equal(c.nodeCount, 100 + 100 * 50 + 100 * 50 * 60);
  });

  test('single PR with nested reviews(100){comments(50)} costs 1', async () => {
    const q = `query { repository(owner:"acme", name:"widgets") { pullRequest(number: 1) {
      reviews(first: 100) { nodes { comments(first: 50) { nodes { id } } } }
      comments(first: 100) { nodes { id } } files(first: 100) { nodes { path } } } } }`;
    const c = await cost(q);
    assert.equal(c.cost, 1); // 1 + 100 + 1 + 1 = 103 requests -> 1
  });

  test('25 PRs x (reviews 50, comments 50, files 100) = 76 requests -> 1 point; with reviews{comments} -> 13', async () => {
    const base = (inner) => `query($o: String!, $n: String!) { repository(owner: $o, name: $n) { pullRequests(first: 25) { nodes {
      reviews(first: 50) { nodes { id ${inner} } } comments(first: 50) { nodes { id } } files(first: 100) { nodes { path } } } } } }`;
    assert.equal((await cost(base(''), { o: 'acme', n: 'widgets' })).cost, 1);
    assert.equal((await cost(base('comments(first: 20) { nodes { id } }'), { o: 'acme', n: 'widgets' })).cost, 13);
  });

  test('rateLimit.cost and headers reflect the charge; dryRun charges nothing', async () => {
    const q = '{ rateLimit { cost remaining used limit resetAt nodeCount } repository(owner:"acme", name:"widgets") { pullRequests(first: 100) { nodes { files(first: 100) { totalCount } comments(first: 100) { totalCount } } } } }';
    const r1 = await api.gql(q);
    assert.equal(r1.json.data.rateLimit.cost, 2); // 1 + 100 + 100 = 201 -> 2
    assert.equal(Number(r1.headers.get('x-ratelimit-remaining')), r1.json.data.rateLimit.remaining);
    assert.equal(r1.headers.get('x-ratelimit-resource'), 'graphql');
    const before = r1.json.data.rateLimit.remaining;
    const dry = await api.gql('{ rateLimit(dryRun: true) { cost remaining } }');
    assert.equal(dry.json.data.rateLimit.remaining, before);
    const stats = (await api.ctl('GET', '/_fake/stats')).json;
    assert.ok(stats.graphql_points['token:ghp_testtoken0000000000000000000000000000'] >= 2);
  });
});

describe('execution', () => {
  const PAGE = `query($owner: String!, $name: String!, $after: String) {
    repository(owner: $owner, name: $name) {
      id databaseId nameWithOwner owner { login } isPrivate defaultBranchRef { name }
      pullRequests(first: 50, after: $after, orderBy: {field: CREATED_AT, direction: ASC}) {
        totalCount pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
        edges { cursor node { number } }
        nodes { id fullDatabaseId number title state isDraft merged mergedAt closedAt createdAt updatedAt
          additions deletions changedFiles headRefOid commits { totalCount }
          author { login __typename ... on User { databaseId } ... on Bot { databaseId } }
          files(first: 100) { totalCount nodes { path additions deletions changeType } }
          reviews(first: 100) { totalCount nodes { fullDatabaseId state submittedAt commit { oid } author { login } } }
          comments(first: 100) { totalCount nodes { fullDatabaseId body author { login } } } } } } }`;

  test('PR pages match REST (ids, counts, states) and paginate with cursors', async () => {
    let after = null, seen = 0, pages = 0;
    do {
      const r = await api.gql(PAGE, { owner: 'acme', name: 'pathological', after });
      assert.ok(!r.json.errors, JSON.stringify(r.json.errors));
      const conn = r.json.data.repository.pullRequests;
      assert.equal(conn.totalCount, 18);
      for (const pr of conn.nodes) {
        const rest = (await api.get(`/repos/acme/pathological/pulls/${pr.number}`)).json;
        assert.equal(pr.id, rest.node_id);
        assert.equal(pr.fullDatabaseId, String(rest.id));
        assert.equal(pr.additions, rest.additions);
        assert.equal(pr.changedFiles, rest.changed_files);
        assert.equal(pr.commits.totalCount, rest.commits);
        assert.equal(pr.headRefOid, rest.head.sha);
        assert.equal(pr.createdAt, rest.created_at);
        assert.equal(pr.updatedAt, rest.updated_at);
        assert.equal(pr.state, rest.merged ? 'MERGED' : rest.state.toUpperCase());
        assert.equal(pr.comments.totalCount, rest.comments);
        assert.equal(pr.files.totalCount, rest.changed_files);
      }
      seen += conn.nodes.length;
      after = conn.pageInfo.endCursor;
      pages++;
      if (!conn.pageInfo.hasNextPage) break;
    } while (pages < 10);
    assert.equal(seen, 18);
  });

  test('ghosts are null, bots are Bot (login without [bot]), databaseId overflow is an error', async () => {
    const q = `{ repository(owner:"acme", name:"pathological") {
      ghost: pullRequest(number: 4) { author { login } mergedBy { login } }
      bot: pullRequest(number: 5) { author { __typename login ... on Bot { databaseId } } }
      big: pullRequest(number: 1) { databaseId fullDatabaseId } } }`;
    const r = await api.gql(q);
    assert.equal(r.json.data.repository.ghost.author, null);
    assert.equal(r.json.data.repository.ghost.mergedBy, null);
    assert.deepEqual(r.json.data.repository.bot.author, { __typename: 'Bot', login: 'dependabot', databaseId: 49699333 });
    const big = r.json.data.repository.big;
    if (Number(big.fullDatabaseId) > 2 ** 31 - 1) {
      assert.equal(big.databaseId, null);
      assert.match(r.json.errors[0].message, /Int cannot represent non 32-bit signed integer value/);
    } else {
      assert.equal(big.databaseId, Number(big.fullDatabaseId));
    }
  });

  test('review threads: replyTo, pullRequestReview and original commit', async () => {
    const q = `{ repository(owner:"acme", name:"pathological") { pullRequest(number: 1) {
      reviewThreads(first: 100) { totalCount pageInfo { hasNextPage } nodes { isResolved comments(first: 50) { nodes {
        fullDatabaseId path position originalPosition diffHunk replyTo { fullDatabaseId } pullRequestReview { fullDatabaseId } originalCommit { oid } commit { oid } } } } } } } }`;
    const r = await api.gql(q);
    assert.ok(!r.json.errors, JSON.stringify(r.json.errors));
    const threads = r.json.data.repository.pullRequest.reviewThreads;
    assert.ok(threads.totalCount > 100 && threads.pageInfo.hasNextPage);
    const rest = (await api.ctl('GET', '/_fake/truth?repo=acme/pathological&numbers=1&include=review_comments')).json.review_comments['1'];
    const byId = new Map(rest.map((c) => [String(c.id), c]));
    let replies = 0;
    for (const t of threads.nodes) {
      const [root, ...rs] = t.comments.nodes;
      assert.equal(root.replyTo, null);
      for (const c of [root, ...rs]) {
        const rc = byId.get(c.fullDatabaseId);
        assert.equal(String(rc.pull_request_review_id), c.pullRequestReview.fullDatabaseId);
        assert.equal(rc.diff_hunk, c.diffHunk);
        assert.equal(rc.original_commit_id, c.originalCommit.oid);
        assert.equal(rc.position, c.position);
      }
      for (const c of rs) { assert.equal(c.replyTo.fullDatabaseId, root.fullDatabaseId); replies++; }
    }
    assert.ok(replies > 0);
  });

  test('unknown repository / PR -> NOT_FOUND with null data', async () => {
    const r = await api.gql('{ repository(owner:"acme", name:"nope") { id } }');
    assert.deepEqual(r.json.data, { repository: null });
    assert.equal(r.json.errors[0].type, 'NOT_FOUND');
    assert.equal(r.json.errors[0].message, "Could not resolve to a Repository with the name 'acme/nope'.");
    const p = await api.gql('{ repository(owner:"acme", name:"secret") { id } }');
    assert.equal(p.json.errors[0].type, 'NOT_FOUND');
    const n = await api.gql('{ repository(owner:"acme", name:"widgets") { pullRequest(number: 99999) { id } } }');
    assert.equal(n.json.errors[0].message, 'Could not resolve to a PullRequest with the number of 99999.');
  });

  test('schema-valid but unmodelled fields resolve without crashing', async () => {
    const r = await api.gql('{ repository(owner:"acme", name:"widgets") { pullRequest(number: 1) { title projectCards(first: 5) { totalCount } viewerSubscription lastEditedAt } } }');
    assert.equal(r.status, 200);
    assert.equal(typeof r.json.data.repository.pullRequest.title, 'string');
  });

  test('node(id) resolves REST node_ids', async () => {
    const rest = (await api.get('/repos/acme/widgets/pulls/2')).json;
    const r = await api.gql(`{ node(id: "${rest.node_id}") { __typename ... on PullRequest { number } } }`);
    assert.deepEqual(r.json.data.node, { __typename: 'PullRequest', number: 2 });
  });

  test('timeout knob: large predicted node count -> 502 after a delay', async () => {
    await api.ctl('POST', '/_fake/config', { graphqlTimeoutNodes: 1000, graphqlTimeoutMs: 200 });
    try {
      const big = await api.gql('{ repository(owner:"acme", name:"widgets") { pullRequests(first: 50) { nodes { files(first: 100) { nodes { path } } } } } }');
      assert.equal(big.status, 502);
      assert.match(big.json.errors[0].message, /^Something went wrong while executing your query/);
      const small = await api.gql('{ repository(owner:"acme", name:"widgets") { pullRequests(first: 5) { nodes { files(first: 10) { nodes { path } } } } } }');
      assert.equal(small.status, 200);
    } finally {
      await api.ctl('POST', '/_fake/config', { graphqlTimeoutNodes: 0 });
    }
  });
});
