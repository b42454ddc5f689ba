// Shared test helpers: in-process fake, HTTP helpers, JWT signing with the committed test key.
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { startFake } from '../src/server.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TOKEN = 'ghp_testtoken0000000000000000000000000000';
export const NOW = '2026-11-29T00:00:00Z';
export const PRIVATE_KEY = readFileSync(join(ROOT, 'keys', 'test-app.pem'), 'utf8');
export const WRONG_KEY = readFileSync(join(ROOT, 'keys', 'wrong-app.pem'), 'utf8');
export const WORKFLOWS = join(ROOT, 'workflows');

export async function fake(opts = {}) {
  const f = await startFake({ now: NOW, dataset: 'small', ...opts });
  const api = client(f.url, TOKEN);
  return { ...f, api };
}

/** Minimal API client over fetch; returns {status, headers, json, text}. */
export function client(base, token) {
  const call = async (method, path, { body, headers = {}, tok = token, raw = false } = {}) => {
    const h = { accept: 'application/vnd.github+json', ...headers };
    if (tok) h.authorization = `token ${tok}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const r = await fetch(path.startsWith('http') ? path : base + path, { method, headers: h, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
    const text = await r.text();
    let json;
    if (!raw) { try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; } }
    return { status: r.status, headers: r.headers, json, text };
  };
  return {
    get: (p, o) => call('GET', p, o),
    post: (p, body, o = {}) => call('POST', p, { ...o, body }),
    del: (p, o) => call('DELETE', p, o),
    gql: (query, variables, o = {}) => call('POST', '/graphql', { ...o, body: { query, variables } }),
    ctl: (method, p, body) => call(method, p, { body, tok: null }),
  };
}

/** Parse a Link header into {rel: url}. */
export function links(h) {
  const out = {};
  if (!h) return out;
  for (const part of h.split(', ')) {
    const m = /^<([^>]+)>; rel="([a-z]+)"$/.exec(part);
    if (!m) throw new Error(`bad Link part: ${part}`);
    out[m[2]] = m[1];
  }
  return out;
}

const b64u = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
/** Sign an RS256 app JWT (defaults: iat = now-60, exp = now+540, iss = 12345). */
export function jwt({ iss = 12345, iat, exp, key = PRIVATE_KEY, alg = 'RS256' } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64u({ alg, typ: 'JWT' });
  const payload = b64u({ iat: iat ?? now - 60, exp: exp ?? now + 540, iss });
  const s = createSign('RSA-SHA256');
  s.update(`${header}.${payload}`);
  return `${header}.${payload}.${s.sign(key).toString('base64url')}`;
}

export async function collectAll(api, path) {
  const items = [];
  let url = path;
  let pages = 0;
  while (url) {
    const r = await api.get(url);
    if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.text.slice(0, 200)}`);
    items.push(...r.json);
    pages++;
    url = links(r.headers.get('link')).next || null;
  }
  return { items, pages };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
