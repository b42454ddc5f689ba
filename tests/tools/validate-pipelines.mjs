// Validates pipeline YAML files against pipelines/schema/pipeline.schema.json.
//   node validate-pipelines.mjs SCHEMA [--valid FILE...] [--invalid FILE...]
// --valid files must pass, --invalid files must fail; exit 1 otherwise.
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';
import YAML from 'yaml';

const args = process.argv.slice(2);
const schema = JSON.parse(readFileSync(args.shift(), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);
let mode = '--valid';
let failures = 0;
let checked = 0;
for (const a of args) {
  if (a === '--valid' || a === '--invalid') { mode = a; continue; }
  const doc = YAML.parse(readFileSync(a, 'utf8'));
  const ok = validate(doc);
  checked++;
  if (mode === '--valid' && !ok) {
    failures++;
    console.error(`${a}: INVALID but expected valid`);
    for (const e of validate.errors.slice(0, 10)) console.error(`  ${e.instancePath || '/'} ${e.message}`);
  } else if (mode === '--invalid' && ok) {
    failures++;
    console.error(`${a}: valid but expected INVALID`);
  } else {
    console.log(`${a}: ${ok ? 'valid' : 'invalid (as expected)'}`);
  }
}
if (checked === 0) { console.error('no files checked'); process.exit(1); }
process.exit(failures ? 1 : 0);
