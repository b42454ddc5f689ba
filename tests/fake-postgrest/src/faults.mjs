// Fault injection for sink tests: POST /_fake/faults with one rule or an array of rules.
//   {kind: "status",   status: 500|503|429|408|413|..., count?, retry_after?, match?, method?, body?, headers?, skip?}
//   {kind: "reset",    count?, match?, method?, skip?}                 -- destroy the socket, no response
//   {kind: "slow",     ms, count?, match?, method?, skip?}             -- delay, then handle normally
//   {kind: "non-json", status?: 502, count?, match?, method?, skip?}   -- an HTML error page (proxy/CDN style)
// count: how many matching requests the rule fires for (default 1; -1 = unlimited).
// skip: let this many matching requests pass first (default 0).
// match: a regular expression tested against "METHOD /path?query" (e.g. "^POST /rest/v1/rpc/").
// method: exact HTTP method. Rules are checked in order; the first one that fires wins.
import { STATUS_CODES } from 'node:http';

export const FAULT_KINDS = ['status', 'reset', 'slow', 'non-json'];

export const HTML_ERROR_PAGE = (status) => `<html>
<head><title>${status} ${STATUS_CODES[status] || 'Error'}</title></head>
<body>
<center><h1>${status} ${STATUS_CODES[status] || 'Error'}</h1></center>
<hr><center>fake-postgrest (injected)</center>
</body>
</html>
`;

/** Default JSON body for an injected status, shaped like the component that would send it. */
export function defaultFaultBody(status) {
  switch (status) {
    case 500: return { code: 'XX000', details: null, hint: null, message: 'fake-postgrest: injected internal error' };
    case 503: return { code: 'PGRST001', details: null, hint: null, message: 'Database client error. Retrying the connection.' };
    case 504: return { code: 'PGRST003', details: null, hint: null, message: 'Timed out acquiring connection from connection pool.' };
    case 429: return { message: 'API rate limit exceeded' };
    case 408: return { message: 'Request Timeout' };
    case 413: return { message: 'Request size limit exceeded' };
    case 502: return { message: 'An invalid response was received from the upstream server' };
    default: return { message: STATUS_CODES[status] || 'Error' };
  }
}

export class Faults {
  constructor() {
    this.rules = [];
    this.fired = {};
    this.seq = 0;
  }

  static normalise(input) {
    const list = Array.isArray(input) ? input : [input];
    return list.map((r, i) => {
      if (!r || typeof r !== 'object') throw new Error(`rule ${i}: not an object`);
      if (!FAULT_KINDS.includes(r.kind)) throw new Error(`rule ${i}: unknown kind ${JSON.stringify(r.kind)} (known: ${FAULT_KINDS.join(', ')})`);
      let match = null;
      if (r.match !== undefined && r.match !== null) {
        try { match = new RegExp(r.match); } catch (e) { throw new Error(`rule ${i}: bad match regex: ${e.message}`); }
      }
      const count = r.count === undefined ? 1 : Number(r.count);
      if (!Number.isInteger(count) || count === 0 || count < -1) throw new Error(`rule ${i}: count must be a positive integer or -1`);
      const rule = { kind: r.kind, count, skip: Number(r.skip || 0), match, matchSrc: r.match ?? null,
        method: r.method ? String(r.method).toUpperCase() : null };
      if (r.kind === 'status') {
        const st = Number(r.status);
        if (!Number.isInteger(st) || st < 400 || st > 599) throw new Error(`rule ${i}: status must be 400..599`);
        rule.status = st;
        if (r.retry_after !== undefined) rule.retryAfter = String(r.retry_after);
        if (r.body !== undefined) rule.body = r.body;
        if (r.headers && typeof r.headers === 'object') rule.headers = r.headers;
      } else if (r.kind === 'non-json') {
        rule.status = r.status === undefined ? 502 : Number(r.status);
        if (!Number.isInteger(rule.status) || rule.status < 200 || rule.status > 599) throw new Error(`rule ${i}: bad status`);
      } else if (r.kind === 'slow') {
        rule.ms = Number(r.ms);
        if (!Number.isFinite(rule.ms) || rule.ms < 0) throw new Error(`rule ${i}: slow needs ms >= 0`);
      }
      return rule;
    });
  }

  add(input) {
    const rules = Faults.normalise(input);
    for (const r of rules) { r.id = ++this.seq; this.rules.push(r); }
    return rules.map((r) => r.id);
  }

  clear() { this.rules = []; }

  list() {
    return this.rules.map((r) => ({ id: r.id, kind: r.kind, status: r.status, ms: r.ms, count: r.count, skip: r.skip,
      match: r.matchSrc, method: r.method, retry_after: r.retryAfter }));
  }

  /** The rule that fires for this request, if any (consumes one count). */
  take(method, target) {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (r.method && r.method !== method) continue;
      if (r.match && !r.match.test(`${method} ${target}`)) continue;
      if (r.skip > 0) { r.skip--; continue; }
      if (r.count > 0) {
        r.count--;
        if (r.count === 0) { this.rules.splice(i, 1); i--; }
      }
      this.fired[r.kind] = (this.fired[r.kind] || 0) + 1;
      return r;
    }
    return null;
  }
}
