#!/usr/bin/env bash
# Staging + merge throughput (the direct PostgreSQL sink's path) against the raw-COPY ceiling.
#
#   bash bench/merge-bench.sh [--prs 100000] [--children 500000] [--batch 10000]
#
# Uses the server named by the usual PG* variables when PGHOST is set (e.g. after
# `eval "$(PGPORT=56300 bash .ci/pg-up.sh)"`), otherwise starts a throwaway one with .ci/pg-up.sh
# and stops it at the end. Creates (and drops) the databases progcap_merge_bench_{ceiling,merge}.
#
# Per table (pull_requests, then reviews and comments on those PRs), each batch in its own
# transaction, in two databases with the same schema and reference data:
#   ceiling    COPY <table> (<resolved columns: UUID FKs>) FROM STDIN into an empty table
#   merge      progcap_stage_prepare + COPY pg_temp.progcap_stage_<table> (natural keys) FROM STDIN
#              + progcap_merge_<table>(), three runs: fresh (empty table), all rows updated, unchanged
# Every merge run is paired with a fresh ceiling load, batch by batch (alternating which goes
# first), through two persistent psql sessions; times are psql's \timing of each statement, so a
# busy machine slows both sides alike and the ratio stays meaningful. 40 % of the comments are
# replies whose parent is in the same batch.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
PRS=100000 CHILDREN=500000 BATCH=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --prs) PRS=$2; shift 2 ;;
    --children) CHILDREN=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    *) echo "usage: $0 [--prs N] [--children N] [--batch N]" >&2; exit 2 ;;
  esac
done
STARTED=
if [ -z "${PGHOST:-}" ]; then
  eval "$(PGPORT=${PGPORT:-56300} bash "$REPO/.ci/pg-up.sh")"
  STARTED=1
fi
DBC=progcap_merge_bench_ceiling
DBM=progcap_merge_bench_merge
WORK=$(mktemp -d -t mergebench.XXXXXX)
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
cleanup() {
  exec 3>&- 4<&- 5>&- 6<&- 2>/dev/null || true
  wait 2>/dev/null || true
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DBC" -c "DROP DATABASE IF EXISTS $DBM" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  if [ -n "$STARTED" ]; then bash "$REPO/.ci/pg-down.sh"; fi
}
trap cleanup EXIT

for db in $DBC $DBM; do
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  for f in "$REPO"/packaging/sql/migrations/*.sql; do "${PSQL[@]}" -1 -d "$db" -f "$f" >/dev/null; done
  "${PSQL[@]}" -d "$db" <<'SQL'
INSERT INTO repositories (github_id, full_name, owner, name)
SELECT g, 'org/repo' || g, 'org', 'repo' || g FROM generate_series(1, 100) g;
INSERT INTO contributors (github_id, username, display_name)
SELECT g, 'user' || g, 'User ' || g FROM generate_series(10001, 11000) g;
ANALYZE repositories; ANALYZE contributors;
SQL
done

STAGE_PR='_ord, github_id, repository_github_id, repository_full_name, number, title, body, state, draft, merged, merged_at, merged_by_github_id, author_github_id, base_branch, head_branch, additions, deletions, changed_files, commits, mergeable, mergeable_state, created_at, updated_at, closed_at, html_url, diff_url, patch_url'
RAW_PR='github_id, repository_id, repository_github_id, repository_full_name, number, title, body, state, author_id, author_github_id, base_branch, head_branch, draft, mergeable, mergeable_state, merged, merged_by_id, created_at, updated_at, merged_at, closed_at, additions, deletions, changed_files, commits, html_url, diff_url, patch_url'
STAGE_RV='_ord, github_id, pull_request_github_id, repository_github_id, repository_full_name, author_github_id, state, body, submitted_at, commit_id'
RAW_RV='github_id, pull_request_id, repository_id, author_id, reviewer_id, state, body, submitted_at, commit_id'
STAGE_CM='_ord, github_id, comment_type, pull_request_github_id, repository_github_id, repository_full_name, pull_request_number, commenter_github_id, body, created_at, updated_at, in_reply_to_github_id, review_github_id, position, original_position, diff_hunk, path, commit_id, original_commit_id'
RAW_CM='id, github_id, pull_request_id, repository_id, commenter_id, comment_type, body, created_at, updated_at, in_reply_to_id, position, original_position, diff_hunk, path, commit_id, original_commit_id'

# PR i (0-based): github_id 1e6+i, repository 1+i%100, number 1+i/100, author 10001+i%1000
pr_rows() {   # $1 = version (1 or 2), $2 = first i, $3 = count
  cat <<SQL
SELECT i - $2 + 1 AS _ord, 1000000 + i AS github_id, 1 + i % 100 AS repository_github_id,
       'org/repo' || (1 + i % 100) AS repository_full_name, 1 + i / 100 AS number,
       'v$1 Fix the frobnicator for case ' || i AS title,
       'v$1 ' || repeat('This pull request changes the frobnicator so that it handles case ' || i || '. ', 4) AS body,
       CASE WHEN i % 3 = 0 THEN 'closed' ELSE 'open' END AS state, i % 7 = 0 AS draft, i % 3 = 0 AS merged,
       CASE WHEN i % 3 = 0 THEN timestamptz '2025-03-01' + i * interval '1 minute' END AS merged_at,
       CASE WHEN i % 3 = 0 THEN 10001 + (i + 7) % 1000 END AS merged_by_github_id,
       10001 + i % 1000 AS author_github_id, 'main' AS base_branch, 'feature/frob-' || i AS head_branch,
       10 * $1 + i % 50 AS additions, i % 20 AS deletions, 1 + i % 9 AS changed_files, 1 + i % 4 AS commits,
       true AS mergeable, 'clean' AS mergeable_state,
       timestamptz '2025-01-01' + i * interval '1 minute' AS created_at,
       timestamptz '2025-01-02' + i * interval '1 minute' + ($1 - 1) * interval '1 day' AS updated_at,
       CASE WHEN i % 3 = 0 THEN timestamptz '2025-03-01' + i * interval '1 minute' END AS closed_at,
       'https://github.com/org/repo' || (1 + i % 100) || '/pull/' || (1 + i / 100) AS html_url,
       'https://github.com/org/repo' || (1 + i % 100) || '/pull/' || (1 + i / 100) || '.diff' AS diff_url,
       'https://github.com/org/repo' || (1 + i % 100) || '/pull/' || (1 + i / 100) || '.patch' AS patch_url
FROM generate_series($2, $2 + $3 - 1) i
SQL
}
# review i: github_id 1e7+i, PR i/5
rv_rows() {
  cat <<SQL
SELECT i - $2 + 1 AS _ord, 10000000 + i AS github_id, 1000000 + i / 5 AS pull_request_github_id,
       1 + (i / 5) % 100 AS repository_github_id, 'org/repo' || (1 + (i / 5) % 100) AS repository_full_name,
       10001 + (i * 7) % 1000 AS author_github_id,
       (ARRAY['APPROVED', 'COMMENTED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED'])[1 + i % 5] AS state,
       'v$1 ' || repeat('Looks good to me, one nit on line ' || i || '. ', 2) AS body,
       timestamptz '2025-01-03' + i * interval '10 seconds' + ($1 - 1) * interval '1 hour' AS submitted_at,
       md5(i::text) AS commit_id
FROM generate_series($2, $2 + $3 - 1) i
SQL
}
# comment i: github_id 2e7+i, PR i/5; i%5 in (3,4) replies to the PR's first comment (i - i%5)
cm_rows() {
  cat <<SQL
SELECT i - $2 + 1 AS _ord, 20000000 + i AS github_id, 'review_comment' AS comment_type,
       1000000 + i / 5 AS pull_request_github_id, 1 + (i / 5) % 100 AS repository_github_id,
       'org/repo' || (1 + (i / 5) % 100) AS repository_full_name, 1 + (i / 5) / 100 AS pull_request_number,
       10001 + (i * 3) % 1000 AS commenter_github_id,
       'v$1 ' || repeat('Could we rename this variable (comment ' || i || ')? ', 3) AS body,
       timestamptz '2025-01-04' + i * interval '10 seconds' AS created_at,
       timestamptz '2025-01-04' + i * interval '10 seconds' + ($1 - 1) * interval '1 hour' AS updated_at,
       CASE WHEN i % 5 >= 3 THEN 20000000 + i - i % 5 END AS in_reply_to_github_id, NULL::bigint AS review_github_id,
       i % 40 AS position, i % 40 AS original_position,
       '@@ -10,7 +10,8 @@ ' || repeat('context line ' || i || E'\n', 4) AS diff_hunk,
       'src/module' || (i % 30) || '/file' || (i % 7) || '.cc' AS path, md5(i::text) AS commit_id,
       md5((i + 1)::text) AS original_commit_id
FROM generate_series($2, $2 + $3 - 1) i
SQL
}

gen() {   # $1 = kind, $2 = version, $3 = total → $WORK/<kind>_v<ver>_<k>.csv (natural keys)
  local kind=$1 ver=$2 total=$3 k=0 first
  for ((first = 0; first < total; first += BATCH)); do
    "${PSQL[@]}" -d "$DBM" -c "\\copy ($(${kind}_rows "$ver" "$first" "$BATCH" | tr '\n' ' ')) TO '$WORK/${kind}_v${ver}_$k.csv' CSV"
    k=$((k + 1))
  done
}

# ---------------------------------------------------------------- two persistent sessions
mkfifo "$WORK/c.in" "$WORK/c.out" "$WORK/m.in" "$WORK/m.out"
"${PSQL[@]}" -d "$DBC" <"$WORK/c.in" >"$WORK/c.out" 2>&1 &
exec 3>"$WORK/c.in" 4<"$WORK/c.out"
"${PSQL[@]}" -d "$DBM" <"$WORK/m.in" >"$WORK/m.out" 2>&1 &
exec 5>"$WORK/m.in" 6<"$WORK/m.out"
echo '\timing on' >&3
echo '\timing on' >&5
T_TOTAL=0 T_COPY=0 LAST=
session() {   # $1 = c|m, $2 = psql commands; sets T_TOTAL (sum of \timing), T_COPY (the \copy), LAST (last other line)
  local out in line ms n=0
  if [ "$1" = c ]; then in=3 out=4; else in=5 out=6; fi
  printf '%s\n\\echo __done__\n' "$2" >&$in
  T_TOTAL=0 T_COPY=0 LAST=
  while IFS= read -r line <&$out; do
    case "$line" in
      __done__) break ;;
      Time:*) ms=${line#Time: }; ms=${ms%% ms*}; T_TOTAL=$(echo "$T_TOTAL + $ms" | bc)
              n=$((n + 1)); if [ $n = "${COPY_AT:-0}" ]; then T_COPY=$ms; fi ;;
      *ERROR*|*FATAL*) echo "psql ($1): $line" >&2; exit 1 ;;
      *) [ -n "$line" ] && LAST=$line ;;
    esac
  done
}

results=()
now_rate() { echo "$1 * 1000 / $2" | bc; }
# $1 table, $2 label, $3 kind, $4 version, $5 stage columns, $6 raw prefix, $7 raw columns, $8 batches, $9 expect
pair_run() {
  local table=$1 label=$2 kind=$3 ver=$4 stage=$5 raw=$6 rawcols=$7 nb=$8 expect=$9 k
  local c_ms=0 m_ms=0 s_ms=0 rows=$(( $8 * BATCH ))
  session c "TRUNCATE $table CASCADE;"
  [ "$label" = fresh ] && session m "TRUNCATE $table CASCADE;"
  for ((k = 0; k < nb; k++)); do
    local cmd_c="BEGIN;
\\copy $table ($rawcols) FROM '$WORK/${raw}_$k.csv' CSV
COMMIT;"
    local cmd_m="BEGIN;
SELECT progcap_stage_prepare('$table');
\\copy pg_temp.progcap_stage_$table ($stage) FROM '$WORK/${kind}_v${ver}_$k.csv' CSV
SELECT progcap_merge_$table() AS r \\gset
COMMIT;
\\echo :r"
    local first=c second=m
    if ((k % 2 == 1)); then first=m second=c; fi
    for side in $first $second; do
      if [ "$side" = c ]; then
        COPY_AT=0 session c "$cmd_c"; c_ms=$(echo "$c_ms + $T_TOTAL" | bc)
      else
        COPY_AT=3 session m "$cmd_m"; m_ms=$(echo "$m_ms + $T_TOTAL" | bc); s_ms=$(echo "$s_ms + $T_COPY" | bc)
        echo "$LAST" | grep -q "\"$expect\": $BATCH" || { echo "unexpected merge result: $LAST (want $expect)" >&2; exit 1; }
      fi
    done
  done
  local mr cr; mr=$(now_rate "$rows" "$m_ms"); cr=$(now_rate "$rows" "$c_ms")
  results+=("| $table $label | $rows | $(printf '%.0f' "$m_ms") ($(printf '%.0f' "$s_ms")) | $mr | $(printf '%.0f' "$c_ms") | $cr | $(echo "100 * $c_ms / $m_ms" | bc)% |")
  echo "${results[-1]}" >&2
}

NB_PR=$((PRS / BATCH)); NB_CH=$((CHILDREN / BATCH))
echo "generating data ($PRS PRs, $CHILDREN reviews, $CHILDREN comments, batches of $BATCH)" >&2
gen pr 1 "$PRS"; gen pr 2 "$PRS"; gen rv 1 "$CHILDREN"; gen rv 2 "$CHILDREN"; gen cm 1 "$CHILDREN"; gen cm 2 "$CHILDREN"
for ((k = 0; k < NB_PR; k++)); do   # resolved PR rows (ceiling database's UUIDs), same content as version 1
  "${PSQL[@]}" -d "$DBC" -c "\\copy (SELECT s.github_id, r.id, s.repository_github_id, s.repository_full_name, s.number, s.title, s.body, s.state, a.id, s.author_github_id, s.base_branch, s.head_branch, s.draft, s.mergeable, s.mergeable_state, s.merged, m.id, s.created_at, s.updated_at, s.merged_at, s.closed_at, s.additions, s.deletions, s.changed_files, s.commits, s.html_url, s.diff_url, s.patch_url FROM ($(pr_rows 1 $((k * BATCH)) "$BATCH" | tr '\n' ' ')) s JOIN repositories r ON r.github_id = s.repository_github_id JOIN contributors a ON a.github_id = s.author_github_id LEFT JOIN contributors m ON m.github_id = s.merged_by_github_id ORDER BY s._ord) TO '$WORK/prraw_$k.csv' CSV"
done

pair_run pull_requests fresh pr 1 "$STAGE_PR" prraw "$RAW_PR" "$NB_PR" inserted
pair_run pull_requests "all updated" pr 2 "$STAGE_PR" prraw "$RAW_PR" "$NB_PR" updated
pair_run pull_requests unchanged pr 2 "$STAGE_PR" prraw "$RAW_PR" "$NB_PR" unchanged
session c "VACUUM ANALYZE pull_requests;"
session m "VACUUM ANALYZE pull_requests;"

# resolved children rows need the ceiling database's PR UUIDs, which stay fixed from here on
for ((k = 0; k < NB_CH; k++)); do
  "${PSQL[@]}" -d "$DBC" -c "\\copy (SELECT s.github_id, p.id, p.repository_id, a.id, a.id, s.state, s.body, s.submitted_at, s.commit_id FROM ($(rv_rows 1 $((k * BATCH)) "$BATCH" | tr '\n' ' ')) s JOIN pull_requests p ON p.github_id = s.pull_request_github_id JOIN contributors a ON a.github_id = s.author_github_id ORDER BY s._ord) TO '$WORK/rvraw_$k.csv' CSV"
  "${PSQL[@]}" -d "$DBC" -c "\\copy (SELECT md5('c' || s.github_id)::uuid, s.github_id, p.id, p.repository_id, a.id, s.comment_type, s.body, s.created_at, s.updated_at, md5('c' || s.in_reply_to_github_id)::uuid, s.position, s.original_position, s.diff_hunk, s.path, s.commit_id, s.original_commit_id FROM ($(cm_rows 1 $((k * BATCH)) "$BATCH" | tr '\n' ' ')) s JOIN pull_requests p ON p.github_id = s.pull_request_github_id JOIN contributors a ON a.github_id = s.commenter_github_id ORDER BY s._ord) TO '$WORK/cmraw_$k.csv' CSV"
done
for t in reviews:rv:RV comments:cm:CM; do
  IFS=: read -r table kind up <<<"$t"
  raw="RAW_$up"; stage="STAGE_$up"
  pair_run "$table" fresh "$kind" 1 "${!stage}" "${kind}raw" "${!raw}" "$NB_CH" inserted
  pair_run "$table" "all updated" "$kind" 2 "${!stage}" "${kind}raw" "${!raw}" "$NB_CH" updated
  pair_run "$table" unchanged "$kind" 2 "${!stage}" "${kind}raw" "${!raw}" "$NB_CH" unchanged
done
echo '\q' >&3
echo '\q' >&5

echo
echo "PostgreSQL $("${PSQL[@]}" -d postgres -tAc 'SHOW server_version'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), batches of $BATCH rows, one transaction per batch"
echo "| run | rows | merge path ms (of which stage COPY) | rows/s | ceiling ms | ceiling rows/s | ceiling time / merge time |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
