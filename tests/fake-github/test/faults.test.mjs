import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fake, TOKEN } from './helpers.mjs';

let f, api;
before(async () => { f = await fake({ graphqlTimeoutMs: 300 }); api = f.api; });
after(() => f.close());
beforeEach(() => api.ctl('DELETE', '/_fake/faults'));

const addFaults = async (rules) => {
  const r = await api.ctl('POST', '/_fake/faults', rules);
  assert.equal(r.status, 200, r.text);
};
const PR = '/repos/acme/widgets/pulls/1';

/** raw request that tolerates resets/truncation */
function rawGet(path) {
  const u = new URL(f.url + path);
  return new Promise((resolve) => {
    const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers: { authorization: `token ${TOKEN}` } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete }));
      res.on('error', (e) => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), error: e.code || e.message, complete: false }));
      res.on('aborted', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), error: 'aborted', complete: false }));
    });
    req.on('error', (e) => resolve({ error: e.code || e.message }));
  });
}

test('5xx fires count times then disappears; no quota used', async () => {
  await addFaults([{ kind: '5xx', status: 503, count: 2, match: '^GET /repos/acme/widgets/pulls/1$' }]);
  const a = await api.get(PR), b = await api.get(PR), c = await api.get(PR);
  assert.deepEqual([a.status, b.status, c.status], [503, 503, 200]);
  assert.equal(a.json.message, 'Service Unavailable');
  assert.equal((await api.ctl('GET', '/_fake/faults')).json.rules.length, 0);
  const s = (await api.ctl('GET', '/_fake/stats')).json;
  assert.equal(s.faults_injected['5xx'], 2);
});

test('match restricts a rule to some requests', async () => {
  await addFaults({ kind: '5xx', status: 500, match: '/pulls/2$' });
  assert.equal((await api.get(PR)).status, 200);
  assert.equal((await api.get('/repos/acme/widgets/pulls/2')).status, 500);
});

test('secondary -> 403 with retry-after', async () => {
  await addFaults({ kind: 'secondary', retryAfter: 3 });
  const r = await api.get(PR);
  assert.equal(r.status, 403);
  assert.equal(r.headers.get('retry-after'), '3');
  assert.match(r.json.message, /secondary rate limit/);
});

test('ratelimit429 -> 429 with remaining 0', async () => {
  await addFaults({ kind: 'ratelimit429', resetIn: 2 });
  const r = await api.get(PR);
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
  assert.ok(Number(r.headers.get('x-ratelimit-reset')) >= Math.floor(Date.now() / 1000));
});

test('reset destroys the socket', async () => {
  await addFaults({ kind: 'reset' });
  const r = await rawGet(PR);
  assert.ok(r.error, 'expected a socket error');
  assert.equal((await rawGet(PR)).status, 200);
});

test('truncate sends the full content-length but only part of the body', async () => {
  await addFaults({ kind: 'truncate' });
  const r = await rawGet(PR);
  assert.equal(r.status, 200);
  assert.ok(Number(r.headers['content-length']) > r.body.length);
  assert.equal(r.complete, false);
});

test('slow delays then answers normally', async () => {
  await addFaults({ kind: 'slow', ms: 400 });
  const t = Date.now();
  const r = await api.get(PR);
  assert.equal(r.status, 200);
  assert.ok(Date.now() - t >= 380);
});

test('graphql-timeout -> 502 after a delay with GitHub body', async () => {
  await addFaults({ kind: 'graphql-timeout', delayMs: 200, match: '^POST /graphql' });
  const t = Date.now();
  const r = await api.gql('{ rateLimit { cost } }');
  assert.equal(r.status, 502);
  assert.ok(Date.now() - t >= 190);
  assert.match(r.json.errors[0].message, /^Something went wrong while executing your query/);
});

test('html error page', async () => {
  await addFaults({ kind: 'html', status: 503 });
  const r = await api.get(PR);
  assert.equal(r.status, 503);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.match(r.text, /Unicorn!/);
  await addFaults({ kind: 'html', status: 200 });
  const r2 = await api.get(PR);
  assert.equal(r2.status, 200);
  assert.equal(r2.json, undefined);
});

test('bad-json is syntactically invalid', async () => {
  await addFaults({ kind: 'bad-json' });
  const r = await api.get(PR);
  assert.equal(r.status, 200);
  assert.throws(() => JSON.parse(r.text));
});

test('missing-field / wrong-type corrupt the PR object', async () => {
  await addFaults([{ kind: 'missing-field' }, { kind: 'wrong-type' }]);
  const a = await api.get(PR);
  assert.ok(!('number' in a.json));
  const b = await api.get('/repos/acme/widgets/pulls?state=all');
  assert.equal(b.json[0].id, 'abc');
  assert.equal(typeof b.json[1].id, 'number');
  // the cached good response is not polluted
  assert.equal((await api.get(PR)).json.number, 1);
});

test('probability uses the seeded PRNG', async () => {
  await addFaults({ kind: '5xx', probability: 0.5, count: 1000, match: 'pulls/4$' });
  let bad = 0;
  for (let i = 0; i < 40; i++) if ((await api.get('/repos/acme/widgets/pulls/4')).status === 502) bad++;
  assert.ok(bad > 5 && bad < 35, `bad=${bad}`);
});

test('bad rules are rejected', async () => {
  const r = await api.ctl('POST', '/_fake/faults', { kind: 'meteor' });
  assert.equal(r.status, 400);
  assert.match(r.json.message, /unknown kind/);
});

test('--faults at startup', async () => {
  const g = await fake({ faults: [{ kind: '5xx', status: 502 }] });
  try {
    assert.equal((await g.api.get(PR)).status, 502);
    assert.equal((await g.api.get(PR)).status, 200);
  } finally { await g.close(); }
});
