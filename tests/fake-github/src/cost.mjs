// Static GraphQL analysis with GitHub's published rules
// (https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api):
//
//  * every connection that selects nodes/edges must supply `first` or `last`, each within 1..100
//    (0 is accepted, as GitHub does). A connection selecting only totalCount/pageInfo may omit both.
//  * nodeCount: sum over connections of (product of the page sizes of all enclosing connections) x own page size;
//    at most 500,000.
//  * point cost: sum over connections of the number of requests needed to fulfil it, i.e. the product
//    of the page sizes of the enclosing connections (1 for a top-level connection); divide by 100,
//    round to the nearest integer, minimum 1. (Doc example: 1 + 100 + 100*50 = 5101 requests -> 51 points.)
import { getNamedType, isCompositeType, Kind, typeFromAST } from 'graphql';

export const MAX_PAGE = 100;
export const MAX_NODES = 500_000;

const PAGINATION_FREE = new Set(['totalCount', 'pageInfo', '__typename']);

function valueOf(node, variables) {
  if (!node) return undefined;
  switch (node.kind) {
    case Kind.VARIABLE: return variables[node.name.value];
    case Kind.INT: return parseInt(node.value, 10);
    case Kind.FLOAT: return parseFloat(node.value);
    case Kind.BOOLEAN: return node.value;
    case Kind.NULL: return null;
    case Kind.STRING: case Kind.ENUM: return node.value;
    default: return undefined;
  }
}

function isConnectionField(def) {
  const t = getNamedType(def.type);
  return /Connection$/.test(t.name) && def.args.some((a) => a.name === 'first' || a.name === 'last');
}

function skipped(node, variables) {
  for (const d of node.directives || []) {
    const arg = d.arguments?.find((a) => a.name.value === 'if');
    const v = valueOf(arg?.value, variables);
    if (d.name.value === 'skip' && v === true) return true;
    if (d.name.value === 'include' && v === false) return true;
  }
  return false;
}

/** Does the selection set ask for more than totalCount/pageInfo? */
function needsBoundaries(selSet, fragments, seen = new Set()) {
  if (!selSet) return false;
  for (const s of selSet.selections) {
    if (s.kind === Kind.FIELD) { if (!PAGINATION_FREE.has(s.name.value)) return true; }
    else if (s.kind === Kind.INLINE_FRAGMENT) { if (needsBoundaries(s.selectionSet, fragments, seen)) return true; }
    else if (s.kind === Kind.FRAGMENT_SPREAD) {
      const n = s.name.value;
      if (seen.has(n)) continue;
      seen.add(n);
      if (needsBoundaries(fragments[n]?.selectionSet, fragments, seen)) return true;
    }
  }
  return false;
}

/** Coerce variables with declared defaults (raw JSON values are fine for the ints we need). */
export function effectiveVariables(op, variables) {
  const out = { ...(variables || {}) };
  for (const vd of op.variableDefinitions || []) {
    const name = vd.variable.name.value;
    if (out[name] === undefined && vd.defaultValue) out[name] = valueOf(vd.defaultValue, {});
  }
  return out;
}

/**
 * Analyse an already-validated operation.
 * @returns {{requests:number, cost:number, nodeCount:number, errors:object[], dryRun:boolean, hasRateLimit:boolean, connections:number}}
 */
export function analyze(schema, doc, operationName, variables, opts = {}) {
  const fragments = {};
  const ops = [];
  for (const d of doc.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
    else if (d.kind === Kind.OPERATION_DEFINITION) ops.push(d);
  }
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops[0];
  const res = { requests: 0, nodeCount: 0, cost: 1, errors: [], dryRun: false, hasRateLimit: false, connections: 0, operation: op };
  if (!op) return res;
  const vars = effectiveVariables(op, variables);
  const root = op.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();

  const walk = (selSet, parentType, mult, path, depth, stack) => {
    if (!selSet || depth > 60) return;
    for (const sel of selSet.selections) {
      if (skipped(sel, vars)) continue;
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? typeFromAST(schema, sel.typeCondition) : parentType;
        walk(sel.selectionSet, t || parentType, mult, path, depth + 1, stack);
        continue;
      }
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const f = fragments[sel.name.value];
        if (!f || stack.includes(f.name.value)) continue;
        const t = typeFromAST(schema, f.typeCondition) || parentType;
        walk(f.selectionSet, t, mult, path, depth + 1, [...stack, f.name.value]);
        continue;
      }
      const name = sel.name.value;
      if (name.startsWith('__')) continue;
      const fields = typeof parentType?.getFields === 'function' ? parentType.getFields() : {}; // unions have none
      const def = fields[name];
      if (!def) continue;
      const key = sel.alias ? sel.alias.value : name;
      const p = [...path, key];
      if (parentType === root && name === 'rateLimit') {
        res.hasRateLimit = true;
        const dr = sel.arguments?.find((a) => a.name.value === 'dryRun');
        if (valueOf(dr?.value, vars) === true) res.dryRun = true;
      }
      const type = getNamedType(def.type);
      if (isConnectionField(def)) {
        res.connections++;
        res.requests += mult;
        const argv = (n) => {
          const node = sel.arguments?.find((a) => a.name.value === n)?.value;
          const v = valueOf(node, vars);
          // static mode (validate-query.mjs): an unbound variable counts as "given", sized at the maximum
          if (v === undefined && opts.assumeVariables && node?.kind === Kind.VARIABLE) return MAX_PAGE;
          return v;
        };
        const first = argv('first'), last = argv('last');
        const loc = [{ line: sel.loc?.startToken.line, column: sel.loc?.startToken.column }];
        let size = 0;
        for (const [argName, v] of [['first', first], ['last', last]]) {
          if (v === undefined || v === null) continue;
          if (typeof v !== 'number' || !Number.isInteger(v)) continue; // type errors are reported by validation
          if (v > MAX_PAGE) {
            res.errors.push({ type: 'EXCESSIVE_PAGINATION', path: p, locations: loc, message: `Requesting ${v} records on the \`${name}\` connection exceeds the \`${argName}\` limit of ${MAX_PAGE} records.` });
          } else if (v < 0) {
            res.errors.push({ type: 'INVALID_PAGINATION', path: p, locations: loc, message: `\`${argName}\` on the \`${name}\` connection cannot be less than zero.` });
          }
          size = Math.max(size, Math.min(Math.max(v, 0), MAX_PAGE));
        }
        const noBounds = (first === undefined || first === null) && (last === undefined || last === null);
        if (noBounds && needsBoundaries(sel.selectionSet, fragments)) {
          res.errors.push({ type: 'MISSING_PAGINATION_BOUNDARIES', path: p, locations: loc, message: `You must provide a \`first\` or \`last\` value to properly paginate the \`${name}\` connection.` });
        }
        res.nodeCount += mult * size;
        walk(sel.selectionSet, type, mult * size, p, depth + 1, stack);
      } else if (isCompositeType(type)) {
        walk(sel.selectionSet, type, mult, p, depth + 1, stack);
      }
    }
  };
  walk(op.selectionSet, root, 1, [], 0, []);
  res.cost = Math.max(1, Math.round(res.requests / 100));
  if (res.nodeCount > MAX_NODES) {
    res.errors.push({ type: 'MAX_NODE_LIMIT_EXCEEDED', message: `This query requests up to ${res.nodeCount.toLocaleString('en-US')} possible nodes which exceeds the maximum limit of ${MAX_NODES.toLocaleString('en-US')}.` });
  }
  return res;
}
