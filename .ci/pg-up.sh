#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server (works as root: runs as `postgres`).
# Usage: eval "$(bash .ci/pg-up.sh)"
#   -> exports PGTMP PGBIN PGHOST PGPORT PGUSER PGDATABASE PGTEST_DSN
set -euo pipefail
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
PGPORT=${PGPORT:-55432}
PGTMP=$(mktemp -d -t pgtest.XXXXXX)
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGTMP"; AS=(runuser -u postgres --); else AS=(); fi
"${AS[@]}" "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
  >"$PGTMP/initdb.log" 2>&1 || { cat "$PGTMP/initdb.log" >&2; exit 1; }
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PGTMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start </dev/null >/dev/null 2>&1 || { cat "$PGTMP/server.log" >&2; exit 1; }
echo "export PGTMP='$PGTMP' PGBIN='$PGBIN' PGHOST=127.0.0.1 PGPORT=$PGPORT PGUSER=postgres PGDATABASE=postgres"
echo "export PGTEST_DSN='host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres'"
