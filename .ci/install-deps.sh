#!/usr/bin/env bash
# Installs everything progcap needs to build and test on Debian 12, then the
# Node packages of the test tools and fake servers. Idempotent; ~30 s on a
# fresh machine, ~2 s when everything is present. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
pkgs=(cmake ninja-build g++ pkg-config ccache git
      libboost-dev libboost-filesystem-dev libboost-program-options-dev
      libcpprest-dev libpqxx-dev libspdlog-dev libyaml-cpp-dev nlohmann-json3-dev libssl-dev
      libgtest-dev libgmock-dev postgresql postgresql-contrib)
# Node.js 20 is preinstalled on the target machines (nodesource build with
# npm); fall back to Debian's packages only when it is missing.
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for dir in tests/tools tests/fake-github tests/fake-postgrest; do
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done
echo "dependencies ready"
