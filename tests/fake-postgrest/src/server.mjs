// fake-postgrest: the subset of PostgREST's HTTP protocol (as served by Supabase under /rest/v1)
// that a bulk-upsert sink and postgrest-js use, executed for real against PostgreSQL.
// Every write is ONE SQL statement shaped like PostgREST's own (json_to_recordset over the raw
// request body bound as a single parameter), run inside a transaction with a local
// statement_timeout. See ../README.md for the supported subset and the known differences.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { HttpError, pgrst, pgrstBody, fromDbError } from './errors.mjs';
import { makeKey, verifyJwt } from './jwt.mjs';
import { loadSchema } from './schema.mjs';
import {
  parsePrefer, preferenceApplied, parseSelect, selectSql, parseFilters, filterSql, parseOrder, orderSql,
  parseRange, rangeStatus, parseColumns, splitTop, RESERVED_PARAMS,
} from './query.mjs';
import { ident, qualified, parseDsn, bestMatch } from './util.mjs';
import { Faults, defaultFaultBody, HTML_ERROR_PAGE } from './faults.mjs';

export const DEFAULT_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';

export const DEFAULTS = {
  port: 0,
  host: '127.0.0.1',
  db: null,
  schema: 'public',
  jwtSecret: DEFAULT_JWT_SECRET,
  anonKey: null,
  serviceKey: null,
  maxBodyBytes: 0,            // 0 = unlimited (PostgREST has no limit; Supabase's gateway has one)
  maxRows: 1000,              // Supabase's default db-max-rows
  statementTimeoutMs: 8000,   // Supabase's authenticator/authenticated role timeout
  poolSize: 10,
  poolTimeoutMs: 10000,       // db-pool-acquisition-timeout
  requireApikey: true,        // Supabase gateway behaviour; false = bare PostgREST
  safeupdate: true,           // Supabase loads pg-safeupdate: PATCH/DELETE without filters fail
  legacy21000: false,         // true: 21000 → 400 like PostgREST < 12.0.3
  quiet: false,
};

const SERVICE_ROLES = new Set(['service_role']);
const KNOWN_ROLES = new Set(['anon', 'authenticated', 'service_role']);
const ANON_ROLE = 'anon';
const JSON_CT = 'application/json; charset=utf-8';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sqlLiteral = (s) => `'${String(s).replace(/'/g, "''")}'`;

function newStats() {
  return {
    started_at: new Date().toISOString(),
    requests: 0,
    by_method: {},
    by_status: {},
    by_route: {},
    rows_written: {},
    rows: { inserted: {}, updated: {}, deleted: {} },
    rpc_calls: {},
    faults_fired: {},
    bytes_in: 0,
    bytes_out: 0,
  };
}

const bump = (obj, key, n = 1) => { obj[key] = (obj[key] || 0) + n; };

/** Start the server. Resolves to {url, port, anonKey, serviceKey, close(), reloadSchema(), stats(), faults}. */
export async function startFake(options = {}) {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (!o.db) throw new Error('startFake: db (PostgreSQL DSN) is required');
  const anonKey = o.anonKey || makeKey('anon', o.jwtSecret);
  const serviceKey = o.serviceKey || makeKey('service_role', o.jwtSecret);
  const dbConfig = parseDsn(o.db);
  const pool = new pg.Pool({ ...dbConfig, max: o.poolSize, application_name: 'fake-postgrest',
    connectionTimeoutMillis: o.poolTimeoutMs, idleTimeoutMillis: 30000 });
  pool.on('error', () => {}); // idle client errors (server restart) surface on the next query

  let cache = await loadSchema(pool, o.schema);
  const faults = new Faults();
  let stats = newStats();
  const log = (...a) => { if (!o.quiet) process.stderr.write(`[fake-postgrest] ${a.join(' ')}\n`); };

  // NOTIFY pgrst, 'reload schema' → reload, like PostgREST's listener
  let listener = null;
  async function startListener() {
    try {
      listener = new pg.Client({ ...dbConfig, application_name: 'fake-postgrest-listener' });
      listener.on('error', () => {});
      await listener.connect();
      listener.on('notification', (n) => {
        if (n.channel === 'pgrst' && (n.payload === '' || n.payload === 'reload schema')) {
          reloadSchema().catch((e) => log('schema reload failed:', e.message));
        }
      });
      await listener.query('LISTEN pgrst');
    } catch (e) {
      log('LISTEN pgrst unavailable:', e.message);
    }
  }
  await startListener();

  async function reloadSchema() {
    cache = await loadSchema(pool, o.schema);
    return { tables: cache.tables.size, functions: cache.functions.size, loaded_at: cache.loadedAt };
  }

  // ------------------------------------------------------------------ responses
  function send(res, rec, status, headers, body) {
    const buf = body === null || body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    const h = { ...headers };
    h['Content-Length'] = String(buf ? buf.length : 0);
    res.writeHead(status, h);
    res.end(buf || undefined);
    stats.requests++;
    bump(stats.by_method, rec.method);
    bump(stats.by_status, String(status));
    const route = stats.by_route[rec.route] || (stats.by_route[rec.route] = {});
    bump(route, String(status));
    stats.bytes_out += buf ? buf.length : 0;
  }

  function sendError(res, rec, err) {
    const code = err.body && err.body.code ? err.body.code : null;
    const headers = { 'Content-Type': JSON_CT, ...err.headers };
    if (code && !('Proxy-Status' in headers)) headers['Proxy-Status'] = `PostgREST; error=${code}`;
    send(res, rec, err.status, headers, JSON.stringify(err.body));
  }

  // ------------------------------------------------------------------ request body
  function readBody(req) {
    return new Promise((resolve, reject) => {
      const limit = o.maxBodyBytes;
      const declared = Number(req.headers['content-length']);
      let tooBig = limit > 0 && Number.isFinite(declared) && declared > limit;
      let size = 0;
      const chunks = [];
      req.on('data', (c) => {
        size += c.length;
        if (limit > 0 && size > limit) tooBig = true;
        if (!tooBig) chunks.push(c);
      });
      req.on('end', () => {
        stats.bytes_in += size;
        if (tooBig) {
          reject(new HttpError(413, { message: 'Request size limit exceeded' }, { Connection: 'close' }));
        } else {
          resolve(Buffer.concat(chunks).toString('utf8'));
        }
      });
      req.on('error', reject);
    });
  }

  function drain(req) {
    return new Promise((resolve) => {
      req.on('data', (c) => { stats.bytes_in += c.length; });
      req.on('end', resolve);
      req.on('error', resolve);
      req.on('close', resolve);
    });
  }

  // ------------------------------------------------------------------ auth
  function authenticate(req, url) {
    const apikey = req.headers.apikey ?? url.searchParams.get('apikey');
    if (o.requireApikey) {
      if (!apikey) {
        throw new HttpError(401, { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' });
      }
      const v = verifyJwt(apikey, o.jwtSecret);
      if (v.error) {
        throw new HttpError(401, { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
      }
    }
    let token = null;
    const authz = req.headers.authorization;
    if (authz !== undefined) {
      const m = /^Bearer(?:\s+(.*))?$/i.exec(authz.trim());
      if (m) token = (m[1] || '').trim();
    } else if (o.requireApikey) {
      token = apikey; // the gateway forwards the apikey as the bearer token
    }
    if (token === null) return { role: ANON_ROLE, claims: {}, authed: false };
    const v = verifyJwt(token, o.jwtSecret);
    if (v.error) {
      const desc = JSON.stringify(v.error.message);
      throw pgrst(401, v.error.code, v.error.message, v.error.details ?? null, null,
        { 'WWW-Authenticate': `Bearer error="invalid_token", error_description=${desc}` });
    }
    const role = typeof v.claims.role === 'string' ? v.claims.role : ANON_ROLE;
    if (!KNOWN_ROLES.has(role)) {
      throw new HttpError(401, pgrstBody('22023', `role "${role}" does not exist`), { 'WWW-Authenticate': 'Bearer' });
    }
    return { role, claims: v.claims, authed: role !== ANON_ROLE };
  }

  /** Writes need the service role (contributor.info: RLS allows public reads, service-role writes). */
  function requireWrite(auth, what, name) {
    if (SERVICE_ROLES.has(auth.role)) return;
    const status = auth.authed ? 403 : 401;
    throw new HttpError(status, pgrstBody('42501', `permission denied for ${what} ${name}`),
      status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {});
  }

  // ------------------------------------------------------------------ negotiation & prefs
  function negotiate(req) {
    const acc = req.headers.accept;
    if (!acc) return { single: false, strip: false, ct: JSON_CT };
    const offered = [];
    for (const part of acc.split(',')) {
      const [typeRaw, ...params] = part.split(';').map((s) => s.trim());
      const type = typeRaw.toLowerCase();
      if (!type) continue;
      offered.push(type);
      const strip = params.some((p) => p.replace(/\s/g, '').toLowerCase() === 'nulls=stripped');
      if (type === '*/*' || type === 'application/json' || type === 'application/*') return { single: false, strip: false, ct: JSON_CT };
      if (type === 'application/vnd.pgrst.object+json' || type === 'application/vnd.pgrst.object') {
        return { single: true, strip, ct: `application/vnd.pgrst.object+json${strip ? '; nulls=stripped' : ''}; charset=utf-8` };
      }
      if (type === 'application/vnd.pgrst.array+json' || type === 'application/vnd.pgrst.array') {
        return { single: false, strip, ct: `application/vnd.pgrst.array+json${strip ? '; nulls=stripped' : ''}; charset=utf-8` };
      }
    }
    throw pgrst(406, 'PGRST107', `None of these media types are available: ${offered.join(', ')}`);
  }

  function prefsOf(req) {
    const p = parsePrefer(req.headers.prefer);
    if (p.handling === 'strict' && p.invalid.length) {
      throw pgrst(400, 'PGRST122', 'Invalid preferences given with handling=strict', `Invalid preferences: ${p.invalid.join(', ')}`);
    }
    return p;
  }

  function checkProfile(req, write) {
    const prof = write ? req.headers['content-profile'] : req.headers['accept-profile'];
    if (prof && prof !== o.schema) {
      throw pgrst(406, 'PGRST106', `Invalid schema: ${prof}`, null, `Only the following schemas are exposed: ${o.schema}`);
    }
  }

  function aggBody(neg, field = '_postgrest_t') {
    const agg = neg.single ? `json_agg(${field})->0` : `json_agg(${field})`;
    const stripped = neg.strip ? `json_strip_nulls(${agg})` : agg;
    return `coalesce(${stripped}, '${neg.single ? 'null' : '[]'}')::text`;
  }

  function singularCheck(neg, n) {
    if (neg.single && n !== 1) {
      throw pgrst(406, 'PGRST116', 'Cannot coerce the result to a single JSON object', `The result contains ${n} rows`);
    }
  }

  // ------------------------------------------------------------------ transactions
  async function withTx(auth, req, { readOnly = false } = {}, fn) {
    let client;
    try {
      client = await pool.connect();
    } catch (e) {
      if (/timeout/i.test(String(e && e.message))) e.__acquireTimeout = true;
      throw fromDbError(e, auth.authed, o);
    }
    let broken = false;
    try {
      const claims = JSON.stringify({ ...auth.claims, role: auth.role });
      await client.query(
        `BEGIN ISOLATION LEVEL READ COMMITTED${readOnly ? ' READ ONLY' : ''};` +
        `SELECT set_config('statement_timeout', ${sqlLiteral(String(o.statementTimeoutMs))}, true),` +
        ` set_config('request.jwt.claims', ${sqlLiteral(claims)}, true),` +
        ` set_config('request.method', ${sqlLiteral(req.method)}, true),` +
        ` set_config('request.path', ${sqlLiteral(req.url.split('?')[0])}, true)`);
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      try { await client.query('ROLLBACK'); } catch { broken = true; }
      if (!(e instanceof HttpError) && !(e && /^[0-9A-Z]{5}$/.test(String(e.code)))) broken = true;
      throw fromDbError(e, auth.authed, o);
    } finally {
      client.release(broken);
    }
  }

  // ------------------------------------------------------------------ tables
  function tableNotFound(name) {
    const hint = bestMatch(name, cache.tables.keys());
    return pgrst(404, 'PGRST205', `Could not find the table '${o.schema}.${name}' in the schema cache`, null,
      hint ? `Perhaps you meant the table '${o.schema}.${hint}'` : null);
  }

  function bindFactory(params) {
    return (v) => { params.push(v); return `$${params.length}`; };
  }

  async function readTable(t, url, req, auth, head) {
    checkProfile(req, false);
    const neg = negotiate(req);
    const prefs = prefsOf(req);
    const select = parseSelect(url.searchParams.get('select'));
    const filters = parseFilters(url.searchParams);
    const order = parseOrder(url.searchParams.get('order'));
    const range = parseRange(req.headers.range, url.searchParams.get('limit'), url.searchParams.get('offset'), o.maxRows);
    const rel = qualified(o.schema, t.name);
    const params = [];
    const bind = bindFactory(params);
    const where = filters.length ? ` WHERE ${filters.map((f) => filterSql(f, rel, bind)).join(' AND ')}` : '';
    const counting = prefs.count !== undefined;
    let lim = '';
    if (range.limit !== null) lim += ` LIMIT ${range.limit}`;
    if (range.offset) lim += ` OFFSET ${range.offset}`;
    const sql =
      `WITH pgrst_source AS (SELECT ${selectSql(select, rel, [...t.columns.keys()])} FROM ${rel}${where}${orderSql(order, rel)}${lim})` +
      (counting ? `, pgrst_source_count AS (SELECT 1 FROM ${rel}${where})` : '') +
      ` SELECT ${counting ? '(SELECT pg_catalog.count(*) FROM pgrst_source_count)' : 'null::bigint'} AS total,` +
      ` pg_catalog.count(_postgrest_t) AS page_total, ${aggBody(neg)} AS body FROM (SELECT * FROM pgrst_source) _postgrest_t`;
    const row = await withTx(auth, req, { readOnly: true }, async (c) => (await c.query(sql, params)).rows[0]);
    const total = row.total === null ? null : Number(row.total);
    const pageTotal = Number(row.page_total);
    const rs = rangeStatus(range.offset, pageTotal, total);
    if (rs.status === 416) {
      throw pgrst(416, 'PGRST103', 'Requested range not satisfiable',
        `An offset of ${range.offset} was requested, but there are only ${total} rows.`, null, { 'Content-Range': rs.contentRange });
    }
    singularCheck(neg, pageTotal);
    const headers = { 'Content-Type': neg.ct, 'Content-Range': rs.contentRange };
    const pa = preferenceApplied(prefs, ['count', 'handling']);
    if (pa) headers['Preference-Applied'] = pa;
    return { status: rs.status, headers, body: head ? null : row.body };
  }

  /** Body → {text, isObject, cols}; PostgREST's payload rules (Payload.hs). */
  function payloadOf(bodyText, columnsParam, forUpdate) {
    if (columnsParam) {
      const first = bodyText.replace(/^[ \t\r\n]+/, '')[0];
      return { text: bodyText, isObject: first === '{', cols: columnsParam };
    }
    let json;
    try { json = bodyText.trim() === '' ? undefined : JSON.parse(bodyText); } catch { json = undefined; }
    if (json === undefined) throw pgrst(400, 'PGRST102', 'Empty or invalid json');
    if (Array.isArray(json)) {
      if (json.length === 0) return { text: '[]', isObject: false, cols: [] };
      const f = json[0];
      if (!f || typeof f !== 'object' || Array.isArray(f)) throw pgrst(400, 'PGRST102', 'All object keys must match');
      const keys = Object.keys(f);
      const keySet = new Set(keys);
      for (let i = 1; i < json.length; i++) {
        const x = json[i];
        if (!x || typeof x !== 'object' || Array.isArray(x)) throw pgrst(400, 'PGRST102', 'All object keys must match');
        const xk = Object.keys(x);
        if (xk.length !== keySet.size || !xk.every((k) => keySet.has(k))) throw pgrst(400, 'PGRST102', 'All object keys must match');
      }
      return { text: bodyText, isObject: false, cols: keys.sort() };
    }
    if (json && typeof json === 'object') return { text: bodyText, isObject: true, cols: Object.keys(json).sort() };
    // any other JSON value is truncated to an empty array (PostgREST)
    return { text: forUpdate ? '{}' : '[]', isObject: !!forUpdate, cols: [] };
  }

  function checkColumns(t, cols) {
    for (const c of cols) {
      if (!t.columns.has(c)) throw pgrst(400, 'PGRST204', `Could not find the '${c}' column of '${t.name}' in the schema cache`);
    }
  }

  /** FROM-clause fragment that turns $1 (the raw body) into typed rows (SqlFragment.fromJsonBodyF). */
  function jsonBodyFrom(t, cols, isObject, applyDefaults, limitOne) {
    const typed = cols.map((c) => `${ident(c)} ${t.columns.get(c).type}`).join(', ');
    const names = cols.map(ident).join(', ');
    let src;
    let parts = '';
    if (applyDefaults) {
      const defs = cols.filter((c) => t.columns.get(c).default).map((c) => `${sqlLiteral(c)}, ${t.columns.get(c).default}`);
      const defsJsonb = `jsonb_build_object(${defs.join(', ')})`;
      parts = 'FROM (SELECT $1::jsonb AS json_data) pgrst_payload, ' +
        (isObject
          ? `LATERAL (SELECT ${defsJsonb} || pgrst_payload.json_data AS val) pgrst_json_defs, `
          : `LATERAL (SELECT jsonb_agg(${defsJsonb} || elem) AS val FROM jsonb_array_elements(pgrst_payload.json_data) elem) pgrst_json_defs, `);
      src = 'pgrst_json_defs.val';
    } else {
      parts = 'FROM (SELECT $1::json AS json_data) pgrst_payload, ';
      src = 'pgrst_payload.json_data';
    }
    const fn = `${applyDefaults ? 'jsonb' : 'json'}_to_record${isObject ? '' : 'set'}`;
    const elems = `${applyDefaults ? 'jsonb' : 'json'}_array_elements`;
    if (!cols.length) {
      return parts + (isObject ? 'LATERAL (SELECT FROM (values(1)) _) pgrst_body' : `LATERAL (SELECT FROM ${elems}(${src}) _) pgrst_body`);
    }
    return `${parts}LATERAL (SELECT ${names} FROM ${fn}(${src}) AS _(${typed})${limitOne ? ' LIMIT 1' : ''}) pgrst_body`;
  }

  function countRows(kind, table, n) {
    if (!n) return;
    bump(stats.rows[kind], table, n);
    bump(stats.rows_written, table, n);
  }

  async function insertTable(t, url, req, bodyText, auth) {
    checkProfile(req, true);
    requireWrite(auth, 'table', t.name);
    const neg = negotiate(req);
    const prefs = prefsOf(req);
    const select = parseSelect(url.searchParams.get('select'));
    const columnsParam = parseColumns(url.searchParams.get('columns'));
    const pl = payloadOf(bodyText, columnsParam, false);
    checkColumns(t, pl.cols);
    const rel = qualified(o.schema, t.name);
    const ocParam = url.searchParams.get('on_conflict');
    const ocCols = ocParam ? splitTop(ocParam).map((s) => s.trim().replace(/^"(.*)"$/, '$1')).filter(Boolean) : t.pk;
    const onConflict = prefs.resolution && ocCols.length ? { resolution: prefs.resolution, cols: ocCols } : null;
    const applyDefaults = prefs.missing === 'default';
    const wantBody = prefs.return === 'representation';
    const wantLocation = prefs.return === 'headers-only' && t.pk.length > 0;
    const allCols = [...t.columns.keys()];
    let sql = `INSERT INTO ${rel}${pl.cols.length ? `(${pl.cols.map(ident).join(', ')})` : ''} ` +
      `SELECT ${pl.cols.map((c) => `pgrst_body.${ident(c)}`).join(', ')} ${jsonBodyFrom(t, pl.cols, pl.isObject, applyDefaults, false)}`;
    if (onConflict) {
      sql += ` ON CONFLICT(${onConflict.cols.map(ident).join(', ')}) `;
      sql += onConflict.resolution === 'ignore-duplicates' || !pl.cols.length
        ? 'DO NOTHING'
        : `DO UPDATE SET ${pl.cols.map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`).join(', ')}`;
    }
    sql += wantBody || neg.single || wantLocation ? ` RETURNING ${rel}.*, (xmax = 0) AS pgrst__inserted` : ' RETURNING (xmax = 0) AS pgrst__inserted';
    const bodyExpr = wantBody
      ? `(SELECT ${aggBody(neg)} FROM (SELECT ${selectSql(select, 'pgrst_source', allCols)} FROM pgrst_source) _postgrest_t)`
      : 'NULL::text';
    const locExpr = wantLocation
      ? `(SELECT row_to_json(l)::text FROM (SELECT ${t.pk.map((c) => `pgrst_source.${ident(c)}`).join(', ')} FROM pgrst_source LIMIT 1) l)`
      : 'NULL::text';
    const full = `WITH pgrst_source AS (${sql}) SELECT pg_catalog.count(*)::bigint AS page_total,` +
      ` (pg_catalog.count(*) FILTER (WHERE pgrst_source.pgrst__inserted))::bigint AS inserted, ${bodyExpr} AS body, ${locExpr} AS location FROM pgrst_source`;
    const row = await withTx(auth, req, {}, async (c) => {
      const r = (await c.query(full, [pl.text])).rows[0];
      singularCheck(neg, Number(r.page_total));
      return r;
    });
    const total = Number(row.page_total);
    const inserted = Number(row.inserted);
    countRows('inserted', t.name, inserted);
    countRows('updated', t.name, total - inserted);
    const status = inserted <= 0 && prefs.resolution === 'merge-duplicates' ? 200 : 201;
    const headers = { 'Content-Range': `*/${prefs.count ? total : '*'}` };
    const pa = preferenceApplied(prefs, [...(t.pk.length || ocParam ? ['resolution'] : []), 'missing', 'return', 'count', 'handling']);
    if (pa) headers['Preference-Applied'] = pa;
    if (row.location) {
      const pk = JSON.parse(row.location);
      headers.Location = `/${t.name}?` + Object.entries(pk).map(([k, v]) => `${encodeURIComponent(k)}=${v === null ? 'is.null' : `eq.${encodeURIComponent(String(v))}`}`).join('&');
    }
    if (wantBody) headers['Content-Type'] = neg.ct;
    return { status, headers, body: wantBody ? row.body : null };
  }

  function whereOf(url, rel, params) {
    const filters = parseFilters(url.searchParams);
    const bind = bindFactory(params);
    return { filters, where: filters.length ? ` WHERE ${filters.map((f) => filterSql(f, rel, bind)).join(' AND ')}` : '' };
  }

  async function updateTable(t, url, req, bodyText, auth) {
    checkProfile(req, true);
    requireWrite(auth, 'table', t.name);
    const neg = negotiate(req);
    const prefs = prefsOf(req);
    const select = parseSelect(url.searchParams.get('select'));
    const columnsParam = parseColumns(url.searchParams.get('columns'));
    const pl = payloadOf(bodyText, columnsParam, true);
    checkColumns(t, pl.cols);
    const rel = qualified(o.schema, t.name);
    const params = [pl.text];
    const { filters, where } = whereOf(url, rel, params);
    const wantBody = prefs.return === 'representation';
    const allCols = [...t.columns.keys()];
    let inner;
    if (!pl.cols.length) {
      inner = `SELECT ${allCols.map((c) => `${rel}.${ident(c)}`).join(', ')} FROM ${rel} WHERE false`;
    } else {
      if (o.safeupdate && !filters.length) {
        throw new HttpError(400, pgrstBody('21000', 'UPDATE requires a WHERE clause'));
      }
      inner = `UPDATE ${rel} SET ${pl.cols.map((c) => `${ident(c)} = pgrst_body.${ident(c)}`).join(', ')} ` +
        `${jsonBodyFrom(t, pl.cols, pl.isObject, prefs.missing === 'default', !pl.isObject)}${where} RETURNING ${rel}.*`;
    }
    const bodyExpr = wantBody
      ? `(SELECT ${aggBody(neg)} FROM (SELECT ${selectSql(select, 'pgrst_source', allCols)} FROM pgrst_source) _postgrest_t)`
      : 'NULL::text';
    const full = `WITH pgrst_source AS (${inner}) SELECT pg_catalog.count(*)::bigint AS page_total, ${bodyExpr} AS body FROM pgrst_source`;
    const row = await withTx(auth, req, {}, async (c) => {
      const r = (await c.query(full, params)).rows[0];
      const n = Number(r.page_total);
      if (prefs.handling === 'strict' && prefs.maxAffected !== undefined && n > prefs.maxAffected) {
        throw pgrst(400, 'PGRST124', 'Query result exceeds max-affected preference constraint', `The query affects ${n} rows`);
      }
      singularCheck(neg, n);
      return r;
    });
    const n = Number(row.page_total);
    countRows('updated', t.name, n);
    const headers = { 'Content-Range': `${n > 0 ? `0-${n - 1}` : '*'}/${prefs.count ? n : '*'}` };
    const pa = preferenceApplied(prefs, ['missing', 'return', 'count', 'handling', 'maxAffected']);
    if (pa) headers['Preference-Applied'] = pa;
    if (wantBody) headers['Content-Type'] = neg.ct;
    return { status: wantBody ? 200 : 204, headers, body: wantBody ? row.body : null };
  }

  async function deleteTable(t, url, req, auth) {
    checkProfile(req, true);
    requireWrite(auth, 'table', t.name);
    const neg = negotiate(req);
    const prefs = prefsOf(req);
    const select = parseSelect(url.searchParams.get('select'));
    const rel = qualified(o.schema, t.name);
    const params = [];
    const { filters, where } = whereOf(url, rel, params);
    if (o.safeupdate && !filters.length) {
      throw new HttpError(400, pgrstBody('21000', 'DELETE requires a WHERE clause'));
    }
    const wantBody = prefs.return === 'representation';
    const allCols = [...t.columns.keys()];
    const bodyExpr = wantBody
      ? `(SELECT ${aggBody(neg)} FROM (SELECT ${selectSql(select, 'pgrst_source', allCols)} FROM pgrst_source) _postgrest_t)`
      : 'NULL::text';
    const full = `WITH pgrst_source AS (DELETE FROM ${rel}${where} RETURNING ${rel}.*) ` +
      `SELECT pg_catalog.count(*)::bigint AS page_total, ${bodyExpr} AS body FROM pgrst_source`;
    const row = await withTx(auth, req, {}, async (c) => {
      const r = (await c.query(full, params)).rows[0];
      const n = Number(r.page_total);
      if (prefs.handling === 'strict' && prefs.maxAffected !== undefined && n > prefs.maxAffected) {
        throw pgrst(400, 'PGRST124', 'Query result exceeds max-affected preference constraint', `The query affects ${n} rows`);
      }
      singularCheck(neg, n);
      return r;
    });
    const n = Number(row.page_total);
    countRows('deleted', t.name, n);
    const headers = { 'Content-Range': `*/${prefs.count ? n : '*'}` };
    const pa = preferenceApplied(prefs, ['return', 'count', 'handling', 'maxAffected']);
    if (pa) headers['Preference-Applied'] = pa;
    if (wantBody) headers['Content-Type'] = neg.ct;
    return { status: wantBody ? 200 : 204, headers, body: wantBody ? row.body : null };
  }

  // ------------------------------------------------------------------ RPC
  function noRpc(name, keys, fns) {
    const sorted = [...keys].sort();
    const prms = sorted.length ? `(${sorted.join(', ')})` : ' without parameters';
    const det = sorted.length ? ` with parameter${sorted.length > 1 ? 's' : ''} ${sorted.join(', ')}` : ' without parameters';
    let hint = null;
    if (fns && fns.length) {
      const named = fns.find((f) => f.params.every((p) => p.name)) || fns[0];
      hint = `Perhaps you meant to call the function ${o.schema}.${name}(${named.params.map((p) => p.name).filter(Boolean).sort().join(', ')})`;
    } else {
      const m = bestMatch(name, cache.functions.keys());
      if (m) hint = `Perhaps you meant to call the function ${o.schema}.${m}`;
    }
    return pgrst(404, 'PGRST202', `Could not find the function ${o.schema}.${name}${prms} in the schema cache`,
      `Searched for the function ${o.schema}.${name}${det} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
      hint);
  }

  async function rpc(name, url, req, bodyText, auth) {
    const method = req.method;
    if (!['GET', 'HEAD', 'POST'].includes(method)) {
      throw pgrst(405, 'PGRST101', `Cannot use the ${method} method on RPC`);
    }
    checkProfile(req, method === 'POST');
    const neg = negotiate(req);
    const prefs = prefsOf(req);
    const fns = cache.functions.get(name) || [];
    let args;
    let rawArg = null;
    if (method === 'POST') {
      if (bodyText.trim() === '') args = {};
      else {
        try { args = JSON.parse(bodyText); } catch { throw pgrst(400, 'PGRST102', 'Empty or invalid json'); }
      }
    } else {
      // query parameters naming a function parameter are arguments; the others are filters
      const paramNames = new Set(fns.flatMap((f) => f.params.map((p) => p.name)));
      args = {};
      for (const [k, v] of url.searchParams) if (!RESERVED_PARAMS.has(k) && paramNames.has(k)) args[k] = v;
    }
    const isObj = args && typeof args === 'object' && !Array.isArray(args);
    const keys = isObj ? Object.keys(args) : [];
    const jsonish = (tp) => tp === 'json' || tp === 'jsonb';
    let fn = null;
    let mode = null;
    if (isObj) {
      const named = fns.filter((f) => f.params.every((p) => p.name)
        && keys.every((k) => f.params.some((p) => p.name === k))
        && f.params.slice(0, f.required).every((p) => keys.includes(p.name)));
      if (named.length > 1) {
        throw pgrst(300, 'PGRST203', `Could not choose the best candidate function between: ${named.map((f) => `${o.schema}.${name}(${f.params.map((p) => `${p.name} => ${p.type}`).join(', ')})`).join(', ')}`,
          null, 'Try renaming the parameters or the function itself in the database so function overloading can be resolved');
      }
      if (named.length === 1) { fn = named[0]; mode = 'named'; }
    }
    if (!fn && method === 'POST' && prefs.params === 'single-object') {
      const single = fns.filter((f) => f.params.length === 1 && jsonish(f.params[0].type));
      if (single.length) { fn = single[0]; mode = 'single'; }
    }
    if (!fn && method === 'POST') {
      const unnamed = fns.filter((f) => f.params.length === 1 && !f.params[0].name && jsonish(f.params[0].type));
      if (unnamed.length) { fn = unnamed[0]; mode = 'single'; }
    }
    if (!fn) throw noRpc(name, keys, fns);
    if (fn.volatility === 'v') requireWrite(auth, 'function', name);
    if (mode === 'single') rawArg = bodyText.trim() === '' ? '{}' : bodyText;

    const fq = qualified(o.schema, name);
    const params = [];
    let from;
    let call;
    if (mode === 'single') {
      params.push(rawArg);
      call = `${fq}(pgrst_body.pgrst_arg)`;
      from = `FROM (SELECT $1::${fn.params[0].type} AS pgrst_arg) pgrst_body, `;
    } else if (keys.length) {
      // POST: the raw body goes to json_to_record unchanged (as in PostgREST); GET: the query args
      params.push(method === 'POST' ? bodyText : JSON.stringify(args));
      const typed = keys.map((k) => `${ident(k)} ${fn.params.find((p) => p.name === k).type}`).join(', ');
      call = `${fq}(${keys.map((k) => `${fn.params.find((p) => p.name === k).variadic ? 'VARIADIC ' : ''}${ident(k)} := pgrst_body.${ident(k)}`).join(', ')})`;
      from = `FROM json_to_record($1::json) AS pgrst_body(${typed}), `;
    } else {
      call = `${fq}()`;
      from = 'FROM ';
    }
    const scalar = !fn.returnsComposite;
    const source = scalar ? `${from}LATERAL (SELECT ${call} AS pgrst_scalar) pgrst_call` : `${from}LATERAL ${call} pgrst_call`;
    const bind = bindFactory(params);
    const filters = fn.retset && !scalar ? parseFilters(new URLSearchParams([...url.searchParams].filter(([k]) => !(method !== 'POST' && keys.includes(k))))) : [];
    const where = filters.length ? ` WHERE ${filters.map((f) => filterSql(f, 'pgrst_call', bind)).join(' AND ')}` : '';
    const order = fn.retset && !scalar ? orderSql(parseOrder(url.searchParams.get('order')), 'pgrst_call') : '';
    const range = fn.retset ? parseRange(req.headers.range, url.searchParams.get('limit'), url.searchParams.get('offset'), o.maxRows)
      : { offset: 0, limit: null };
    let lim = '';
    if (range.limit !== null) lim += ` LIMIT ${range.limit}`;
    if (range.offset) lim += ` OFFSET ${range.offset}`;
    const select = scalar ? null : parseSelect(url.searchParams.get('select'));
    const proj = scalar ? 'pgrst_call.pgrst_scalar' : (select ? selectSql(select, 'pgrst_call', null) : 'pgrst_call.*');
    let agg;
    if (scalar) {
      const a = fn.retset ? 'json_agg(_postgrest_t.pgrst_scalar)' : 'json_agg(_postgrest_t.pgrst_scalar)->0';
      agg = `coalesce(${a}, '${fn.retset ? '[]' : 'null'}')::text`;
    } else {
      agg = aggBody(fn.retset ? neg : { ...neg, single: true });
    }
    const sql = `WITH pgrst_source AS (SELECT ${proj} ${source}${where}${order}${lim}) ` +
      `SELECT pg_catalog.count(_postgrest_t) AS page_total, ${agg} AS body FROM (SELECT * FROM pgrst_source) _postgrest_t`;
    bump(stats.rpc_calls, name);
    const row = await withTx(auth, req, { readOnly: method !== 'POST' }, async (c) => {
      const r = (await c.query(sql, params)).rows[0];
      if (fn.retset) singularCheck(neg, Number(r.page_total));
      return r;
    });
    if (fn.returnsVoid) return { status: 204, headers: {}, body: null };
    const pageTotal = Number(row.page_total);
    const rs = rangeStatus(range.offset, pageTotal, null);
    const headers = { 'Content-Type': neg.single && fn.retset ? neg.ct : JSON_CT, 'Content-Range': rs.contentRange };
    const pa = preferenceApplied(prefs, ['count', 'handling']);
    if (pa) headers['Preference-Applied'] = pa;
    return { status: 200, headers, body: method === 'HEAD' ? null : row.body };
  }

  // ------------------------------------------------------------------ routing
  async function route(req, url, bodyText, auth, rec) {
    let p = url.pathname;
    if (p.startsWith('/rest/v1')) p = p.slice('/rest/v1'.length);
    if (p === '' || p === '/') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw pgrst(405, 'PGRST117', `Unsupported HTTP method: ${req.method}`);
      const paths = {};
      for (const n of [...cache.tables.keys()].sort()) paths[`/${n}`] = {};
      for (const n of [...cache.functions.keys()].sort()) paths[`/rpc/${n}`] = {};
      return { status: 200, headers: { 'Content-Type': 'application/openapi+json; charset=utf-8' },
        body: JSON.stringify({ swagger: '2.0', info: { title: 'fake-postgrest', version: '13' }, basePath: '/', paths }) };
    }
    if (p.startsWith('/rpc/')) {
      const name = decodeURIComponent(p.slice(5));
      rec.route = `${req.method} /rest/v1/rpc/${name}`;
      return rpc(name, url, req, bodyText, auth);
    }
    const name = decodeURIComponent(p.slice(1));
    if (name.includes('/')) throw pgrst(404, 'PGRST125', 'Invalid path specified in request URL');
    rec.route = `${req.method} /rest/v1/${name}`;
    const t = cache.tables.get(name);
    if (!t) throw tableNotFound(name);
    switch (req.method) {
      case 'GET': return readTable(t, url, req, auth, false);
      case 'HEAD': return readTable(t, url, req, auth, true);
      case 'POST': return insertTable(t, url, req, bodyText, auth);
      case 'PATCH': return updateTable(t, url, req, bodyText, auth);
      case 'DELETE': return deleteTable(t, url, req, auth);
      case 'OPTIONS':
        return { status: 200, headers: { Allow: 'OPTIONS,GET,HEAD,POST,PATCH,DELETE', 'Access-Control-Allow-Origin': '*' }, body: null };
      default:
        throw pgrst(405, 'PGRST117', `Unsupported HTTP method: ${req.method}`);
    }
  }

  // ------------------------------------------------------------------ control plane
  async function control(req, res, url, rec) {
    const body = await readBodyUnlimited(req);
    const json = (status, obj) => send(res, rec, status, { 'Content-Type': JSON_CT }, JSON.stringify(obj));
    const p = url.pathname;
    try {
      if (p === '/_fake/health' && req.method === 'GET') return json(200, { ok: true, schema_loaded_at: cache.loadedAt });
      if (p === '/_fake/stats' && req.method === 'GET') return json(200, { ...stats, faults_fired: { ...faults.fired } });
      if (p === '/_fake/reset-stats' && req.method === 'POST') { stats = newStats(); faults.fired = {}; return json(200, { ok: true }); }
      if (p === '/_fake/reload-schema' && req.method === 'POST') return json(200, { ok: true, ...(await reloadSchema()) });
      if (p === '/_fake/keys' && req.method === 'GET') return json(200, { anon_key: anonKey, service_key: serviceKey });
      if (p === '/_fake/faults') {
        if (req.method === 'GET') return json(200, faults.list());
        if (req.method === 'DELETE') { faults.clear(); return json(200, { ok: true }); }
        if (req.method === 'POST') {
          let input;
          try { input = JSON.parse(body); } catch { return json(400, { error: 'body must be JSON' }); }
          try { return json(201, { ok: true, ids: faults.add(input) }); } catch (e) { return json(400, { error: e.message }); }
        }
      }
      return json(404, { error: `unknown control endpoint ${req.method} ${p}` });
    } catch (e) {
      return json(500, { error: e.message });
    }
  }

  function readBodyUnlimited(req) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  async function onRequest(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const rec = { method: req.method, route: `${req.method} ${url.pathname}` };
    try {
      if (url.pathname.startsWith('/_fake/')) return await control(req, res, url, rec);
      const fault = faults.take(req.method, url.pathname + url.search);
      if (fault) {
        if (fault.kind === 'reset') {
          stats.requests++;
          bump(stats.by_status, 'reset');
          req.socket.destroy();
          return undefined;
        }
        if (fault.kind === 'slow') {
          await sleep(fault.ms);
        } else {
          await drain(req);
          if (fault.kind === 'non-json') {
            return send(res, rec, fault.status, { 'Content-Type': 'text/html' }, HTML_ERROR_PAGE(fault.status));
          }
          const headers = { 'Content-Type': JSON_CT, ...(fault.headers || {}) };
          if (fault.retryAfter !== undefined) headers['Retry-After'] = fault.retryAfter;
          const b = fault.body === undefined ? defaultFaultBody(fault.status) : fault.body;
          return send(res, rec, fault.status, headers, typeof b === 'string' ? b : JSON.stringify(b));
        }
      }
      const bodyText = await readBody(req);
      const auth = authenticate(req, url);
      const out = await route(req, url, bodyText, auth, rec);
      return send(res, rec, out.status, out.headers, out.body);
    } catch (e) {
      const he = e instanceof HttpError ? e : fromDbError(e, false, o);
      if (he.status >= 500 && !(he.body && he.body.code)) log('internal error:', e && e.stack);
      if (!res.headersSent) sendError(res, rec, he);
      return undefined;
    }
  }

  const server = http.createServer((req, res) => { onRequest(req, res); });
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;
  server.requestTimeout = 0;
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, resolve);
  });
  const port = server.address().port;
  const url = `http://${o.host}:${port}`;

  async function close() {
    await new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    if (listener) { try { await listener.end(); } catch { /* ignore */ } }
    await pool.end();
  }

  return {
    url, port, anonKey, serviceKey, jwtSecret: o.jwtSecret, schema: o.schema, options: o,
    close, reloadSchema, faults,
    stats: () => ({ ...stats, faults_fired: { ...faults.fired } }),
  };
}
