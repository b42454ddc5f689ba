import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fake, client, jwt, sleep } from './helpers.mjs';

const closers = [];
after(() => Promise.all(closers.map((c) => c())));
const remaining = (r) => Number(r.headers.get('x-ratelimit-remaining'));

test('every response carries x-ratelimit-* headers; /rate_limit does not consume', async () => {
  const f = await fake({ budget: 100 }); closers.push(f.close);
  const r = await f.api.get('/repos/acme/widgets');
  assert.equal(r.headers.get('x-ratelimit-limit'), '100');
  assert.equal(r.headers.get('x-ratelimit-remaining'), '99');
  assert.equal(r.headers.get('x-ratelimit-used'), '1');
  assert.equal(r.headers.get('x-ratelimit-resource'), 'core');
  assert.match(r.headers.get('x-ratelimit-reset'), /^\d{10}$/);
  for (let i = 0; i < 3; i++) {
    const rl = await f.api.get('/rate_limit');
    assert.equal(rl.json.resources.core.remaining, 99);
    assert.equal(rl.json.resources.core.used, 1);
    assert.equal(rl.json.rate.limit, 100);
    assert.ok(rl.json.resources.graphql && rl.json.resources.search);
  }
  // 404s count, like on GitHub
  await f.api.get('/repos/acme/nope');
  assert.equal((await f.api.get('/rate_limit')).json.resources.core.used, 2);
});

test('exhaustion -> 403 with remaining 0, then the window resets', async () => {
  const f = await fake({ budget: 3, resetSeconds: 2 }); closers.push(f.close);
  for (let i = 0; i < 3; i++) assert.equal((await f.api.get('/repos/acme/widgets')).status, 200);
  const r = await f.api.get('/repos/acme/widgets');
  assert.equal(r.status, 403);
  assert.match(r.json.message, /^API rate limit exceeded for user ID \d+\./);
  assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
  const reset = Number(r.headers.get('x-ratelimit-reset'));
  assert.ok(reset * 1000 > Date.now() - 1000);
  // GraphQL has its own bucket
  const g = await f.api.gql('{ rateLimit { remaining } }');
  assert.equal(g.status, 200);
  await sleep(Math.max(0, reset * 1000 - Date.now()) + 300);
  const r2 = await f.api.get('/repos/acme/widgets');
  assert.equal(r2.status, 200);
  assert.equal(remaining(r2), 2);
});

test('exhaustion status can be 429', async () => {
  const f = await fake({ budget: 1, rateLimitStatus: 429 }); closers.push(f.close);
  await f.api.get('/repos/acme/widgets');
  const r = await f.api.get('/repos/acme/widgets');
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
});

test('GraphQL exhaustion -> HTTP 200 with RATE_LIMITED error', async () => {
  const f = await fake({ graphqlBudget: 2 }); closers.push(f.close);
  const q = '{ repository(owner:"acme",name:"widgets"){ pullRequests(first:1){ nodes { number } } } }';
  assert.equal((await f.api.gql(q)).status, 200);
  assert.equal((await f.api.gql(q)).json.data.repository.pullRequests.nodes.length, 1);
  const r = await f.api.gql(q);
  assert.equal(r.status, 200);
  assert.equal(r.json.errors[0].type, 'RATE_LIMITED');
  assert.match(r.json.errors[0].message, /^API rate limit exceeded/);
  assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
  assert.equal(r.headers.get('x-ratelimit-resource'), 'graphql');
});

test('PATs have separate budgets; installation tokens of one installation share one', async () => {
  const f = await fake({ budget: 10, tokens: ['ghp_a', 'ghp_b'] }); closers.push(f.close);
  const a = client(f.url, 'ghp_a'), b = client(f.url, 'ghp_b');
  await a.get('/repos/acme/widgets'); await a.get('/repos/acme/widgets');
  assert.equal(remaining(await b.get('/repos/acme/widgets')), 9);
  const app = client(f.url, jwt());
  const inst = (await app.get('/repos/acme/widgets/installation')).json;
  const t1 = (await app.post(`/app/installations/${inst.id}/access_tokens`, {})).json.token;
  const t2 = (await app.post(`/app/installations/${inst.id}/access_tokens`, {})).json.token;
  assert.notEqual(t1, t2);
  const i1 = client(f.url, t1), i2 = client(f.url, t2);
  assert.equal(remaining(await i1.get('/repos/acme/widgets')), 9);
  assert.equal(remaining(await i2.get('/repos/acme/widgets')), 8);
  const stats = (await f.api.ctl('GET', '/_fake/stats')).json;
  assert.equal(stats.remaining[`installation:${inst.id}`].core.remaining, 8);
  assert.equal(stats.remaining['token:ghp_a'].core.remaining, 8);
});

test('runtime config: budget and latency', async () => {
  const f = await fake(); closers.push(f.close);
  const c = await f.api.ctl('POST', '/_fake/config', { budget: 7, latency_ms: 150 });
  assert.equal(c.status, 200);
  const t = Date.now();
  const r = await f.api.get('/repos/acme/widgets');
  assert.ok(Date.now() - t >= 140);
  assert.equal(r.headers.get('x-ratelimit-limit'), '7');
  assert.equal((await f.api.ctl('POST', '/_fake/config', { bogus: 1 })).status, 400);
});

test('latency uses timers: 200 concurrent requests with 200 ms latency finish together', async () => {
  const f = await fake({ latencyMs: 200 }); closers.push(f.close);
  const t = Date.now();
  const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => f.api.get(`/repos/acme/widgets/pulls/${(i % 20) + 1}`)));
  assert.ok(rs.every((r) => r.status === 200 || r.status === 404));
  assert.ok(Date.now() - t < 3000, `took ${Date.now() - t} ms`);
});

test('secondary limit on concurrency (knob) -> 403 with retry-after', async () => {
  const f = await fake({ latencyMs: 100, secondaryConcurrency: 5, secondaryRetryAfter: 7 }); closers.push(f.close);
  const rs = await Promise.all(Array.from({ length: 20 }, () => f.api.get('/repos/acme/widgets')));
  const limited = rs.filter((r) => r.status === 403);
  assert.ok(limited.length > 0);
  assert.match(limited[0].json.message, /^You have exceeded a secondary rate limit/);
  assert.equal(limited[0].headers.get('retry-after'), '7');
});
