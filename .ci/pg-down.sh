#!/usr/bin/env bash
# Stops and deletes the server started by pg-up.sh (uses PGTMP/PGBIN).
set -u
[ -n "${PGTMP:-}" ] && [ -d "$PGTMP/data" ] || exit 0
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); else AS=(); fi
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w -t 30 stop </dev/null >/dev/null 2>&1 || true
rm -rf "$PGTMP"
