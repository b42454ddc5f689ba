#!/usr/bin/env bash
# Fails when a generated, committed file is stale.
#   check-generated.sh PROGCAP SOURCE_DIR
# - pipelines/schema/pipeline.schema.json == `progcap pipelines schema`
# - the generated part of docs/pipeline-reference.md == `progcap plugins docs`
set -euo pipefail
progcap=$1
src=$2
unset PROGCAP_PLUGIN_PATH
status=0
if ! diff -u "$src/pipelines/schema/pipeline.schema.json" <("$progcap" pipelines schema); then
  echo "pipelines/schema/pipeline.schema.json is stale: run \`progcap pipelines schema > pipelines/schema/pipeline.schema.json\`" >&2
  status=1
fi
doc="$src/docs/pipeline-reference.md"
begin='<!-- BEGIN GENERATED: progcap plugins docs -->'
end='<!-- END GENERATED -->'
current=$(awk -v b="$begin" -v e="$end" '$0==b{f=1;next} $0==e{f=0} f' "$doc")
if ! diff -u <(printf '%s\n' "$current") <(printf '%s\n' "$("$progcap" plugins docs)"); then
  echo "docs/pipeline-reference.md is stale: run tests/tools/update-generated.sh" >&2
  status=1
fi
exit $status
