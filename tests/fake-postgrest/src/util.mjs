// Small helpers: SQL identifier quoting, PostgreSQL array literals, DSN parsing.

/** Quote an identifier like PostgREST's escapeIdent (NUL and everything after it is dropped). */
export function ident(name) {
  const s = String(name);
  const cut = s.indexOf('\u0000');
  return '"' + (cut >= 0 ? s.slice(0, cut) : s).replace(/"/g, '""') + '"';
}

export const qualified = (schema, name) => `${ident(schema)}.${ident(name)}`;

/** PostgreSQL array literal for `= ANY($n)` with values passed as one parameter (pgBuildArrayLiteral). */
export function arrayLiteral(values) {
  return '{' + values.map((v) => {
    let s = String(v);
    const cut = s.indexOf('\u0000');
    if (cut >= 0) s = s.slice(0, cut);
    return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  }).join(',') + '}';
}

/** Accept a postgres:// URL or a libpq "key=value ..." string; return a node-postgres config. */
export function parseDsn(dsn) {
  if (!dsn) throw new Error('no database DSN given (--db)');
  if (/^postgres(ql)?:\/\//.test(dsn)) return { connectionString: dsn };
  const cfg = {};
  const re = /(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/g;
  let m;
  while ((m = re.exec(dsn))) {
    let v = m[2];
    if (v.startsWith("'")) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    const k = m[1];
    if (k === 'host' || k === 'hostaddr') cfg.host = v;
    else if (k === 'port') cfg.port = Number(v);
    else if (k === 'user') cfg.user = v;
    else if (k === 'password') cfg.password = v;
    else if (k === 'dbname') cfg.database = v;
    else if (k === 'sslmode') cfg.ssl = v === 'disable' ? false : { rejectUnauthorized: v === 'verify-full' };
  }
  return cfg;
}

/** Levenshtein-based similarity in [0,1] (PostgREST's fuzzy hints use a threshold of 0.75). */
export function similarity(a, b) {
  a = String(a).toLowerCase();
  b = String(b).toLowerCase();
  if (!a.length && !b.length) return 1;
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return 1 - d[a.length][b.length] / Math.max(a.length, b.length);
}

export function bestMatch(name, candidates, min = 0.75) {
  let best = null;
  let score = min;
  for (const c of candidates) {
    const s = similarity(name, c);
    if (s >= score && c !== name) { best = c; score = s; }
  }
  return best;
}
