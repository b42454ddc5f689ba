// Primary rate limits: one bucket per (credential key, resource). Windows start at the first request
// of a credential/resource and last `resetSeconds` (GitHub: 1 hour), like GitHub's rolling reset.
// All times here are wall-clock (Date.now()), independent of the dataset's pinned clock.

export class RateLimiter {
  constructor(cfg) {
    this.cfg = cfg; // live object: {budget, graphqlBudget, searchBudget, resetSeconds, credentialBudgets?}
    this.buckets = new Map(); // key `${cred}|${resource}` -> {limit, used, resetAt}
  }

  limitFor(cred, resource) {
    const per = this.cfg.credentialBudgets?.[cred]?.[resource];
    if (per !== undefined) return per;
    if (resource === 'graphql') return this.cfg.graphqlBudget;
    if (resource === 'search') return this.cfg.searchBudget ?? 30;
    if (resource === 'unauthenticated') return 60;
    return this.cfg.budget;
  }

  bucket(cred, resource, now = Date.now()) {
    const key = `${cred}|${resource}`;
    let b = this.buckets.get(key);
    if (!b || now >= b.resetAt) {
      b = { cred, resource, used: 0, resetAt: now + this.cfg.resetSeconds * 1000, started: now };
      this.buckets.set(key, b);
    }
    b.limit = this.limitFor(cred, resource);
    return b;
  }

  /** Snapshot for headers / rateLimit field. */
  peek(cred, resource) {
    const b = this.bucket(cred, resource);
    return { limit: b.limit, used: b.used, remaining: Math.max(0, b.limit - b.used), reset: Math.ceil(b.resetAt / 1000), resetAt: b.resetAt, resource };
  }

  /** Would `cost` fit? (GitHub rejects a request when remaining is 0, or a GraphQL query costing more than remaining.) */
  canSpend(cred, resource, cost = 1) {
    const b = this.bucket(cred, resource);
    return b.limit - b.used >= Math.max(1, cost);
  }

  spend(cred, resource, cost = 1) {
    const b = this.bucket(cred, resource);
    b.used += cost;
    return this.peek(cred, resource);
  }

  headers(snap) {
    return {
      'x-ratelimit-limit': String(snap.limit),
      'x-ratelimit-remaining': String(snap.remaining),
      'x-ratelimit-reset': String(snap.reset),
      'x-ratelimit-used': String(snap.used),
      'x-ratelimit-resource': snap.resource,
    };
  }

  /** Every live bucket, for /_fake/stats. */
  all() {
    const out = {};
    const now = Date.now();
    for (const b of this.buckets.values()) {
      if (now >= b.resetAt) continue;
      (out[b.cred] ??= {})[b.resource] = { limit: b.limit, used: b.used, remaining: Math.max(0, b.limit - b.used), reset: Math.ceil(b.resetAt / 1000) };
    }
    return out;
  }

  reset() { this.buckets.clear(); }
}
