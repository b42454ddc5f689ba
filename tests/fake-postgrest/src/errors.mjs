// PostgREST error bodies and the SQLSTATE → HTTP status mapping of PostgREST 12.2/13
// (src/PostgREST/Error.hs mapSQLtoHTTP; docs/references/errors.rst).

/** An error that already knows its HTTP shape. body is a plain object serialised as-is. */
export class HttpError extends Error {
  constructor(status, body, headers = {}) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** PostgREST's JSON error object, keys in PostgREST's (aeson) order. */
export function pgrstBody(code, message, details = null, hint = null) {
  return { code, details, hint, message };
}

/** A PGRSTxxx (or SQLSTATE-coded) error produced by the server itself. */
export function pgrst(status, code, message, details = null, hint = null, headers = {}) {
  return new HttpError(status, pgrstBody(code, message, details, hint), headers);
}

/**
 * HTTP status for a PostgreSQL SQLSTATE, exactly as PostgREST maps it.
 * authed: the request's role differs from the anonymous role (42501 → 403 instead of 401).
 * opts.legacy21000: PostgREST < 12.0.3 answered every 21000 with 400 (fixed by PostgREST#3206).
 */
export function statusForSqlState(code, message = '', authed = false, opts = {}) {
  const c = String(code || '');
  const p2 = c.slice(0, 2);
  if (p2 === '08') return 503;
  if (p2 === '09') return 500;
  if (p2 === '0L' || p2 === '0P') return 403;
  if (c === '23503' || c === '23505') return 409;
  if (c === '25006') return 405;
  if (c === '21000') {
    if (opts.legacy21000) return 400;
    return /requires a WHERE clause$/.test(message) ? 400 : 500;
  }
  if (c === '22023') return /^role .* does not exist$/.test(message) ? 401 : 400;
  if (p2 === '25') return 500;
  if (p2 === '28') return 403;
  if (p2 === '2D' || p2 === '38' || p2 === '39' || p2 === '3B' || p2 === '40') return 500;
  if (c === '53400') return 500;
  if (p2 === '53') return 503;
  if (p2 === '54' || p2 === '55') return 500;
  if (c === '57P01') return 503;
  if (p2 === '57' || p2 === '58' || p2 === 'F0' || p2 === 'HV') return 500;
  if (c === 'P0001') return 400;
  if (p2 === 'P0' || p2 === 'XX') return 500;
  if (c === '42883') return /^function xmlagg\(/.test(message) ? 406 : 404;
  if (c === '42P01') return 404;
  if (c === '42P17') return 500;
  if (c === '42501') return authed ? 403 : 401;
  if (p2 === 'PT') {
    const n = Number(c.slice(2));
    return Number.isInteger(n) && n >= 100 && n <= 599 ? n : 500;
  }
  return 400;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN']);

/** Convert anything thrown while talking to PostgreSQL into an HttpError. */
export function fromDbError(err, authed, opts = {}) {
  if (err instanceof HttpError) return err;
  if (err && err.__acquireTimeout) {
    return pgrst(504, 'PGRST003', 'Timed out acquiring connection from connection pool.');
  }
  const code = err && typeof err.code === 'string' ? err.code : '';
  if (/^[0-9A-Z]{5}$/.test(code)) {
    const status = statusForSqlState(code, err.message, authed, opts);
    const headers = status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {};
    return new HttpError(status, pgrstBody(code, err.message, err.detail ?? null, err.hint ?? null), headers);
  }
  if (CONNECTION_CODES.has(code) || /Connection terminated|connect|socket/i.test(String(err && err.message))) {
    return pgrst(503, 'PGRST000', 'Database connection error. Retrying the connection.', String(err && err.message));
  }
  return pgrst(500, 'PGRSTX00', String((err && err.message) || err));
}
