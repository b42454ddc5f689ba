// HS256 JSON Web Tokens with node:crypto only (what Supabase's anon/service_role keys are).
import { createHmac, timingSafeEqual } from 'node:crypto';

const b64u = (buf) => Buffer.from(buf).toString('base64url');

/** Sign claims with HS256. */
export function signJwt(claims, secret) {
  const header = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64u(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  return `${header}.${payload}.${b64u(sig)}`;
}

/** Supabase-style API key: a long-lived HS256 JWT carrying a role. */
export function makeKey(role, secret, { iat = 1700000000, exp = 4102444800 } = {}) {
  return signJwt({ iss: 'supabase-demo', role, iat, exp }, secret);
}

/**
 * Verify a compact JWS like PostgREST 13 does (HS256 with the configured secret).
 * Returns {claims} or {error: {code, message, details}} with PostgREST's PGRST301/PGRST303 texts.
 * clockSkewSeconds mirrors PostgREST's 30 s allowance for exp/nbf/iat.
 */
export function verifyJwt(token, secret, { nowSeconds = Math.floor(Date.now() / 1000), clockSkewSeconds = 30 } = {}) {
  if (token === '') return { error: { code: 'PGRST301', message: 'Empty JWT is sent in Authorization header' } };
  const parts = token.split('.');
  if (parts.length !== 3) return { error: { code: 'PGRST301', message: `Expected 3 parts in JWT; got ${parts.length}` } };
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { error: { code: 'PGRST301', message: "JWT couldn't be decoded" } };
  }
  if (!header || typeof header !== 'object' || header.alg !== 'HS256') {
    return { error: { code: 'PGRST301', message: 'Wrong or unsupported encoding algorithm', details: `alg=${header && header.alg}` } };
  }
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  let given;
  try { given = Buffer.from(parts[2], 'base64url'); } catch { given = Buffer.alloc(0); }
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { error: { code: 'PGRST301', message: 'JWT cryptographic operation failed' } };
  }
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) {
    return { error: { code: 'PGRST303', message: 'Parsing claims failed' } };
  }
  for (const k of ['exp', 'nbf', 'iat']) {
    if (claims[k] !== undefined && typeof claims[k] !== 'number') {
      return { error: { code: 'PGRST303', message: `The JWT '${k}' claim must be a number` } };
    }
  }
  if (claims.exp !== undefined && nowSeconds - clockSkewSeconds >= claims.exp) return { error: { code: 'PGRST303', message: 'JWT expired' } };
  if (claims.nbf !== undefined && nowSeconds + clockSkewSeconds < claims.nbf) return { error: { code: 'PGRST303', message: 'JWT not yet valid' } };
  if (claims.iat !== undefined && nowSeconds + clockSkewSeconds < claims.iat) return { error: { code: 'PGRST303', message: 'JWT issued at future' } };
  return { claims };
}
