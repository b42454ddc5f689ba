// Credentials: personal access tokens, GitHub App JWTs (RS256) and installation tokens.
import { createPublicKey, createVerify, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { iso } from './util.mjs';

export const DEFAULT_TOKEN = 'ghp_testtoken0000000000000000000000000000';
const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const INSTALLATION_PERMISSIONS = { actions: 'write', contents: 'read', issues: 'read', metadata: 'read', pull_requests: 'read' };

export const JWT_ERR = {
  decode: 'A JSON web token could not be decoded',
  expTooFar: "'Expiration time' claim ('exp') is too far in the future",
  expired: "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
  iat: "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
  iss: "'Issuer' claim ('iss') must be an Integer",
  notFound: 'Integration not found',
};

function b64urlJson(s) {
  const txt = Buffer.from(s, 'base64url').toString('utf8');
  return JSON.parse(txt);
}

export class Auth {
  /**
   * @param {object} cfg {tokens:[], privilegedTokens:[], appId, publicKeyPath, installationTokenTtl, seed}
   * @param {import('./dataset.mjs').Dataset} ds
   */
  constructor(cfg, ds) {
    this.cfg = cfg;
    this.ds = ds;
    this.pats = new Map(); // token -> {privileged}
    for (const t of cfg.tokens || [DEFAULT_TOKEN]) this.pats.set(t, { privileged: false });
    for (const t of cfg.privilegedTokens || []) this.pats.set(t, { privileged: true });
    this.appId = Number(cfg.appId ?? 12345);
    this.publicKey = createPublicKey(readFileSync(cfg.publicKeyPath));
    this.installTokens = new Map(); // token -> {installation, expiresAt}
    this.mintCount = 0;
    this.patUserIds = new Map(); // stable pseudo "user id" per PAT, for messages
  }

  /** Parse the Authorization header into a raw token, or null. */
  static rawToken(req) {
    const h = req.headers.authorization;
    if (!h) return null;
    const m = /^\s*(token|bearer)\s+(\S+)\s*$/i.exec(h);
    if (m) return m[2];
    const b = /^\s*basic\s+(\S+)\s*$/i.exec(h); // basic user:token also works on GitHub
    if (b) {
      const dec = Buffer.from(b[1], 'base64').toString('utf8');
      const i = dec.indexOf(':');
      return i >= 0 ? dec.slice(i + 1) : dec;
    }
    return '';
  }

  static looksLikeJwt(t) { return typeof t === 'string' && /^eyJ[\w-]*\.[\w-]*\.[\w-]*$/.test(t); }

  /**
   * Resolve a request's credential for normal API endpoints.
   * @returns {{cred?:object, error?:{status:number, message:string}}}
   */
  authenticate(req) {
    const t = Auth.rawToken(req);
    if (t === null) return { error: { status: 401, message: 'Requires authentication' }, missing: true };
    const pat = this.pats.get(t);
    if (pat) {
      if (!this.patUserIds.has(t)) this.patUserIds.set(t, this.ds.viewer.id + this.patUserIds.size);
      return {
        cred: {
          kind: 'pat', key: `token:${t}`, label: `user ID ${this.patUserIds.get(t)}`, token: t,
          privileged: pat.privileged, canSee: (repo) => !repo.private || pat.privileged,
        },
      };
    }
    const it = this.installTokens.get(t);
    if (it) {
      if (Date.now() >= it.expiresAt) return { error: { status: 401, message: 'Bad credentials' }, expired: true };
      const inst = it.installation;
      return {
        cred: {
          kind: 'installation', key: `installation:${inst.id}`, label: `installation ID ${inst.id}`, token: t,
          installationId: inst.id, canSee: (repo) => inst.repoIds.has(repo.id) || !repo.private,
        },
      };
    }
    return { error: { status: 401, message: 'Bad credentials' } };
  }

  /**
   * Verify an App JWT. Returns {ok:true, appId} or {ok:false, message}.
   * Rules: RS256, signature by the configured public key, iss == app id (string or number),
   * iat/exp numeric, exp in the future, exp - iat <= 600 s and exp <= now + 600 s (60 s skew allowed).
   */
  verifyJwt(token) {
    const now = Math.floor(Date.now() / 1000);
    const skew = 60;
    if (!Auth.looksLikeJwt(token)) return { ok: false, message: JWT_ERR.decode };
    const [h, p, s] = token.split('.');
    let header, payload;
    try { header = b64urlJson(h); payload = b64urlJson(p); } catch { return { ok: false, message: JWT_ERR.decode }; }
    if (!header || header.alg !== 'RS256' || typeof payload !== 'object' || payload === null) return { ok: false, message: JWT_ERR.decode };
    let valid = false;
    try {
      const v = createVerify('RSA-SHA256');
      v.update(`${h}.${p}`);
      valid = v.verify(this.publicKey, Buffer.from(s, 'base64url'));
    } catch { valid = false; }
    if (!valid) return { ok: false, message: JWT_ERR.decode };
    const { iat, exp } = payload;
    if (typeof iat !== 'number' || !Number.isFinite(iat) || iat > now + skew) return { ok: false, message: JWT_ERR.iat };
    if (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= now - skew) return { ok: false, message: JWT_ERR.expired };
    if (exp - iat > 600 + skew || exp > now + 600 + skew) return { ok: false, message: JWT_ERR.expTooFar };
    const iss = payload.iss;
    if (iss === undefined || iss === null || !/^\d+$/.test(String(iss))) return { ok: false, message: JWT_ERR.iss };
    if (Number(iss) !== this.appId) return { ok: false, message: JWT_ERR.notFound };
    return { ok: true, appId: this.appId };
  }

  /** Mint an installation access token (deterministic sequence per seed). */
  mint(inst) {
    this.mintCount++;
    const h = createHash('sha256').update(`${this.cfg.seed}:inst:${inst.id}:${this.mintCount}`).digest();
    let tok = 'ghs_';
    for (let i = 0; i < 36; i++) tok += B62[(h[i % h.length] + i * 7) % 62];
    const ttl = Number(this.cfg.installationTokenTtl ?? 3600);
    const expiresAt = Date.now() + ttl * 1000;
    this.installTokens.set(tok, { installation: inst, expiresAt });
    return {
      token: tok, expires_at: iso(expiresAt), permissions: { ...INSTALLATION_PERMISSIONS },
      repository_selection: 'all',
    };
  }

  appObject(shapes) {
    const owner = this.ds.owners.get('acme');
    return {
      id: this.appId, client_id: `Iv1.${String(this.appId).padStart(16, '0')}`, slug: 'progcap-test-app',
      node_id: `A_kwHO${Buffer.from(String(this.appId)).toString('base64url')}`, owner: shapes.user(owner),
      name: 'progcap test app', description: 'GitHub App used by progcap integration tests (fake)',
      external_url: 'https://progcap.example.org', html_url: 'https://github.com/apps/progcap-test-app',
      created_at: '2024-01-01T00:00:00Z', updated_at: '2024-01-01T00:00:00Z',
      permissions: { ...INSTALLATION_PERMISSIONS }, events: ['pull_request', 'pull_request_review', 'issue_comment'],
      installations_count: this.ds.installations.length,
    };
  }

  installationObject(inst, shapes) {
    const acc = inst.account;
    return {
      id: inst.id, client_id: `Iv1.${String(this.appId).padStart(16, '0')}`, account: shapes.user(acc), repository_selection: 'all',
      access_tokens_url: `${shapes.B}/app/installations/${inst.id}/access_tokens`,
      repositories_url: `${shapes.B}/installation/repositories`,
      html_url: `https://github.com/organizations/${acc.login}/settings/installations/${inst.id}`,
      app_id: this.appId, app_slug: 'progcap-test-app', target_id: acc.id, target_type: acc.type,
      permissions: { ...INSTALLATION_PERMISSIONS }, events: ['pull_request', 'pull_request_review', 'issue_comment'],
      created_at: iso(inst.created_at), updated_at: iso(inst.created_at), single_file_name: null,
      has_multiple_single_files: false, single_file_paths: [], suspended_by: null, suspended_at: null,
    };
  }
}
