#!/usr/bin/env bash
# Installs the SDK from a progcap build tree into a temporary prefix, builds
# sdk/examples/hello-source against it out of tree, runs its unit test, then
# loads it into the host and runs a pipeline through it.
#   out-of-tree.sh BUILD_DIR SOURCE_DIR PROGCAP
set -euo pipefail
build=$1 src=$2 progcap=$3
work=$(mktemp -d -t progcap-sdk.XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --component sdk --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/lib/cmake/progcap-sdk/progcap-sdkConfig.cmake"
cmake -S "$src/sdk/examples/hello-source" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null
cmake --build "$work/build" >/dev/null
ctest --test-dir "$work/build" --output-on-failure >/dev/null
nm -D --defined-only "$work/build/libprogcap-source-hello.so" | awk '{print $3}' | sort > "$work/exports"
printf 'progcap_plugin_abi_version\nprogcap_plugin_entry\n' | diff - "$work/exports"
export PROGCAP_PLUGIN_PATH="$work/build"
"$progcap" plugins list | grep -E '^source-hello +1\.0\.0 +1\.0 +loaded +source hello'
cat > "$work/p.yaml" <<YAML
name: hello-demo
steps:
  - name: greet
    source: {type: hello, options: {name: sdk, count: 4}}
    sinks: [{type: ndjson, options: {directory: "$work/out"}}]
YAML
"$progcap" run "$work/p.yaml" --state-dir "$work/state" --no-progress
test "$(wc -l < "$work/out/greetings.ndjson")" -eq 4
grep -q '"message":"hello, sdk #3"' "$work/out/greetings.ndjson"
echo "out-of-tree plugin OK"
