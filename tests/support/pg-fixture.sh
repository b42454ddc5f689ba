#!/usr/bin/env bash
# ctest fixture: `up DIR` starts a throwaway PostgreSQL (.ci/pg-up.sh) on a
# free port and writes DIR/pg.env (PGTEST_DSN=...); `down DIR` stops it.
# With PGTEST_DSN already set, `up` records that server instead.
set -euo pipefail
cmd=$1 dir=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir"
case $cmd in
  up)
    if [ -f "$dir/pg.env" ]; then (set -a; . "$dir/pg.env"; bash "$here/.ci/pg-down.sh") || true; rm -f "$dir/pg.env"; fi
    if [ -n "${PGTEST_DSN:-}" ]; then echo "PGTEST_DSN=$PGTEST_DSN" >"$dir/pg.env"; exit 0; fi
    for attempt in 1 2 3 4 5; do
      port=$((56000 + RANDOM % 1000))
      if out=$(PGPORT=$port bash "$here/.ci/pg-up.sh" 2>&1); then
        eval "$out"
        # A role that must authenticate with SCRAM (the rest of the cluster
        # trusts local connections): tests use it for wrong-password cases.
        hba="$PGTMP/data/pg_hba.conf"
        { echo "host all progcap_pw 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$hba.new" && mv "$hba.new" "$hba"
        chown postgres:postgres "$hba" 2>/dev/null || true
        "$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
          -c "CREATE ROLE progcap_pw LOGIN PASSWORD 'progcap-pw-secret'" -c "SELECT pg_reload_conf()" >/dev/null
        {
          echo "PGTEST_DSN=$PGTEST_DSN"
          echo "PGTMP=$PGTMP"
          echo "PGBIN=$PGBIN"
          echo "PGPORT=$PGPORT"
        } >"$dir/pg.env"
        echo "PostgreSQL up: $PGTEST_DSN ($PGTMP)"
        exit 0
      fi
      echo "attempt $attempt on port $port failed: $out" >&2
    done
    echo "cannot start PostgreSQL (is the postgresql package installed? run .ci/install-deps.sh)" >&2
    exit 1 ;;
  down)
    if [ -f "$dir/pg.env" ]; then
      set -a; . "$dir/pg.env"; set +a
      [ -n "${PGTMP:-}" ] && bash "$here/.ci/pg-down.sh"
      rm -f "$dir/pg.env"
    fi ;;
  *) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
esac
