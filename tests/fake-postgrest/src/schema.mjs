// Schema cache: tables/views/columns/primary keys and functions of the exposed schema, read from
// pg_catalog once and on demand (POST /_fake/reload-schema, or NOTIFY pgrst, 'reload schema').

const TABLES_SQL = `
SELECT c.relname AS table, c.relkind AS kind, a.attname AS column, a.attnum AS position,
       format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr, a.attgenerated <> '' AS generated
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
ORDER BY c.relname, a.attnum`;

const PKEYS_SQL = `
SELECT c.relname AS table, array_agg(a.attname::text ORDER BY k.ord) AS columns
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE n.nspname = $1 AND con.contype = 'p'
GROUP BY c.relname`;

const FUNCS_SQL = `
SELECT p.oid::bigint AS oid, p.proname AS name, p.pronargs AS nargs, p.pronargdefaults AS ndefaults,
       p.proargnames AS argnames, p.proargmodes::text[] AS argmodes,
       ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, o) ORDER BY o) AS intypes,
       p.proretset AS retset, format_type(p.prorettype, NULL) AS rettype, rt.typtype AS rettyptype,
       p.prorettype = 'record'::regtype AS returns_record, p.provolatile AS volatility,
       p.provariadic <> 0 AS variadic
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_type rt ON rt.oid = p.prorettype
WHERE n.nspname = $1 AND p.prokind = 'f'`;

export async function loadSchema(pool, schema) {
  const [cols, pks, funcs] = await Promise.all([
    pool.query(TABLES_SQL, [schema]),
    pool.query(PKEYS_SQL, [schema]),
    pool.query(FUNCS_SQL, [schema]),
  ]);
  const tables = new Map();
  for (const r of cols.rows) {
    let t = tables.get(r.table);
    if (!t) {
      t = { name: r.table, kind: r.kind, columns: new Map(), pk: [] };
      tables.set(r.table, t);
    }
    t.columns.set(r.column, {
      name: r.column, type: r.type, notNull: r.not_null, default: r.default_expr, generated: r.generated,
      position: r.position,
    });
  }
  for (const r of pks.rows) {
    const t = tables.get(r.table);
    if (t) t.pk = r.columns;
  }
  const functions = new Map();
  for (const r of funcs.rows) {
    const params = [];
    const modes = r.argmodes || null;
    const names = r.argnames || [];
    let inIdx = 0;
    const total = modes ? modes.length : r.nargs;
    for (let i = 0; i < total; i++) {
      const mode = modes ? modes[i] : 'i';
      if (mode === 'i' || mode === 'b' || mode === 'v') {
        params.push({ name: names[i] || '', type: r.intypes[inIdx], variadic: mode === 'v' });
        inIdx++;
      }
    }
    const fn = {
      oid: Number(r.oid),
      name: r.name,
      params,
      required: params.length - r.ndefaults,
      retset: r.retset,
      rettype: r.rettype,
      returnsVoid: r.rettype === 'void',
      // composite: a table/row type, or record (RETURNS TABLE, OUT parameters, bare record)
      returnsComposite: r.rettyptype === 'c' || r.returns_record,
      volatility: r.volatility, // 'i' immutable, 's' stable, 'v' volatile
    };
    if (!functions.has(r.name)) functions.set(r.name, []);
    functions.get(r.name).push(fn);
  }
  return { schema, tables, functions, loadedAt: new Date().toISOString() };
}
