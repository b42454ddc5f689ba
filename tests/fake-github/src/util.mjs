// Small shared helpers: seeded PRNG, hashing, GitHub-style node ids, time formatting.
import { createHash } from 'node:crypto';

/** mulberry32: tiny, fast, good-enough 32-bit PRNG. Returns floats in [0,1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the string form of all parts -> uint32. Used to derive independent sub-seeds. */
export function hashSeed(...parts) {
  let h = 0x811c9dc5;
  const s = parts.join('\u0001');
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // final avalanche so nearby inputs diverge
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Convenience wrapper around mulberry32 with distribution helpers. */
export class Rng {
  constructor(seed) { this.next = mulberry32(seed); }
  /** integer in [lo, hi] inclusive */
  int(lo, hi) { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  chance(p) { return this.next() < p; }
  pick(arr) { return arr[Math.floor(this.next() * arr.length)]; }
  /** pick from [[weight, value], ...] */
  weighted(pairs) {
    let total = 0;
    for (const [w] of pairs) total += w;
    let x = this.next() * total;
    for (const [w, v] of pairs) { if ((x -= w) < 0) return v; }
    return pairs[pairs.length - 1][1];
  }
  /** skewed small integers in [lo, hi]: exponent > 1 favours small values */
  skewed(lo, hi, exponent = 2) {
    return lo + Math.floor(Math.pow(this.next(), exponent) * (hi - lo + 1));
  }
  shuffle(arr) {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [arr[i], arr[j]] = [arr[j], arr[i]];
    }
    return arr;
  }
}

export function sha1hex(s) { return createHash('sha1').update(s).digest('hex'); }
export function sha256hex(s) { return createHash('sha256').update(s).digest('hex'); }

/** ISO-8601 with second precision and Z, as GitHub emits (2024-01-02T03:04:05Z). */
export function iso(ms) {
  if (ms === null || ms === undefined) return null;
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** HTTP-date for Last-Modified (RFC 7231). */
export function httpDate(ms) { return new Date(ms).toUTCString(); }

// ---- GitHub "next" global node ids: PREFIX_ + base64url(msgpack([0, ...ids])) ----
function msgpackUint(n, out) {
  if (n < 128) out.push(n);
  else if (n < 0x100) out.push(0xcc, n);
  else if (n < 0x10000) out.push(0xcd, n >> 8, n & 0xff);
  else if (n < 0x100000000) out.push(0xce, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  else {
    const hi = Math.floor(n / 0x100000000), lo = n >>> 0;
    out.push(0xcf, (hi >>> 24) & 0xff, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff,
      (lo >>> 24) & 0xff, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
  }
}
/** e.g. nodeId('PR', repoId, prId) -> "PR_kwDO..." (same scheme GitHub uses for new-format ids). */
export function nodeId(prefix, ...ids) {
  const out = [0x90 | (ids.length + 1), 0];
  for (const id of ids) msgpackUint(id, out);
  return `${prefix}_${Buffer.from(out).toString('base64url')}`;
}
/** Inverse of nodeId; returns {prefix, ids} or null. */
export function parseNodeId(s) {
  if (typeof s !== 'string') return null;
  const m = /^([A-Za-z]+)_([A-Za-z0-9_-]+)$/.exec(s);
  if (!m) return null;
  const b = Buffer.from(m[2], 'base64url');
  if (!b.length || (b[0] & 0xf0) !== 0x90) return null;
  const n = b[0] & 0x0f; let i = 1; const vals = [];
  try {
    for (let k = 0; k < n; k++) {
      const t = b[i++];
      if (t < 128) vals.push(t);
      else if (t === 0xcc) { vals.push(b[i]); i += 1; }
      else if (t === 0xcd) { vals.push(b.readUInt16BE(i)); i += 2; }
      else if (t === 0xce) { vals.push(b.readUInt32BE(i)); i += 4; }
      else if (t === 0xcf) { vals.push(Number(b.readBigUInt64BE(i))); i += 8; }
      else return null;
    }
  } catch { return null; }
  if (i !== b.length) return null;
  return { prefix: m[1], ids: vals.slice(1) };
}

/** Parse "2026-11-29T00:00:00Z" (or any Date-parsable string) into ms; NaN if invalid. */
export function parseTime(s) {
  if (s === undefined || s === null || s === '') return NaN;
  return Date.parse(s);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Compare two values (numbers or strings) for sorting. */
export function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }
