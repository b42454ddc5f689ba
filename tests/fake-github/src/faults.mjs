// Fault injection rules (POST /_fake/faults or --faults JSON).
// A rule: {kind, count?, probability?, match?, ...params}. Without probability a rule fires `count`
// times (default 1); with probability it fires on that fraction of matching requests (seeded PRNG)
// until it has fired `count` times (default: unlimited). Fired-out rules disappear.
import { Rng, hashSeed } from './util.mjs';

/** kinds applied before the handler runs (replace the response) */
export const PRE_KINDS = new Set(['5xx', 'secondary', 'ratelimit429', 'reset', 'slow', 'graphql-timeout', 'html']);
/** kinds applied to an otherwise-normal 200 JSON response */
export const POST_KINDS = new Set(['truncate', 'bad-json', 'missing-field', 'wrong-type']);
export const FAULT_KINDS = [...PRE_KINDS, ...POST_KINDS];

export const SECONDARY_MESSAGE = 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID';

export const UNICORN_HTML = `<!DOCTYPE html>
<!--

Hello future GitHubber! I bet you're here to remove those nasty inline styles,
DRY up these templates and make 'em nice and re-usable, right?

Please, don't. https://github.com/styleguide/templates/2.0

-->
<html>
  <head>
    <meta http-equiv="Content-type" content="text/html; charset=utf-8">
    <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'">
    <title>Unicorn! &middot; GitHub</title>
  </head>
  <body>
    <div class="container">
      <p><strong>No server is currently available to service your request.</strong></p>
      <p>Sorry about that. Please try refreshing and contact us if the problem persists.</p>
      <div id="suggestions">
        <a href="https://support.github.com/contact">Contact Support</a> &mdash;
        <a href="https://githubstatus.com">GitHub Status</a> &mdash;
        <a href="https://twitter.com/githubstatus">@githubstatus</a>
      </div>
    </div>
  </body>
</html>
`;

export class Faults {
  constructor(seed) {
    this.rules = [];
    this.rng = new Rng(hashSeed(seed, 'faults'));
    this.seq = 0;
  }

  /** Validate + normalise rules; throws Error with a message on bad input. */
  static normalise(list) {
    if (!Array.isArray(list)) list = [list];
    return list.map((r, i) => {
      if (!r || typeof r !== 'object') throw new Error(`rule ${i}: not an object`);
      if (!FAULT_KINDS.includes(r.kind)) throw new Error(`rule ${i}: unknown kind ${JSON.stringify(r.kind)} (known: ${FAULT_KINDS.join(', ')})`);
      let match = null;
      if (r.match !== undefined && r.match !== null) {
        try { match = new RegExp(r.match); } catch (e) { throw new Error(`rule ${i}: bad match regex: ${e.message}`); }
      }
      const p = r.probability;
      if (p !== undefined && !(typeof p === 'number' && p >= 0 && p <= 1)) throw new Error(`rule ${i}: probability must be within 0..1`);
      const count = r.count !== undefined ? Number(r.count) : p !== undefined ? Infinity : 1;
      if (!(count > 0)) throw new Error(`rule ${i}: count must be > 0`);
      return { ...r, matchRe: match, count, fired: 0 };
    });
  }

  add(list) {
    const rules = Faults.normalise(list);
    for (const r of rules) { r.id = ++this.seq; this.rules.push(r); }
    return rules.map((r) => r.id);
  }

  clear() { this.rules = []; }

  /** Find and consume the first rule of the given phase that matches "METHOD /path?query". */
  take(target, phase) {
    const kinds = phase === 'pre' ? PRE_KINDS : POST_KINDS;
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (!kinds.has(r.kind)) continue;
      if (r.matchRe && !r.matchRe.test(target)) continue;
      if (r.probability !== undefined && !(this.rng.next() < r.probability)) continue;
      r.fired++;
      if (r.fired >= r.count) this.rules.splice(i, 1);
      return r;
    }
    return null;
  }

  list() {
    return this.rules.map(({ matchRe, ...r }) => ({ ...r, count: Number.isFinite(r.count) ? r.count : null, remaining: Number.isFinite(r.count) ? r.count - r.fired : null }));
  }
}

/** Apply a POST-kind JSON transformation (missing-field / wrong-type) to the first object carrying the field. */
export function mutateJson(value, rule) {
  const field = rule.field || (rule.kind === 'missing-field' ? 'number' : 'id');
  const seen = new Set();
  const visit = (v) => {
    if (!v || typeof v !== 'object' || seen.has(v)) return false;
    seen.add(v);
    if (!Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, field)) {
      if (rule.kind === 'missing-field') delete v[field];
      else v[field] = rule.value !== undefined ? rule.value : 'abc';
      return true;
    }
    for (const k of Array.isArray(v) ? v.keys() : Object.keys(v)) if (visit(v[k])) return true;
    return false;
  };
  visit(value);
  return value;
}
