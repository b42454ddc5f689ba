#!/usr/bin/env bash
# Regenerates the committed generated files from a build's progcap.
#   tests/tools/update-generated.sh [build/dev/progcap]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
progcap=${1:-$src/build/dev/progcap}
unset PROGCAP_PLUGIN_PATH
"$progcap" pipelines schema > "$src/pipelines/schema/pipeline.schema.json"
doc="$src/docs/pipeline-reference.md"
begin='<!-- BEGIN GENERATED: progcap plugins docs -->'
end='<!-- END GENERATED -->'
tmp=$(mktemp)
gen=$(mktemp)
"$progcap" plugins docs > "$gen"
# getline from a file: awk -v would interpret backslash escapes in the text.
awk -v b="$begin" -v e="$end" -v genfile="$gen" '
  $0==b {print; while ((getline line < genfile) > 0) print line; skip=1; next}
  $0==e {skip=0}
  !skip {print}' "$doc" > "$tmp"
mv "$tmp" "$doc"
rm -f "$gen"
echo "updated pipelines/schema/pipeline.schema.json and docs/pipeline-reference.md"
