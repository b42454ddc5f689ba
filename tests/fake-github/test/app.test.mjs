import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fake, client, jwt, WRONG_KEY, sleep } from './helpers.mjs';

let f;
before(async () => { f = await fake({ installationTokenTtl: 2 }); });
after(() => f.close());

test('happy path: JWT -> /app -> repo installation -> token -> API; token expires', async () => {
  const app = client(f.url, jwt());
  const me = await app.get('/app');
  assert.equal(me.status, 200);
  assert.equal(me.json.id, 12345);
  const inst = await app.get('/repos/acme/widgets/installation');
  assert.equal(inst.status, 200);
  assert.equal(inst.json.account.login, 'acme');
  assert.ok(inst.json.id > 0);
  // "Bearer" works as well as "token"
  const tokRes = await fetch(`${f.url}/app/installations/${inst.json.id}/access_tokens`, { method: 'POST', headers: { authorization: `Bearer ${jwt()}`, accept: 'application/vnd.github+json' } });
  assert.equal(tokRes.status, 201);
  const tok = await tokRes.json();
  assert.match(tok.token, /^ghs_[A-Za-z0-9]{36}$/);
  assert.match(tok.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(tok.repository_selection, 'all');
  assert.ok(tok.permissions.pull_requests);
  const it = client(f.url, tok.token);
  assert.equal((await it.get('/repos/acme/widgets/pulls/1')).status, 200);
  // installation tokens see the org's private repo
  assert.equal((await it.get('/repos/acme/secret')).status, 200);
  // GraphQL works with it
  const g = await it.gql('{ repository(owner:"acme", name:"secret") { isPrivate } }');
  assert.equal(g.json.data.repository.isPrivate, true);
  await sleep(2300);
  const exp = await it.get('/repos/acme/widgets/pulls/1');
  assert.equal(exp.status, 401);
  assert.equal(exp.json.message, 'Bad credentials');
});

test('JWT errors', async () => {
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    ['not-a-jwt', 'A JSON web token could not be decoded'],
    [jwt({ key: WRONG_KEY }), 'A JSON web token could not be decoded'],
    [jwt({ iat: now - 30, exp: now + 3600 }), "'Expiration time' claim ('exp') is too far in the future"],
    [jwt({ iat: now - 700, exp: now - 100 }), "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"],
    [jwt({ iss: 99999 }), 'Integration not found'],
  ];
  for (const [tok, msg] of cases) {
    const r = await client(f.url, tok).get('/app');
    assert.equal(r.status, 401, msg);
    assert.equal(r.json.message, msg);
  }
  // iss as a string is fine; GitHub's documented iat-60/exp+600 pattern is fine
  assert.equal((await client(f.url, jwt({ iss: '12345', iat: now - 60, exp: now + 600 })).get('/app')).status, 200);
  // a PAT on an app endpoint is not a JWT
  assert.equal((await f.api.get('/app')).status, 401);
  // a JWT on a normal endpoint is not a token
  assert.equal((await client(f.url, jwt()).get('/repos/acme/widgets')).status, 401);
});

test('repo without installation -> 404; unknown installation -> 404', async () => {
  const app = client(f.url, jwt());
  const r = await app.get('/repos/solo-dev/dotfiles/installation');
  assert.equal(r.status, 404);
  assert.equal(r.json.message, 'Not Found');
  assert.equal((await app.post('/app/installations/1/access_tokens', {})).status, 404);
  assert.equal((await app.get('/orgs/acme/installation')).status, 200);
});

test('installation tokens cannot see repos outside their installation', async () => {
  const app = client(f.url, jwt());
  const inst = (await app.get('/orgs/acme/installation')).json;
  const tok = (await app.post(`/app/installations/${inst.id}/access_tokens`, {})).json.token;
  const it = client(f.url, tok);
  const repos = (await it.get('/installation/repositories')).json;
  assert.ok(repos.repositories.some((r) => r.full_name === 'acme/secret'));
  assert.ok(!repos.repositories.some((r) => r.full_name === 'solo-dev/dotfiles'));
  assert.equal((await it.get('/user')).status, 403);
});
