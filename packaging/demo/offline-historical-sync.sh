#!/usr/bin/env bash
# The main job, offline: starts the bundled fake GitHub (a deterministic
# dataset served over GitHub's REST and GraphQL protocols), runs the
# historical-pr-sync pipeline against it, and writes NDJSON under ./out.
#   packaging/demo/offline-historical-sync.sh [REPOSITORY] [PROGCAP]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
repo=${1:-acme/widgets}
progcap=${2:-$root/build/dev/progcap}
work=$(mktemp -d -t progcap-demo.XXXXXX)
if [ ! -d "$root/tests/fake-github/node_modules" ]; then (cd "$root/tests/fake-github" && npm ci --no-audit --no-fund --loglevel=error); fi
# A throwaway credential for this run only: the fake accepts exactly this token.
token="offline-demo-$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"
(exec node "$root/tests/fake-github/bin/fake-github.mjs" --port 0 --quiet --token "$token" --ready-file "$work/ready.json") </dev/null >"$work/fake.log" 2>&1 &
fake=$!
trap 'kill $fake 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 200); do [ -s "$work/ready.json" ] && break; sleep 0.05; done
url=$(node -pe 'JSON.parse(require("fs").readFileSync(process.argv[1])).url' "$work/ready.json")
echo "fake GitHub at $url; capturing $repo"
GITHUB_API_URL=$url GITHUB_TOKEN=$token \
  "$progcap" run historical-pr-sync --set "repository_name=$repo" --set time_range=0 --set target=ndjson \
  --state-dir "$work/state" --report "${PROGCAP_OUT_DIR:-out}/historical-pr-sync/report.json"
echo
wc -l "${PROGCAP_OUT_DIR:-out}"/historical-pr-sync/*.ndjson
