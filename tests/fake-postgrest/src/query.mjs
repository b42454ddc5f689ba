// Parsers for PostgREST's URL grammar (select, filters, logic trees, order, limit/offset, Range)
// and for the Prefer header, plus the SQL fragments they turn into. Values are ALWAYS bound as
// parameters (sent untyped, like PostgREST's "unknown" encoder, so PostgreSQL infers the type);
// identifiers are quoted with ident().
import { pgrst } from './errors.mjs';
import { ident, arrayLiteral } from './util.mjs';

/** Query parameters that are not filters. `apikey` is consumed by the gateway (Supabase). */
export const RESERVED_PARAMS = new Set(['select', 'columns', 'on_conflict', 'order', 'limit', 'offset', 'and', 'or',
  'not.and', 'not.or', 'apikey']);

// ------------------------------------------------------------------ Prefer
const PREFS = {
  resolution: ['merge-duplicates', 'ignore-duplicates'],
  return: ['representation', 'minimal', 'headers-only'],
  params: ['single-object'],
  count: ['exact', 'planned', 'estimated'],
  tx: ['commit', 'rollback'],
  missing: ['default', 'null'],
  handling: ['strict', 'lenient'],
};

/** RFC 7240 preferences as PostgREST parses them: first occurrence wins, unknown ones collected. */
export function parsePrefer(header) {
  const out = { invalid: [] };
  if (!header) return out;
  const items = String(header).split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq) : item;
    const val = eq > 0 ? item.slice(eq + 1) : '';
    if (PREFS[key] && PREFS[key].includes(val)) {
      if (out[key] === undefined) out[key] = val;
    } else if (key === 'max-affected' && /^[0-9]+$/.test(val)) {
      if (out.maxAffected === undefined) out.maxAffected = Number(val);
    } else if (key === 'timezone' && val) {
      if (out.timezone === undefined) out.timezone = val; // validated against pg_timezone_names by the server
    } else {
      out.invalid.push(item);
    }
  }
  return out;
}

/** Preference-Applied value in PostgREST's order. */
export function preferenceApplied(p, keys) {
  const order = ['resolution', 'missing', 'return', 'params', 'count', 'tx', 'handling', 'timezone'];
  const vals = [];
  for (const k of order) {
    if (!keys.includes(k) || p[k] === undefined) continue;
    vals.push(k === 'return' ? `return=${p.return}` : `${k}=${p[k]}`);
  }
  if (keys.includes('maxAffected') && p.handling === 'strict' && p.maxAffected !== undefined) vals.push(`max-affected=${p.maxAffected}`);
  return vals.length ? vals.join(', ') : null;
}

// ------------------------------------------------------------------ tokenising helpers
/** Split on `sep` at nesting depth 0, outside double quotes. */
export function splitTop(s, sep = ',') {
  const parts = [];
  let depth = 0;
  let inQ = false;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (inQ) {
      cur += ch;
      if (ch === '\\' && i + 1 < s.length) { cur += s[++i]; continue; }
      if (ch === '"') inQ = false;
      continue;
    }
    if (ch === '"') { inQ = true; cur += ch; continue; }
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === sep && depth === 0) { parts.push(cur); cur = ''; continue; }
    cur += ch;
  }
  parts.push(cur);
  return parts;
}

function unquote(s) {
  s = s.trim();
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) return s.slice(1, -1).replace(/\\(.)/g, '$1');
  return s;
}

/** Column name, possibly double-quoted; rejects JSON paths (not supported). */
function fieldName(raw, what) {
  const s = raw.trim();
  if (s.startsWith('"')) return unquote(s);
  if (/->/.test(s)) throw pgrst(400, 'PGRST100', `failed to parse ${what} (${raw})`, 'fake-postgrest: JSON path operators are not supported');
  if (!s || /[(),:]/.test(s)) throw pgrst(400, 'PGRST100', `failed to parse ${what} (${raw})`, `unexpected "${s[0] || ''}" expecting field name`);
  return s;
}

// ------------------------------------------------------------------ select
/** Returns null for "*" / empty, else [{name, alias, cast}]. */
export function parseSelect(raw) {
  if (raw === null || raw === undefined) return null;
  const s = raw.trim();
  if (s === '' || s === '*') return null;
  const items = [];
  for (let part of splitTop(s)) {
    part = part.trim();
    if (part === '*') { items.push({ star: true }); continue; }
    if (/\(/.test(part) && !part.startsWith('"')) {
      throw pgrst(400, 'PGRST100', `failed to parse select parameter (${raw})`,
        'fake-postgrest: resource embedding and aggregates are not supported');
    }
    let alias = null;
    let cast = null;
    const colon = part.match(/^([A-Za-z0-9_ ]+|"(?:[^"\\]|\\.)*"):(?!:)(.*)$/);
    if (colon) { alias = unquote(colon[1]); part = colon[2]; }
    const castIdx = part.lastIndexOf('::');
    if (castIdx > 0 && !part.slice(castIdx).includes('"')) {
      cast = part.slice(castIdx + 2).trim();
      part = part.slice(0, castIdx);
      if (!/^[A-Za-z_][A-Za-z0-9_ ]*(\[\])?$/.test(cast)) {
        throw pgrst(400, 'PGRST100', `failed to parse select parameter (${raw})`, `unexpected cast "${cast}"`);
      }
    }
    items.push({ name: fieldName(part, 'select parameter'), alias, cast });
  }
  return items;
}

/** SQL select list over `rel` (a quoted qualified name or alias); "*" expands to `columns` (null: rel.*). */
export function selectSql(items, rel, columns) {
  if (!items) return columns.map((c) => `${rel}.${ident(c)}`).join(', ');
  const out = [];
  for (const it of items) {
    if (it.star) {
      if (columns === null) out.push(`${rel}.*`);
      else for (const c of columns) out.push(`${rel}.${ident(c)}`);
      continue;
    }
    let e = `${rel}.${ident(it.name)}`;
    if (it.cast) e = `CAST(${e} AS ${it.cast})`;
    if (it.alias) e += ` AS ${ident(it.alias)}`;
    else if (it.cast) e += ` AS ${ident(it.name)}`;
    out.push(e);
  }
  return out.join(', ');
}

// ------------------------------------------------------------------ filters
const SIMPLE_OPS = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=', like: 'LIKE', ilike: 'ILIKE',
  match: '~', imatch: '~*', cs: '@>', cd: '<@', ov: '&&', isdistinct: 'IS DISTINCT FROM' };
const IS_VALUES = { null: 'NULL', not_null: 'NOT NULL', true: 'TRUE', false: 'FALSE', unknown: 'UNKNOWN' };

/** Parse "[not.]op.value" for column `col`. */
export function parseOpValue(col, raw, whole) {
  let s = raw;
  let negate = false;
  if (s.startsWith('not.')) { negate = true; s = s.slice(4); }
  const dot = s.indexOf('.');
  const op = dot >= 0 ? s.slice(0, dot) : s;
  const val = dot >= 0 ? s.slice(dot + 1) : null;
  if (val === null || !(op in SIMPLE_OPS || op === 'in' || op === 'is')) {
    throw pgrst(400, 'PGRST100', `failed to parse filter (${whole})`,
      `unexpected "${(val === null ? s : op).slice(0, 1)}" expecting "not" or operator (eq, gt, ...)`);
  }
  if (op === 'is') {
    const k = val.toLowerCase();
    if (!(k in IS_VALUES)) {
      throw pgrst(400, 'PGRST100', `failed to parse filter (${whole})`, `unexpected "${val}" expecting null, not_null, true, false or unknown`);
    }
    return { col, negate, op, isValue: IS_VALUES[k] };
  }
  if (op === 'in') {
    const m = /^\((.*)\)$/s.exec(val);
    if (!m) throw pgrst(400, 'PGRST100', `failed to parse filter (${whole})`, 'unexpected end of input expecting "("');
    const values = m[1] === '' ? [] : splitTop(m[1]).map(unquote);
    return { col, negate, op, values };
  }
  return { col, negate, op, value: val };
}

/** Parse a logic tree value like "(a.eq.1,or(b.gt.2,c.is.null))". */
export function parseLogic(op, raw, negate = false) {
  const m = /^\((.*)\)$/s.exec(raw);
  if (!m) throw pgrst(400, 'PGRST100', `failed to parse logic tree (${raw})`, 'unexpected end of input expecting "("');
  const children = splitTop(m[1]).map((part) => {
    let p = part.trim();
    let neg = false;
    if (p.startsWith('not.and(') || p.startsWith('not.or(')) { neg = true; p = p.slice(4); }
    const lm = /^(and|or)(\(.*\))$/s.exec(p);
    if (lm) return parseLogic(lm[1], lm[2], neg);
    const d1 = p.indexOf('.');
    if (d1 <= 0) throw pgrst(400, 'PGRST100', `failed to parse logic tree (${raw})`, `unexpected "${p}"`);
    return parseOpValue(fieldName(p.slice(0, d1), 'logic tree'), p.slice(d1 + 1), raw);
  });
  return { logic: op, negate, children };
}

/** Collect filters and logic trees from the query string. */
export function parseFilters(searchParams) {
  const out = [];
  for (const [k, v] of searchParams) {
    if (k === 'or' || k === 'and') { out.push(parseLogic(k, v)); continue; }
    if (k === 'not.or' || k === 'not.and') { out.push(parseLogic(k.slice(4), v, true)); continue; }
    if (RESERVED_PARAMS.has(k)) continue;
    out.push(parseOpValue(fieldName(k, 'filter'), v, `${k}=${v}`));
  }
  return out;
}

/** SQL for one parsed filter/logic node over relation `rel`; `bind(v)` returns a $n placeholder. */
export function filterSql(f, rel, bind) {
  if (f.logic) {
    const inner = f.children.map((c) => filterSql(c, rel, bind)).join(f.logic === 'and' ? ' AND ' : ' OR ');
    return `${f.negate ? 'NOT ' : ''}(${inner || (f.logic === 'and' ? 'TRUE' : 'FALSE')})`;
  }
  const col = `${rel}.${ident(f.col)}`;
  let e;
  if (f.op === 'is') e = `${col} IS ${f.isValue}`;
  else if (f.op === 'in') e = f.values.length === 0 ? `${col} = ANY('{}')` : `${col} = ANY (${bind(arrayLiteral(f.values))})`;
  else if (f.op === 'like' || f.op === 'ilike') e = `${col} ${SIMPLE_OPS[f.op]} ${bind(f.value.replace(/\*/g, '%'))}`;
  else e = `${col} ${SIMPLE_OPS[f.op]} ${bind(f.value)}`;
  return f.negate ? `NOT ${e}` : e;
}

// ------------------------------------------------------------------ order
export function parseOrder(raw) {
  if (!raw) return [];
  return splitTop(raw).map((term) => {
    const t = term.trim();
    let name;
    let rest;
    if (t.startsWith('"')) {
      const end = t.indexOf('"', 1);
      name = t.slice(1, end);
      rest = t.slice(end + 1).split('.').filter(Boolean);
    } else {
      const bits = t.split('.');
      name = bits[0];
      rest = bits.slice(1);
    }
    let dir = null;
    let nulls = null;
    for (const r of rest) {
      if (r === 'asc' || r === 'desc') dir = r.toUpperCase();
      else if (r === 'nullsfirst') nulls = 'NULLS FIRST';
      else if (r === 'nullslast') nulls = 'NULLS LAST';
      else throw pgrst(400, 'PGRST100', `failed to parse order (${raw})`, `unexpected "${r}" expecting "asc", "desc", "nullsfirst" or "nullslast"`);
    }
    if (!name) throw pgrst(400, 'PGRST100', `failed to parse order (${raw})`, 'unexpected end of input expecting field name');
    return { name, dir, nulls };
  });
}

export function orderSql(terms, rel) {
  if (!terms.length) return '';
  return ' ORDER BY ' + terms.map((t) => [`${rel}.${ident(t.name)}`, t.dir, t.nulls].filter(Boolean).join(' ')).join(', ');
}

// ------------------------------------------------------------------ ranges
/**
 * Intersect the Range header with limit/offset (PostgREST semantics) and cap by max-rows.
 * Returns {offset, limit|null}.
 */
export function parseRange(rangeHeader, limitParam, offsetParam, maxRows) {
  let lower = 0;
  let upper = Infinity;
  if (rangeHeader) {
    const m = /^(?:items=)?\s*([0-9]+)-([0-9]*)\s*$/.exec(rangeHeader);
    if (m) {
      lower = Number(m[1]);
      upper = m[2] === '' ? Infinity : Number(m[2]);
      if (upper < lower) {
        throw pgrst(416, 'PGRST103', 'Requested range not satisfiable',
          'The lower boundary must be lower than or equal to the upper boundary in the Range header.');
      }
    }
  }
  if (offsetParam !== null && offsetParam !== undefined) {
    if (!/^[0-9]+$/.test(offsetParam)) throw pgrst(400, 'PGRST100', `failed to parse offset parameter (${offsetParam})`, 'unexpected input expecting digit');
    lower = Math.max(lower, Number(offsetParam));
  }
  if (limitParam !== null && limitParam !== undefined) {
    if (!/^-?[0-9]+$/.test(limitParam)) throw pgrst(400, 'PGRST100', `failed to parse limit parameter (${limitParam})`, 'unexpected input expecting digit');
    const l = Number(limitParam);
    if (l < 0) throw pgrst(416, 'PGRST103', 'Requested range not satisfiable', 'Limit should be greater than or equal to zero.');
    upper = Math.min(upper, lower + l - 1);
  }
  if (maxRows) upper = Math.min(upper, lower + maxRows - 1);
  return { offset: lower, limit: upper === Infinity ? null : Math.max(0, upper - lower + 1) };
}

/** Content-Range value and status for a read (RangeQuery.rangeStatusHeader). */
export function rangeStatus(offset, pageTotal, tableTotal) {
  const lower = offset;
  const upper = lower + pageTotal - 1;
  const totalNotZero = tableTotal !== 0;
  const rangeString = totalNotZero && lower <= upper ? `${lower}-${upper}` : '*';
  const totalString = tableTotal === null || tableTotal === undefined ? '*' : String(tableTotal);
  let status = 200;
  if (tableTotal !== null && tableTotal !== undefined) {
    if (lower > tableTotal) status = 416;
    else if (1 + upper - lower < tableTotal) status = 206;
  }
  return { status, contentRange: `${rangeString}/${totalString}` };
}

/** Columns of ?columns= (quoted or bare, comma separated). */
export function parseColumns(raw) {
  if (raw === null || raw === undefined) return null;
  const cols = splitTop(raw).map((c) => unquote(c)).filter((c) => c !== '');
  if (!cols.length) throw pgrst(400, 'PGRST100', `failed to parse columns parameter (${raw})`, 'unexpected end of input expecting field name');
  return [...new Set(cols)];
}
