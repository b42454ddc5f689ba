#!/usr/bin/env node
// Validate GraphQL documents against GitHub's published schema (@octokit/graphql-schema, built with
// buildClientSchema(schema.json)) plus GitHub's own rules (first/last required and <= 100, 500,000 nodes).
//
//   node tests/fake-github/validate-query.mjs [--variables JSON] [--cost] file1.graphql [file2.graphql ...|-]
//
// Prints "<file>: valid" or "<file>: INVALID" followed by one indented line per error; exits 1 if any
// document is invalid, 2 on usage errors. "-" reads a document from stdin. With --cost, also prints
// the point cost and node count a valid document would be charged (unbound variables count as 100).
import { readFileSync } from 'node:fs';
import { GraphQLService } from './src/graphql.mjs';

const args = process.argv.slice(2);
let variables = {};
let showCost = false;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--variables') { variables = JSON.parse(args[++i] || '{}'); continue; }
  if (args[i] === '--cost') { showCost = true; continue; }
  if (args[i] === '--help' || args[i] === '-h') { console.log('usage: validate-query.mjs [--variables JSON] [--cost] file.graphql ... | -'); process.exit(0); }
  files.push(args[i]);
}
if (!files.length) { console.error('usage: validate-query.mjs [--variables JSON] [--cost] file.graphql ... | -'); process.exit(2); }

const svc = new GraphQLService({ ds: null, limiter: null, cfg: {} });
let bad = 0;
for (const f of files) {
  let text;
  try { text = readFileSync(f === '-' ? 0 : f, 'utf8'); } catch (e) {
    console.log(`${f}: INVALID`);
    console.log(`  - cannot read file: ${e.message}`);
    bad++;
    continue;
  }
  // every operation in the document is checked
  const opNames = [...text.matchAll(/\b(query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/g)].map((m) => m[2]);
  const targets = opNames.length > 1 ? opNames : [undefined];
  const errors = [];
  const costs = [];
  for (const op of targets) {
    const r = svc.check(text, variables, op, { assumeVariables: true });
    if (r.errors) { for (const e of r.errors) if (!errors.some((x) => x.message === e.message)) errors.push(e); if (r.stage === 'validation') break; }
    else costs.push({ op, cost: r.analysis.cost, nodeCount: r.analysis.nodeCount, requests: r.analysis.requests });
  }
  const name = f === '-' ? '<stdin>' : f;
  if (errors.length) {
    bad++;
    console.log(`${name}: INVALID`);
    for (const e of errors) {
      const loc = e.locations?.[0] ? ` (line ${e.locations[0].line}, column ${e.locations[0].column})` : '';
      const code = e.extensions?.code || e.type;
      console.log(`  - ${e.message}${loc}${code ? ` [${code}]` : ''}`);
    }
  } else {
    console.log(`${name}: valid`);
    if (showCost) for (const c of costs) console.log(`  cost ${c.cost} (requests ${c.requests}, nodes ${c.nodeCount})${c.op ? ` for ${c.op}` : ''}`);
  }
}
process.exit(bad ? 1 : 0);
