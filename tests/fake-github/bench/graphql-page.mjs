// Times a 50-PR GraphQL page with nested files/reviews/comments against a spawned fake (loopback only).
//   node bench/graphql-page.mjs [--dataset standard|bench] [--iterations 30]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 ? args[i + 1] : d; };
const dataset = opt('dataset', 'standard');
const iterations = Number(opt('iterations', 30));
const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'fake-github.mjs');
const t0 = Date.now();
const child = spawn(process.execPath, [bin, '--port', '0', '--dataset', dataset, '--graphql-budget', '100000000', '--now', '2026-11-29T00:00:00Z'], { stdio: ['ignore', 'pipe', 'pipe'] });
child.stderr.resume();
const base = await new Promise((res) => child.stdout.once('data', (d) => res(JSON.parse(String(d).split('\n')[0]).url)));
const startupMs = Date.now() - t0;
const [owner, name] = dataset === 'bench' ? ['bench', 'big'] : ['acme', 'widgets'];
const QUERIES = {
  moderate: `query($o:String!,$n:String!,$after:String){ rateLimit{cost remaining}
    repository(owner:$o,name:$n){ pullRequests(first:50, after:$after, orderBy:{field:UPDATED_AT,direction:DESC}){ pageInfo{hasNextPage endCursor}
      nodes{ id fullDatabaseId number title body state isDraft merged mergedAt closedAt createdAt updatedAt additions deletions changedFiles
        author{login __typename ... on User{databaseId}} mergedBy{login}
        files(first:100){totalCount nodes{path additions deletions changeType}}
        reviews(first:50){totalCount nodes{id fullDatabaseId state body submittedAt author{login} commit{oid}}}
        comments(first:50){totalCount nodes{id fullDatabaseId body createdAt updatedAt author{login}}} } } } }`,
  heavy: `query($o:String!,$n:String!,$after:String){ rateLimit{cost remaining}
    repository(owner:$o,name:$n){ pullRequests(first:50, after:$after){ pageInfo{hasNextPage endCursor}
      nodes{ id fullDatabaseId number title body state author{login}
        files(first:100){totalCount nodes{path additions deletions changeType}}
        reviews(first:50){totalCount nodes{fullDatabaseId state body submittedAt author{login} comments(first:20){totalCount nodes{fullDatabaseId body}}}}
        reviewThreads(first:50){totalCount nodes{id isResolved comments(first:20){totalCount nodes{fullDatabaseId body path position originalPosition diffHunk createdAt replyTo{fullDatabaseId} pullRequestReview{fullDatabaseId}}}}}
        comments(first:50){totalCount nodes{fullDatabaseId body createdAt author{login}}} } } } }`,
};
const out = { dataset, startup_ms: startupMs };
for (const [label, query] of Object.entries(QUERIES)) {
  const times = [];
  let bytes = 0, cost = 0;
  let after = null;
  for (let i = 0; i < iterations + 5; i++) {
    const t = performance.now();
    const r = await fetch(`${base}/graphql`, { method: 'POST', headers: { authorization: 'bearer ghp_testtoken0000000000000000000000000000', 'content-type': 'application/json' }, body: JSON.stringify({ query, variables: { o: owner, n: name, after } }) });
    const text = await r.text();
    const ms = performance.now() - t;
    const j = JSON.parse(text);
    if (j.errors) throw new Error(JSON.stringify(j.errors).slice(0, 300));
    const pi = j.data.repository.pullRequests.pageInfo;
    after = pi.hasNextPage ? pi.endCursor : null; // walk different pages
    if (i >= 5) { times.push(ms); bytes += text.length; cost = j.data.rateLimit.cost; }
  }
  times.sort((a, b) => a - b);
  out[label] = { median_ms: +times[Math.floor(times.length / 2)].toFixed(1), p90_ms: +times[Math.floor(times.length * 0.9)].toFixed(1), avg_kb: Math.round(bytes / times.length / 1024), cost };
}
console.log(JSON.stringify(out, null, 1));
child.kill('SIGTERM');
