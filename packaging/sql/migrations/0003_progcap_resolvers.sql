-- progcap migration 0003: server-side staging, merge and upsert/resolver functions for the sinks
-- =====================================================================================
-- The write semantics live here ONCE, in SQL, and are shared by both sinks:
--
--   * direct PostgreSQL sink (libpqxx), per batch and table, in ONE transaction:
--       SELECT progcap_stage_prepare('pull_requests');              -- create/empty the stage
--       COPY pg_temp.progcap_stage_pull_requests (<column list>) FROM STDIN;
--       SELECT progcap_merge_pull_requests();                        -- validate, resolve, upsert
--   * Supabase REST sink: POST /rest/v1/rpc/progcap_upsert_pull_requests {"rows": [...]}
--     (postgrest-js: .rpc('progcap_upsert_pull_requests', {rows})); the jsonb wrapper parses the
--     array into the same staging table and calls the same merge function.
--
-- Staging tables pg_temp.progcap_stage_<table> are session-local TEMPORARY tables, ON COMMIT
-- DELETE ROWS, created on first use by progcap_stage_prepare(). Column lists (the COPY contract):
-- packaging/sql/README.md. Every stage starts with
--   _ord     integer NOT NULL  1-based position of the row in the call (unique): "index" below
--   _absent  text[]            presence-rule keys ABSENT from the input (NULL = none absent)
--   _bad_key jsonb             set by the jsonb wrappers for an invalid element only
--
-- Every progcap_merge_<table>(return_ids boolean DEFAULT false) and
-- progcap_upsert_<table>(rows jsonb, return_ids boolean DEFAULT false) RETURNS jsonb:
--   {
--     "table":      "<table>",
--     "received":   <staged rows = elements in rows>,
--     "accepted":   <distinct valid rows written or found unchanged>,
--     "duplicates": <earlier occurrences of a key dropped because a later one wins>,
--     "inserted":   <new rows>,
--     "updated":    <existing rows that changed>,
--     "unchanged":  <existing rows identical to the input: NOT rewritten (no new tuple)>,
--     "rejected":   [ {"index": <1-based position in rows>, "key": {...}, "reason": "<code>",
--                      "detail": "<text>"} ],
--     "warnings":   [ {"index": ..., "key": {...}, "reason": "<code>", "detail": "<text>"} ],
--     "renamed":    [ {"github_id": n, "from": "old", "to": "old__renamed_<github_id>"} ]  -- contributors, repositories
--     "deleted":    <n>                                        -- pull_request_files with replace => true
--     "replies_linked": <n>  -- comments: waiting replies linked to a parent stored by now
--     "ids":        [ {"github_id": n, "id": "<uuid>"} ]       -- only when return_ids => true
--   }
-- Rejection reasons: invalid_row, missing_field, invalid_value, missing_repository,
-- missing_pull_request, missing_author, repository_number_taken.
-- Warning reasons: unresolved_merged_by, unresolved_in_reply_to, username_conflict_in_call,
-- full_name_conflict_in_call.
-- A rejected row is not written and does not fail the call. Type errors inside a field (e.g. a
-- created_at that is not a timestamp) DO fail the whole call with PostgreSQL's error (22007,
-- 22P02, ... → PostgREST 400); a sink bisects such a batch.
--
-- Semantics shared by all functions:
--   * key = github_id (pull_request_files: pull_request_github_id + filename); within one call the
--     LAST occurrence (highest _ord) of a key wins;
--   * natural keys are resolved to UUID FKs server-side; GitHub ids never go into UUID columns;
--   * ON CONFLICT (<key>) DO UPDATE ... WHERE <row> IS DISTINCT FROM <new row>: rows that did not
--     change are not rewritten (their xmin stays), so repeated captures cost no table bloat;
--   * "unknown" never overwrites "known": see the per-function notes (PR stats, merged_by,
--     mergeable*, draft; contributor/repository/file columns named in _absent);
--   * ghost authors (author_github_id NULL, the deleted-user case): NULL author when the column
--     is nullable, otherwise the shared ghost contributor (github_id 10137, login 'ghost', as
--     GitHub reports deleted users). author_github_id = 10137 always maps to that row.
-- Performance notes (measurements: packaging/sql/README.md): a merge reads its stage in a counting
-- pass (+ a narrow clash pass for PRs), then ONE statement de-duplicates, resolves, validates and
-- upserts (resolved rows materialised once, results aggregated in one pass, detail texts only for
-- rejected rows). The stage has no statistics, so two stage-derived sets are never joined (jsonb
-- maps instead), and lookups into large tables are LATERAL ... LIMIT 1 index probes, which no
-- (stale) statistics can turn into a scan of the whole table.
-- =====================================================================================

-- ---------------------------------------------------------------- ghost contributor
CREATE OR REPLACE FUNCTION progcap_ghost_contributor_id()
RETURNS uuid
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
  v_id uuid;
BEGIN
  SELECT c.id INTO v_id FROM contributors c WHERE c.github_id = 10137;
  IF v_id IS NULL THEN
    PERFORM pg_advisory_xact_lock(738353, 1);   -- same lock as progcap_merge_contributors
    INSERT INTO contributors (github_id, username, display_name, avatar_url, profile_url, is_bot)
    VALUES (10137, 'ghost', 'Deleted user', 'https://avatars.githubusercontent.com/u/10137?v=4',
            'https://github.com/ghost', false)
    ON CONFLICT DO NOTHING;
    SELECT c.id INTO v_id FROM contributors c WHERE c.github_id = 10137;
  END IF;
  IF v_id IS NULL THEN
    RAISE EXCEPTION 'progcap: cannot create the ghost contributor (github_id 10137): username ''ghost'' is taken'
      USING ERRCODE = '23505';
  END IF;
  RETURN v_id;
END $fn$;

-- ---------------------------------------------------------------- staging tables
-- progcap_stage_prepare(p_table): makes pg_temp.progcap_stage_<p_table> exist and be empty.
-- Created on first use in a session (checked with to_regclass, so no "already exists" NOTICE),
-- ON COMMIT DELETE ROWS; an existing stage that still holds rows (an earlier batch of the same
-- transaction, dead rows of a rolled-back one) is emptied; one with a different layout (created
-- by an older version of this function in a long-lived session) is dropped and re-created.
-- Unknown table → 22023.
CREATE OR REPLACE FUNCTION progcap_stage_prepare(p_table text)
RETURNS void
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path FROM CURRENT
AS $fn$
DECLARE
  v_cols   text;
  v_mark   text;
  v_rel    regclass;
  v_layout text;
  v_size   bigint;
BEGIN
  -- column lists: keep in sync with packaging/sql/README.md (sinks COPY with these names)
  v_cols := CASE p_table
    WHEN 'contributors' THEN
      'github_id bigint, username text, display_name text, avatar_url text, profile_url text, is_bot boolean'
    WHEN 'repositories' THEN
      'github_id bigint, full_name text, owner text, name text, description text, homepage text, language text, '
      'stargazers_count integer, watchers_count integer, forks_count integer, open_issues_count integer, '
      'size integer, default_branch text, is_fork boolean, is_archived boolean, is_disabled boolean, '
      'is_private boolean, has_issues boolean, has_projects boolean, has_wiki boolean, has_pages boolean, '
      'has_downloads boolean, license text, topics jsonb, github_created_at timestamp with time zone, '
      'github_updated_at timestamp with time zone, github_pushed_at timestamp with time zone'
    WHEN 'pull_requests' THEN
      'github_id bigint, repository_github_id bigint, repository_full_name text, number integer, title text, '
      'body text, state text, draft boolean, merged boolean, merged_at timestamp with time zone, '
      'merged_by_github_id bigint, author_github_id bigint, base_branch text, head_branch text, '
      'additions integer, deletions integer, changed_files integer, commits integer, mergeable boolean, '
      'mergeable_state text, created_at timestamp with time zone, updated_at timestamp with time zone, '
      'closed_at timestamp with time zone, html_url text, diff_url text, patch_url text'
    WHEN 'reviews' THEN
      'github_id bigint, pull_request_github_id bigint, repository_github_id bigint, repository_full_name text, '
      'author_github_id bigint, state text, body text, submitted_at timestamp with time zone, commit_id text'
    WHEN 'comments' THEN
      'github_id bigint, comment_type text, pull_request_github_id bigint, repository_github_id bigint, '
      'repository_full_name text, pull_request_number integer, commenter_github_id bigint, body text, '
      'created_at timestamp with time zone, updated_at timestamp with time zone, in_reply_to_github_id bigint, '
      'review_github_id bigint, position integer, original_position integer, diff_hunk text, path text, '
      'commit_id text, original_commit_id text'
    WHEN 'pull_request_files' THEN
      'pull_request_github_id bigint, repository_github_id bigint, filename text, status text, '
      'additions integer, deletions integer, changes integer, previous_filename text, patch text'
  END;
  IF v_cols IS NULL THEN
    RAISE EXCEPTION 'progcap_stage_prepare: unknown table %', coalesce(quote_literal(p_table), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'One of contributors, repositories, pull_requests, reviews, comments, pull_request_files';
  END IF;
  v_cols := '_ord integer, _absent text[], _bad_key jsonb, ' || v_cols;
  v_mark := md5(v_cols);

  v_rel := to_regclass('pg_temp.progcap_stage_' || p_table);
  -- layout check once per session and stage (remembered in a session GUC; rolled back with the
  -- transaction like the table itself)
  IF v_rel IS NOT NULL
     AND coalesce(current_setting('progcap.stage_' || p_table, true), '') <> v_rel::oid::text || ' ' || v_mark THEN
    SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
      INTO v_layout
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = v_rel AND a.attnum > 0 AND NOT a.attisdropped;
    IF v_layout IS DISTINCT FROM v_cols THEN
      EXECUTE format('DROP TABLE pg_temp.%I', 'progcap_stage_' || p_table);
      v_rel := NULL;
    ELSE
      PERFORM set_config('progcap.stage_' || p_table, v_rel::oid::text || ' ' || v_mark, false);
    END IF;
  END IF;

  IF v_rel IS NULL THEN
    EXECUTE format('CREATE TEMPORARY TABLE %I (%s) ON COMMIT DELETE ROWS', 'progcap_stage_' || p_table,
                   replace(v_cols, '_ord integer,', '_ord integer NOT NULL,'));
    PERFORM set_config('progcap.stage_' || p_table,
                       to_regclass('pg_temp.progcap_stage_' || p_table)::oid::text || ' ' || v_mark, false);
  ELSE
    -- Normally empty (ON COMMIT DELETE ROWS). Rows are left by an earlier batch of this
    -- transaction or as dead rows of a rolled-back one: DELETE them (measured: TRUNCATE gives the
    -- table a new file, which makes the merge functions re-plan, ~10 ms per call), but TRUNCATE a
    -- stage that has grown past 8 MB so dead rows cannot pile up over many batches.
    v_size := pg_catalog.pg_relation_size(v_rel);
    IF v_size >= 8388608 THEN
      EXECUTE format('TRUNCATE pg_temp.%I', 'progcap_stage_' || p_table);
    ELSIF v_size > 0 THEN
      EXECUTE format('DELETE FROM pg_temp.%I', 'progcap_stage_' || p_table);
    END IF;
  END IF;
END $fn$;

-- ---------------------------------------------------------------- describe
-- Columns of the named tables as the other functions see them (first schema of this function's
-- pinned search_path that has the table; temporary tables are not considered). Tables that do not
-- exist produce no rows. Through PostgREST: POST /rest/v1/rpc/progcap_describe_columns
-- {"p_tables": ["pull_requests", ...]} → [{"table_name", "column_name", "data_type", "not_null"}].
CREATE OR REPLACE FUNCTION progcap_describe_columns(p_tables text[])
RETURNS TABLE (table_name text, column_name text, data_type text, not_null boolean)
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path FROM CURRENT
AS $fn$
  SELECT c.relname::text, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull
  FROM (SELECT DISTINCT ON (c.relname) c.oid, c.relname
        FROM pg_catalog.unnest(pg_catalog.current_schemas(false)) WITH ORDINALITY AS s(nspname, ord)
        JOIN pg_catalog.pg_namespace n ON n.nspname = s.nspname
        JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid
        WHERE c.relname = ANY (p_tables) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        ORDER BY c.relname, s.ord) c
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  ORDER BY c.relname, a.attnum;
$fn$;

-- ---------------------------------------------------------------- contributors
-- Stage: github_id, username (required), display_name, avatar_url, profile_url, is_bot.
-- Presence rule: display_name, avatar_url, profile_url named in _absent keep the stored value (new
-- rows: NULL); otherwise the staged value is written, NULL included. is_bot NULL (absent or null)
-- keeps the stored value (new rows: false). Enriched profile columns (email, bio, followers,
-- github_created_at, ...) are never touched.
-- Renames: when the username is held by another github_id, that holder is renamed to
-- '<login>__renamed_<its github_id>' first (GitHub logins cannot contain '_', so the suffix never
-- collides) and reported in "renamed"; if the holder appears in the same call with its new login,
-- it simply gets that login. Two rows of one call claiming one login: the last one gets it, the
-- others are stored as '<login>__renamed_<github_id>' with a username_conflict_in_call warning.
CREATE OR REPLACE FUNCTION progcap_merge_contributors(return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
DECLARE
  v_received integer;
  v_valid    integer;
  v_invalid  jsonb;
  v_result   jsonb;
  v_renamed  jsonb;
  v_gids     bigint[];
  v_logins   text[];
  v_counts   record;
BEGIN
  IF to_regclass('pg_temp.progcap_stage_contributors') IS NULL THEN
    RAISE EXCEPTION 'progcap_merge_contributors: pg_temp.progcap_stage_contributors does not exist in this session'
      USING ERRCODE = '55000', HINT = 'Call progcap_stage_prepare(''contributors'') and fill the stage in the same transaction';
  END IF;
  -- Contributor writes through these functions are serialised (transaction-scoped advisory lock):
  -- the table has two unique keys and ON CONFLICT only arbitrates one, so two concurrent calls
  -- inserting the same new user, or renaming, would otherwise race into 23505.
  PERFORM pg_advisory_xact_lock(738353, 1);

  SELECT count(*), count(s.github_id),
         coalesce(jsonb_agg(jsonb_build_object('index', s._ord, 'key', jsonb_build_object('github_id', s._bad_key),
                    'reason', 'invalid_row', 'detail', 'not an object with an integer github_id'))
                  FILTER (WHERE s.github_id IS NULL), '[]'::jsonb)
    INTO v_received, v_valid, v_invalid
    FROM pg_temp.progcap_stage_contributors s;

  -- 1. validate, de-duplicate (last wins), settle login clashes inside the call
  WITH d AS (
    SELECT DISTINCT ON (s.github_id) s._ord, s.github_id, s.username
    FROM pg_temp.progcap_stage_contributors s
    WHERE s.github_id IS NOT NULL
    ORDER BY s.github_id, s._ord DESC
  ), k AS (
    SELECT d._ord, d.github_id, d.username,
           row_number() OVER (PARTITION BY d.username ORDER BY d._ord DESC) AS login_rank
    FROM d WHERE d.username <> ''
  )
  SELECT
    jsonb_build_object(
      'table', 'contributors',
      'received', v_received,
      'duplicates', v_valid - (SELECT count(*) FROM d),
      'rejected', (SELECT coalesce(jsonb_agg(x.o ORDER BY (x.o->>'index')::integer), '[]'::jsonb) FROM (
          SELECT jsonb_array_elements(v_invalid) AS o
          UNION ALL
          SELECT jsonb_build_object('index', d._ord, 'key', jsonb_build_object('github_id', d.github_id),
                   'reason', 'missing_field', 'detail', 'username')
          FROM d WHERE nullif(d.username, '') IS NULL) x),
      'warnings', (SELECT coalesce(jsonb_agg(jsonb_build_object('index', k._ord, 'key', jsonb_build_object('github_id', k.github_id),
                     'reason', 'username_conflict_in_call',
                     'detail', format('login %s is claimed by a later row; stored as %s__renamed_%s', k.username, k.username, k.github_id))
                     ORDER BY k._ord), '[]'::jsonb)
                   FROM k WHERE k.login_rank > 1)),
    (SELECT coalesce(array_agg(k.github_id ORDER BY k.github_id), '{}') FROM k),
    (SELECT coalesce(array_agg(CASE WHEN k.login_rank = 1 THEN k.username ELSE k.username || '__renamed_' || k.github_id END
                               ORDER BY k.github_id), '{}') FROM k)
  INTO v_result, v_gids, v_logins;

  -- 2. move existing holders of the wanted logins out of the way
  WITH s AS (
    SELECT u.gid, u.login FROM unnest(v_gids, v_logins) AS u(gid, login)
  ), moved AS (
    UPDATE contributors c
       SET username = c.username || '__renamed_' || c.github_id,
           last_updated_at = now()
      FROM s
     WHERE c.username = s.login AND c.github_id <> s.gid
    RETURNING c.github_id, s.login AS old_username, c.username AS new_username
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', m.github_id, 'from', m.old_username, 'to', m.new_username)
                  ORDER BY m.github_id) FILTER (WHERE m.github_id NOT IN (SELECT gid FROM s)), '[]'::jsonb)
    INTO v_renamed
    FROM moved m;

  -- 3. upsert: present columns win, absent ones keep the stored value, unchanged rows untouched
  WITH d AS (
    SELECT DISTINCT ON (s.github_id) s.*
    FROM pg_temp.progcap_stage_contributors s
    WHERE s.github_id IS NOT NULL
    ORDER BY s.github_id, s._ord DESC
  ), k AS (
    SELECT d.*, row_number() OVER (PARTITION BY d.username ORDER BY d._ord DESC) AS login_rank
    FROM d WHERE d.username <> ''
  ), v AS (
    SELECT k.github_id,
           CASE WHEN k.login_rank = 1 THEN k.username ELSE k.username || '__renamed_' || k.github_id END AS username,
           CASE WHEN 'display_name' = ANY (k._absent) THEN cur.display_name ELSE k.display_name END AS display_name,
           CASE WHEN 'avatar_url'   = ANY (k._absent) THEN cur.avatar_url   ELSE k.avatar_url   END AS avatar_url,
           CASE WHEN 'profile_url'  = ANY (k._absent) THEN cur.profile_url  ELSE k.profile_url  END AS profile_url,
           coalesce(k.is_bot, cur.is_bot, false) AS is_bot
    FROM k
    LEFT JOIN LATERAL (SELECT x.display_name, x.avatar_url, x.profile_url, x.is_bot FROM contributors x
                       WHERE x.github_id = k.github_id LIMIT 1) cur ON true
  ), w AS (
    INSERT INTO contributors AS c (github_id, username, display_name, avatar_url, profile_url, is_bot)
    SELECT v.github_id, v.username, v.display_name, v.avatar_url, v.profile_url, v.is_bot FROM v ORDER BY v.github_id
    ON CONFLICT (github_id) DO UPDATE
       SET username = EXCLUDED.username, display_name = EXCLUDED.display_name,
           avatar_url = EXCLUDED.avatar_url, profile_url = EXCLUDED.profile_url, is_bot = EXCLUDED.is_bot,
           last_updated_at = now()
     WHERE (c.username, c.display_name, c.avatar_url, c.profile_url, c.is_bot)
           IS DISTINCT FROM
           (EXCLUDED.username, EXCLUDED.display_name, EXCLUDED.avatar_url, EXCLUDED.profile_url, EXCLUDED.is_bot)
    RETURNING (c.xmax = 0) AS inserted
  )
  SELECT count(*) FILTER (WHERE inserted) AS ins, count(*) FILTER (WHERE NOT inserted) AS upd INTO v_counts FROM w;

  v_result := v_result || jsonb_build_object(
    'accepted', cardinality(v_gids),
    'inserted', v_counts.ins,
    'updated', v_counts.upd,
    'unchanged', cardinality(v_gids) - v_counts.ins - v_counts.upd,
    'renamed', v_renamed);

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', c.github_id, 'id', c.id) ORDER BY c.github_id), '[]'::jsonb)
      FROM contributors c WHERE c.github_id = ANY (v_gids)));
  END IF;
  RETURN v_result;
END $fn$;

-- jsonb form: rows = JSON array of objects {github_id, username, display_name, avatar_url,
-- profile_url, is_bot}. Only keys PRESENT in an object are written (an explicit null is written
-- as NULL); absent keys keep the stored value.
CREATE OR REPLACE FUNCTION progcap_upsert_contributors(rows jsonb, return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_contributors: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  PERFORM progcap_stage_prepare('contributors');
  -- only the last occurrence of a key is parsed (earlier ones are dropped by the merge anyway)
  INSERT INTO pg_temp.progcap_stage_contributors
    (_ord, _absent, _bad_key, github_id, username, display_name, avatar_url, profile_url, is_bot)
  SELECT e.ord,
         CASE WHEN e.parse THEN nullif(array_remove(ARRAY[
           CASE WHEN NOT e.r ? 'display_name' THEN 'display_name' END,
           CASE WHEN NOT e.r ? 'avatar_url'   THEN 'avatar_url'   END,
           CASE WHEN NOT e.r ? 'profile_url'  THEN 'profile_url'  END,
           CASE WHEN NOT e.r ? 'is_bot'       THEN 'is_bot'       END], NULL), '{}') END,
         CASE WHEN e.gid IS NULL THEN e.r->'github_id' END,
         e.gid, p.username, p.display_name, p.avatar_url, p.profile_url, p.is_bot
  FROM (
    SELECT t.ord::integer AS ord, t.r, k.gid,
           k.gid IS NOT NULL AND row_number() OVER (PARTITION BY k.gid ORDER BY t.ord DESC) = 1 AS parse
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'github_id') ~ '^[0-9]{1,18}$'
                                    THEN (t.r->>'github_id')::bigint END AS gid) k
  ) e
  CROSS JOIN LATERAL jsonb_to_record(CASE WHEN e.parse THEN e.r ELSE '{}'::jsonb END) AS p(
    username text, display_name text, avatar_url text, profile_url text, is_bot boolean);
  RETURN progcap_merge_contributors(return_ids);
END $fn$;

-- Resolver form: upserts like progcap_upsert_contributors and returns (github_id, id) for every
-- accepted input row (rejected rows are absent). Through PostgREST: a JSON array of objects.
CREATE OR REPLACE FUNCTION progcap_resolve_contributors(rows jsonb)
RETURNS TABLE (github_id bigint, id uuid)
LANGUAGE sql
SET search_path FROM CURRENT
AS $fn$
  SELECT (e->>'github_id')::bigint, (e->>'id')::uuid
  FROM jsonb_array_elements(progcap_upsert_contributors(rows, true)->'ids') AS e;
$fn$;

-- ---------------------------------------------------------------- repositories
-- Stage: github_id, full_name (or owner + name), owner, name, description, homepage, language,
-- stargazers_count, watchers_count, forks_count, open_issues_count, size, default_branch, is_fork,
-- is_archived, is_disabled, is_private, has_issues, has_projects, has_wiki, has_pages,
-- has_downloads, license (SPDX id), topics (jsonb: a JSON array of strings; anything else → NULL),
-- github_created_at, github_updated_at, github_pushed_at.
-- Presence rule for every column except github_id/full_name/owner/name: a column named in _absent
-- keeps the stored value (new rows get the column default); otherwise the staged value is written.
-- Renamed/transferred repositories: a row holding the wanted full_name or (owner, name) under
-- another github_id is renamed to '<full_name>__renamed_<github_id>' / '<name>__renamed_<github_id>'
-- and reported in "renamed". first_tracked_at/is_active and contributor.info's own bookkeeping
-- columns are never written; last_updated_at is set only when something changed.
CREATE OR REPLACE FUNCTION progcap_merge_repositories(return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
DECLARE
  v_received integer;
  v_valid    integer;
  v_invalid  jsonb;
  v_result   jsonb;
  v_renamed  jsonb;
  v_gids     bigint[];
  v_fulls    text[];
  v_owners   text[];
  v_names    text[];
  v_counts   record;
BEGIN
  IF to_regclass('pg_temp.progcap_stage_repositories') IS NULL THEN
    RAISE EXCEPTION 'progcap_merge_repositories: pg_temp.progcap_stage_repositories does not exist in this session'
      USING ERRCODE = '55000', HINT = 'Call progcap_stage_prepare(''repositories'') and fill the stage in the same transaction';
  END IF;
  -- serialised like contributors: three unique keys (github_id, full_name, owner+name) and renames
  PERFORM pg_advisory_xact_lock(738353, 2);

  SELECT count(*), count(s.github_id),
         coalesce(jsonb_agg(jsonb_build_object('index', s._ord, 'key', jsonb_build_object('github_id', s._bad_key),
                    'reason', 'invalid_row', 'detail', 'not an object with an integer github_id'))
                  FILTER (WHERE s.github_id IS NULL), '[]'::jsonb)
    INTO v_received, v_valid, v_invalid
    FROM pg_temp.progcap_stage_repositories s;

  -- 1. validate, de-duplicate (last wins), settle full_name clashes inside the call
  WITH d AS (
    SELECT DISTINCT ON (s.github_id) s._ord, s.github_id, s.full_name, s.owner, s.name
    FROM pg_temp.progcap_stage_repositories s
    WHERE s.github_id IS NOT NULL
    ORDER BY s.github_id, s._ord DESC
  ), n AS (
    SELECT d._ord, d.github_id,
           coalesce(nullif(d.full_name, ''),
                    CASE WHEN nullif(d.owner, '') IS NOT NULL AND nullif(d.name, '') IS NOT NULL
                         THEN d.owner || '/' || d.name END) AS full_name,
           coalesce(nullif(d.owner, ''), nullif(split_part(d.full_name, '/', 1), '')) AS owner,
           coalesce(nullif(d.name, ''), nullif(substr(d.full_name, strpos(d.full_name, '/') + 1), '')) AS name
    FROM d
  ), c AS (
    SELECT n.*, (n.full_name IS NULL OR n.owner IS NULL OR n.name IS NULL OR strpos(n.full_name, '/') = 0) AS bad
    FROM n
  ), k AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.full_name ORDER BY c._ord DESC) AS fn_rank
    FROM c WHERE NOT c.bad
  )
  SELECT
    jsonb_build_object(
      'table', 'repositories',
      'received', v_received,
      'duplicates', v_valid - (SELECT count(*) FROM c),
      'rejected', (SELECT coalesce(jsonb_agg(x.o ORDER BY (x.o->>'index')::integer), '[]'::jsonb) FROM (
          SELECT jsonb_array_elements(v_invalid) AS o
          UNION ALL
          SELECT jsonb_build_object('index', c._ord, 'key', jsonb_build_object('github_id', c.github_id),
                   'reason', 'missing_field', 'detail', 'full_name (owner/name)')
          FROM c WHERE c.bad) x),
      'warnings', (SELECT coalesce(jsonb_agg(jsonb_build_object('index', k._ord, 'key', jsonb_build_object('github_id', k.github_id),
                     'reason', 'full_name_conflict_in_call',
                     'detail', format('%s is claimed by a later row; stored as %s__renamed_%s', k.full_name, k.full_name, k.github_id))
                     ORDER BY k._ord), '[]'::jsonb)
                   FROM k WHERE k.fn_rank > 1)),
    (SELECT coalesce(array_agg(k.github_id ORDER BY k.github_id), '{}') FROM k),
    (SELECT coalesce(array_agg(CASE WHEN k.fn_rank = 1 THEN k.full_name ELSE k.full_name || '__renamed_' || k.github_id END
                               ORDER BY k.github_id), '{}') FROM k),
    (SELECT coalesce(array_agg(k.owner ORDER BY k.github_id), '{}') FROM k),
    (SELECT coalesce(array_agg(CASE WHEN k.fn_rank = 1 THEN k.name ELSE k.name || '__renamed_' || k.github_id END
                               ORDER BY k.github_id), '{}') FROM k)
  INTO v_result, v_gids, v_fulls, v_owners, v_names;

  -- 2. move holders of a wanted full_name or (owner, name) out of the way
  WITH s AS (
    SELECT u.gid, u.full_name, u.owner, u.name FROM unnest(v_gids, v_fulls, v_owners, v_names) AS u(gid, full_name, owner, name)
  ), holders AS (
    SELECT DISTINCT rp.id, rp.full_name AS old_full_name
    FROM repositories rp JOIN s ON (rp.full_name = s.full_name OR (rp.owner = s.owner AND rp.name = s.name))
                                AND rp.github_id <> s.gid
  ), moved AS (
    UPDATE repositories rp
       SET full_name = rp.full_name || '__renamed_' || rp.github_id,
           name = rp.name || '__renamed_' || rp.github_id,
           last_updated_at = now()
      FROM holders h
     WHERE rp.id = h.id
    RETURNING rp.github_id, h.old_full_name, rp.full_name AS new_full_name
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', m.github_id, 'from', m.old_full_name, 'to', m.new_full_name)
                  ORDER BY m.github_id) FILTER (WHERE m.github_id NOT IN (SELECT gid FROM s)), '[]'::jsonb)
    INTO v_renamed
    FROM moved m;

  -- 3. upsert with the presence rule (the names of step 1 are recomputed from the stage: joining
  --    the arrays back to the stage would join two sets without statistics)
  WITH d AS (
    SELECT DISTINCT ON (s.github_id) s.*
    FROM pg_temp.progcap_stage_repositories s
    WHERE s.github_id IS NOT NULL
    ORDER BY s.github_id, s._ord DESC
  ), n AS (
    SELECT d.*,
           coalesce(nullif(d.full_name, ''),
                    CASE WHEN nullif(d.owner, '') IS NOT NULL AND nullif(d.name, '') IS NOT NULL
                         THEN d.owner || '/' || d.name END) AS n_full_name,
           coalesce(nullif(d.owner, ''), nullif(split_part(d.full_name, '/', 1), '')) AS n_owner,
           coalesce(nullif(d.name, ''), nullif(substr(d.full_name, strpos(d.full_name, '/') + 1), '')) AS n_name
    FROM d
  ), k AS (
    SELECT n.*, row_number() OVER (PARTITION BY n.n_full_name ORDER BY n._ord DESC) AS fn_rank
    FROM n
    WHERE NOT (n.n_full_name IS NULL OR n.n_owner IS NULL OR n.n_name IS NULL OR strpos(n.n_full_name, '/') = 0)
  ), u AS (
    SELECT k.*, k.github_id AS gid,
           CASE WHEN k.fn_rank = 1 THEN k.n_full_name ELSE k.n_full_name || '__renamed_' || k.github_id END AS f_full_name,
           CASE WHEN k.fn_rank = 1 THEN k.n_name ELSE k.n_name || '__renamed_' || k.github_id END AS f_name
    FROM k
  ), v AS (
    SELECT s.gid, s.f_full_name AS full_name, s.n_owner AS owner, s.f_name AS name,
      CASE WHEN 'description' = ANY (s._absent) THEN cur.description ELSE s.description END AS description,
      CASE WHEN 'homepage'    = ANY (s._absent) THEN cur.homepage    ELSE s.homepage    END AS homepage,
      CASE WHEN 'language'    = ANY (s._absent) THEN cur.language    ELSE s.language    END AS language,
      CASE WHEN 'stargazers_count' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.stargazers_count ELSE 0 END
           ELSE s.stargazers_count END AS stargazers_count,
      CASE WHEN 'watchers_count' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.watchers_count ELSE 0 END
           ELSE s.watchers_count END AS watchers_count,
      CASE WHEN 'forks_count' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.forks_count ELSE 0 END
           ELSE s.forks_count END AS forks_count,
      CASE WHEN 'open_issues_count' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.open_issues_count ELSE 0 END
           ELSE s.open_issues_count END AS open_issues_count,
      CASE WHEN 'size' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.size ELSE 0 END
           ELSE s.size END AS size,
      CASE WHEN 'default_branch' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.default_branch ELSE 'main' END
           ELSE s.default_branch END AS default_branch,
      CASE WHEN 'is_fork' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.is_fork ELSE false END
           ELSE s.is_fork END AS is_fork,
      CASE WHEN 'is_archived' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.is_archived ELSE false END
           ELSE s.is_archived END AS is_archived,
      CASE WHEN 'is_disabled' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.is_disabled ELSE false END
           ELSE s.is_disabled END AS is_disabled,
      CASE WHEN 'is_private' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.is_private ELSE false END
           ELSE s.is_private END AS is_private,
      CASE WHEN 'has_issues' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.has_issues ELSE true END
           ELSE s.has_issues END AS has_issues,
      CASE WHEN 'has_projects' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.has_projects ELSE true END
           ELSE s.has_projects END AS has_projects,
      CASE WHEN 'has_wiki' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.has_wiki ELSE true END
           ELSE s.has_wiki END AS has_wiki,
      CASE WHEN 'has_pages' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.has_pages ELSE false END
           ELSE s.has_pages END AS has_pages,
      CASE WHEN 'has_downloads' = ANY (s._absent) THEN CASE WHEN cur.id IS NOT NULL THEN cur.has_downloads ELSE true END
           ELSE s.has_downloads END AS has_downloads,
      CASE WHEN 'license' = ANY (s._absent) THEN cur.license ELSE s.license END AS license,
      CASE WHEN 'topics' = ANY (s._absent) THEN cur.topics
           WHEN jsonb_typeof(s.topics) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(s.topics))
           ELSE NULL END AS topics,
      CASE WHEN 'github_created_at' = ANY (s._absent) THEN cur.github_created_at ELSE s.github_created_at END AS github_created_at,
      CASE WHEN 'github_updated_at' = ANY (s._absent) THEN cur.github_updated_at ELSE s.github_updated_at END AS github_updated_at,
      CASE WHEN 'github_pushed_at'  = ANY (s._absent) THEN cur.github_pushed_at  ELSE s.github_pushed_at  END AS github_pushed_at
    FROM u s
    LEFT JOIN LATERAL (SELECT x.* FROM repositories x WHERE x.github_id = s.gid LIMIT 1) cur ON true
  ), w AS (
    INSERT INTO repositories AS rp (github_id, full_name, owner, name, description, homepage, language,
        stargazers_count, watchers_count, forks_count, open_issues_count, size, default_branch,
        is_fork, is_archived, is_disabled, is_private, has_issues, has_projects, has_wiki, has_pages,
        has_downloads, license, topics, github_created_at, github_updated_at, github_pushed_at)
    SELECT v.gid, v.full_name, v.owner, v.name, v.description, v.homepage, v.language,
        v.stargazers_count, v.watchers_count, v.forks_count, v.open_issues_count, v.size, v.default_branch,
        v.is_fork, v.is_archived, v.is_disabled, v.is_private, v.has_issues, v.has_projects, v.has_wiki,
        v.has_pages, v.has_downloads, v.license, v.topics, v.github_created_at, v.github_updated_at,
        v.github_pushed_at
    FROM v ORDER BY v.gid
    ON CONFLICT (github_id) DO UPDATE SET
        full_name = EXCLUDED.full_name, owner = EXCLUDED.owner, name = EXCLUDED.name,
        description = EXCLUDED.description, homepage = EXCLUDED.homepage, language = EXCLUDED.language,
        stargazers_count = EXCLUDED.stargazers_count, watchers_count = EXCLUDED.watchers_count,
        forks_count = EXCLUDED.forks_count, open_issues_count = EXCLUDED.open_issues_count,
        size = EXCLUDED.size, default_branch = EXCLUDED.default_branch, is_fork = EXCLUDED.is_fork,
        is_archived = EXCLUDED.is_archived, is_disabled = EXCLUDED.is_disabled,
        is_private = EXCLUDED.is_private, has_issues = EXCLUDED.has_issues,
        has_projects = EXCLUDED.has_projects, has_wiki = EXCLUDED.has_wiki, has_pages = EXCLUDED.has_pages,
        has_downloads = EXCLUDED.has_downloads, license = EXCLUDED.license, topics = EXCLUDED.topics,
        github_created_at = EXCLUDED.github_created_at, github_updated_at = EXCLUDED.github_updated_at,
        github_pushed_at = EXCLUDED.github_pushed_at, last_updated_at = now()
     WHERE (rp.full_name, rp.owner, rp.name, rp.description, rp.homepage, rp.language, rp.stargazers_count,
            rp.watchers_count, rp.forks_count, rp.open_issues_count, rp.size, rp.default_branch, rp.is_fork,
            rp.is_archived, rp.is_disabled, rp.is_private, rp.has_issues, rp.has_projects, rp.has_wiki,
            rp.has_pages, rp.has_downloads, rp.license, rp.topics, rp.github_created_at, rp.github_updated_at,
            rp.github_pushed_at)
           IS DISTINCT FROM
           (EXCLUDED.full_name, EXCLUDED.owner, EXCLUDED.name, EXCLUDED.description, EXCLUDED.homepage,
            EXCLUDED.language, EXCLUDED.stargazers_count, EXCLUDED.watchers_count, EXCLUDED.forks_count,
            EXCLUDED.open_issues_count, EXCLUDED.size, EXCLUDED.default_branch, EXCLUDED.is_fork,
            EXCLUDED.is_archived, EXCLUDED.is_disabled, EXCLUDED.is_private, EXCLUDED.has_issues,
            EXCLUDED.has_projects, EXCLUDED.has_wiki, EXCLUDED.has_pages, EXCLUDED.has_downloads,
            EXCLUDED.license, EXCLUDED.topics, EXCLUDED.github_created_at, EXCLUDED.github_updated_at,
            EXCLUDED.github_pushed_at)
    RETURNING (rp.xmax = 0) AS inserted
  )
  SELECT count(*) FILTER (WHERE inserted) AS ins, count(*) FILTER (WHERE NOT inserted) AS upd INTO v_counts FROM w;

  v_result := v_result || jsonb_build_object(
    'accepted', cardinality(v_gids),
    'inserted', v_counts.ins,
    'updated', v_counts.upd,
    'unchanged', cardinality(v_gids) - v_counts.ins - v_counts.upd,
    'renamed', v_renamed);

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', rp.github_id, 'id', rp.id) ORDER BY rp.github_id), '[]'::jsonb)
      FROM repositories rp WHERE rp.github_id = ANY (v_gids)));
  END IF;
  RETURN v_result;
END $fn$;

-- jsonb form: rows = JSON array of repository objects; license may be an SPDX string or GitHub's
-- license object (→ its spdx_id); topics a JSON array. Keys absent from an object keep the stored
-- value (except github_id/full_name/owner/name).
CREATE OR REPLACE FUNCTION progcap_upsert_repositories(rows jsonb, return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_repositories: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  PERFORM progcap_stage_prepare('repositories');
  INSERT INTO pg_temp.progcap_stage_repositories
    (_ord, _absent, _bad_key, github_id, full_name, owner, name, description, homepage, language,
     stargazers_count, watchers_count, forks_count, open_issues_count, size, default_branch, is_fork,
     is_archived, is_disabled, is_private, has_issues, has_projects, has_wiki, has_pages, has_downloads,
     license, topics, github_created_at, github_updated_at, github_pushed_at)
  SELECT e.ord,
         CASE WHEN e.parse THEN (
           SELECT array_agg(k.key ORDER BY k.n) FROM unnest(ARRAY['description', 'homepage', 'language',
             'stargazers_count', 'watchers_count', 'forks_count', 'open_issues_count', 'size', 'default_branch',
             'is_fork', 'is_archived', 'is_disabled', 'is_private', 'has_issues', 'has_projects', 'has_wiki',
             'has_pages', 'has_downloads', 'license', 'topics', 'github_created_at', 'github_updated_at',
             'github_pushed_at']) WITH ORDINALITY AS k(key, n)
           WHERE NOT e.r ? k.key) END,
         CASE WHEN e.gid IS NULL THEN e.r->'github_id' END,
         e.gid, p.full_name, p.owner, p.name, p.description, p.homepage, p.language,
         p.stargazers_count, p.watchers_count, p.forks_count, p.open_issues_count, p.size, p.default_branch,
         p.is_fork, p.is_archived, p.is_disabled, p.is_private, p.has_issues, p.has_projects, p.has_wiki,
         p.has_pages, p.has_downloads,
         CASE WHEN NOT e.parse THEN NULL
              WHEN jsonb_typeof(e.r->'license') = 'object' THEN e.r->'license'->>'spdx_id' ELSE e.r->>'license' END,
         CASE WHEN e.parse THEN e.r->'topics' END,
         p.github_created_at, p.github_updated_at, p.github_pushed_at
  FROM (
    SELECT t.ord::integer AS ord, t.r, k.gid,
           k.gid IS NOT NULL AND row_number() OVER (PARTITION BY k.gid ORDER BY t.ord DESC) = 1 AS parse
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'github_id') ~ '^[0-9]{1,18}$'
                                    THEN (t.r->>'github_id')::bigint END AS gid) k
  ) e
  CROSS JOIN LATERAL jsonb_to_record(CASE WHEN e.parse THEN e.r ELSE '{}'::jsonb END) AS p(
    full_name text, owner text, name text, description text, homepage text, language text,
    stargazers_count integer, watchers_count integer, forks_count integer, open_issues_count integer,
    size integer, default_branch text, is_fork boolean, is_archived boolean, is_disabled boolean,
    is_private boolean, has_issues boolean, has_projects boolean, has_wiki boolean, has_pages boolean,
    has_downloads boolean, github_created_at timestamptz, github_updated_at timestamptz,
    github_pushed_at timestamptz);
  RETURN progcap_merge_repositories(return_ids);
END $fn$;

-- ---------------------------------------------------------------- pull_requests
-- Stage: github_id, repository_github_id, repository_full_name, number, title, body, state
-- ('open'|'closed'; 'merged' needs the production CHECK), draft, merged, merged_at,
-- merged_by_github_id, author_github_id, base_branch, head_branch, additions, deletions,
-- changed_files, commits, mergeable, mergeable_state, created_at, updated_at, closed_at,
-- html_url, diff_url, patch_url.
-- Repository: by repository_github_id; when that is NULL, by repository_full_name
-- (repositories.full_name). The stored repository_github_id is the resolved repository's.
-- NULL = unknown = keep the stored value, for: additions, deletions, changed_files, commits (list
-- payloads lack them, defect P12; new rows store NULL, not a fake 0), mergeable,
-- mergeable_state, draft, merged (derived as true when merged_at is set), merged_by (an unknown
-- merged_by_github_id also keeps it and adds an unresolved_merged_by warning).
-- All other columns take the staged value. repository_full_name defaults to the repository's
-- full_name; base_branch to 'main'.
-- Rejected: missing repository, author_github_id not in contributors (upsert contributors
-- first), (repository, number) already held by another github_id (in the table or later in the
-- same call), missing required fields, bad state.
CREATE OR REPLACE FUNCTION progcap_merge_pull_requests(return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
DECLARE
  v_received        integer;
  v_valid           integer;
  v_invalid         jsonb;
  v_need_ghost      boolean;
  v_author_nullable boolean;
  v_repo_number_unique boolean;
  v_clash           jsonb;
  v_ghost           uuid;
  v_result          jsonb;
  v_rejected        jsonb;
  v_gids            bigint[];
BEGIN
  IF to_regclass('pg_temp.progcap_stage_pull_requests') IS NULL THEN
    RAISE EXCEPTION 'progcap_merge_pull_requests: pg_temp.progcap_stage_pull_requests does not exist in this session'
      USING ERRCODE = '55000', HINT = 'Call progcap_stage_prepare(''pull_requests'') and fill the stage in the same transaction';
  END IF;
  SELECT NOT a.attnotnull INTO v_author_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'pull_requests'::regclass AND a.attname = 'author_id';
  -- is (repository_id, number) unique (pull_requests_repo_number_key; unverified in production)?
  SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_index i
    WHERE i.indrelid = 'pull_requests'::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
      AND i.indnkeyatts = 2
      AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)) = ARRAY['number', 'repository_id'])
    INTO v_repo_number_unique;

  SELECT count(*), count(s.github_id),
         coalesce(jsonb_agg(jsonb_build_object('index', s._ord, 'key', jsonb_build_object('github_id', s._bad_key),
                    'reason', 'invalid_row', 'detail', 'not an object with an integer github_id'))
                  FILTER (WHERE s.github_id IS NULL), '[]'::jsonb),
         coalesce(bool_or(s.github_id IS NOT NULL AND (s.author_github_id = 10137 OR s.merged_by_github_id = 10137
                          OR (NOT v_author_nullable AND s.author_github_id IS NULL))), false)
    INTO v_received, v_valid, v_invalid, v_need_ghost
    FROM pg_temp.progcap_stage_pull_requests s;
  IF v_need_ghost THEN
    v_ghost := progcap_ghost_contributor_id();
  END IF;

  -- (repository, number) claimed by several github_ids of this call: the highest _ord keeps it.
  -- Narrow hash aggregation → {"<repository uuid>/<number>": <winning _ord>} (NULL: no clash), so
  -- the main statement needs no window over the wide rows.
  SELECT jsonb_object_agg(g.k, g.max_ord) INTO v_clash
  FROM (
    SELECT coalesce(rg.id, rf.id)::text || '/' || d."number" AS k, max(d._ord) AS max_ord
    FROM (SELECT DISTINCT ON (s.github_id) s._ord, s.repository_github_id, s.repository_full_name, s."number"
          FROM pg_temp.progcap_stage_pull_requests s
          WHERE s.github_id IS NOT NULL
          ORDER BY s.github_id, s._ord DESC) d
    LEFT JOIN repositories rg ON rg.github_id = d.repository_github_id
    LEFT JOIN repositories rf ON rf.full_name = CASE WHEN d.repository_github_id IS NULL THEN d.repository_full_name END
    WHERE coalesce(rg.id, rf.id) IS NOT NULL AND d."number" IS NOT NULL
    GROUP BY 1
    HAVING count(*) > 1) g;

  WITH d AS (
    SELECT DISTINCT ON (s.github_id) s.*
    FROM pg_temp.progcap_stage_pull_requests s
    WHERE s.github_id IS NOT NULL
    ORDER BY s.github_id, s._ord DESC
  ), j AS (
    SELECT d.*, coalesce(rg.id, rf.id) AS repo_id, coalesce(rg.github_id, rf.github_id) AS repo_gid,
           coalesce(rg.full_name, rf.full_name) AS repo_full_name, au.id AS au_id, mb.id AS mb_id,
           cur.repository_id AS cur_repository_id, cur."number" AS cur_number, cur.draft AS cur_draft, cur.mergeable AS cur_mergeable, cur.mergeable_state AS cur_mergeable_state,
           cur.merged AS cur_merged, cur.merged_by_id AS cur_merged_by_id, cur.additions AS cur_additions,
           cur.deletions AS cur_deletions, cur.changed_files AS cur_changed_files, cur.commits AS cur_commits
    FROM d
    LEFT JOIN repositories rg ON rg.github_id = d.repository_github_id
    LEFT JOIN repositories rf ON rf.full_name = CASE WHEN d.repository_github_id IS NULL THEN d.repository_full_name END
    -- lookups into tables that can be large: LATERAL … LIMIT 1 is always a per-row index probe,
    -- whatever the (possibly stale) statistics say; a hash or merge join would read the whole table
    LEFT JOIN LATERAL (SELECT x.id FROM contributors x WHERE x.github_id = d.author_github_id LIMIT 1) au ON true
    LEFT JOIN LATERAL (SELECT x.id FROM contributors x WHERE x.github_id = d.merged_by_github_id LIMIT 1) mb ON true
    LEFT JOIN LATERAL (SELECT x.repository_id, x."number", x.draft, x.mergeable, x.mergeable_state, x.merged,
                              x.merged_by_id, x.additions, x.deletions, x.changed_files, x.commits
                       FROM pull_requests x WHERE x.github_id = d.github_id LIMIT 1) cur ON true
  ), r AS MATERIALIZED (
    SELECT j.*,
      CASE
        WHEN (j.repository_github_id IS NULL AND j.repository_full_name IS NULL) OR j."number" IS NULL
             OR j.title IS NULL OR j.head_branch IS NULL OR j.created_at IS NULL OR j.updated_at IS NULL
          THEN 'missing_field'
        WHEN j.state IS NULL OR j.state NOT IN ('open', 'closed', 'merged') THEN 'invalid_value'
        WHEN j.repo_id IS NULL THEN 'missing_repository'
        WHEN j.author_github_id IS NOT NULL AND j.au_id IS NULL THEN 'missing_author'
        WHEN (v_clash IS NOT NULL AND (v_clash->>(j.repo_id::text || '/' || j."number"))::integer > j._ord)
             -- a stored row keeping its (repository, number) cannot clash when that pair is unique
             OR ((NOT v_repo_number_unique OR j.cur_repository_id IS DISTINCT FROM j.repo_id
                  OR j.cur_number IS DISTINCT FROM j."number")
                 AND EXISTS (SELECT 1 FROM pull_requests ex
                             WHERE ex.repository_id = j.repo_id AND ex."number" = j."number" AND ex.github_id <> j.github_id))
          THEN 'repository_number_taken'
      END AS reason
    FROM j
  ), w AS (
    INSERT INTO pull_requests AS pr (github_id, repository_id, repository_github_id, repository_full_name,
        "number", title, body, state, author_id, author_github_id, base_branch, head_branch, draft,
        mergeable, mergeable_state, merged, merged_by_id, created_at, updated_at, merged_at, closed_at,
        additions, deletions, changed_files, commits, html_url, diff_url, patch_url)
    SELECT o.github_id, o.repo_id, o.repo_gid, coalesce(o.repository_full_name, o.repo_full_name),
        o."number", o.title, o.body, o.state,
        CASE WHEN o.au_id IS NOT NULL THEN o.au_id WHEN v_author_nullable THEN NULL ELSE v_ghost END,
        o.author_github_id, coalesce(o.base_branch, 'main'), o.head_branch,
        coalesce(o.draft, o.cur_draft, false),
        coalesce(o.mergeable, o.cur_mergeable),
        coalesce(o.mergeable_state, o.cur_mergeable_state),
        coalesce(o.merged, CASE WHEN o.merged_at IS NOT NULL THEN true END, o.cur_merged, false),
        coalesce(o.mb_id, o.cur_merged_by_id),
        o.created_at, o.updated_at, o.merged_at, o.closed_at,
        coalesce(o.additions, o.cur_additions), coalesce(o.deletions, o.cur_deletions),
        coalesce(o.changed_files, o.cur_changed_files), coalesce(o.commits, o.cur_commits),
        o.html_url, o.diff_url, o.patch_url
    FROM r o WHERE o.reason IS NULL ORDER BY o.github_id
    ON CONFLICT (github_id) DO UPDATE SET
        repository_id = EXCLUDED.repository_id, repository_github_id = EXCLUDED.repository_github_id,
        repository_full_name = EXCLUDED.repository_full_name, "number" = EXCLUDED."number",
        title = EXCLUDED.title, body = EXCLUDED.body, state = EXCLUDED.state, author_id = EXCLUDED.author_id,
        author_github_id = EXCLUDED.author_github_id, base_branch = EXCLUDED.base_branch,
        head_branch = EXCLUDED.head_branch, draft = EXCLUDED.draft, mergeable = EXCLUDED.mergeable,
        mergeable_state = EXCLUDED.mergeable_state, merged = EXCLUDED.merged, merged_by_id = EXCLUDED.merged_by_id,
        created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, merged_at = EXCLUDED.merged_at,
        closed_at = EXCLUDED.closed_at, additions = EXCLUDED.additions, deletions = EXCLUDED.deletions,
        changed_files = EXCLUDED.changed_files, commits = EXCLUDED.commits, html_url = EXCLUDED.html_url,
        diff_url = EXCLUDED.diff_url, patch_url = EXCLUDED.patch_url, last_synced_at = now()
     WHERE (pr.repository_id, pr.repository_github_id, pr.repository_full_name, pr."number", pr.title, pr.body,
            pr.state, pr.author_id, pr.author_github_id, pr.base_branch, pr.head_branch, pr.draft, pr.mergeable,
            pr.mergeable_state, pr.merged, pr.merged_by_id, pr.created_at, pr.updated_at, pr.merged_at,
            pr.closed_at, pr.additions, pr.deletions, pr.changed_files, pr.commits, pr.html_url, pr.diff_url,
            pr.patch_url)
           IS DISTINCT FROM
           (EXCLUDED.repository_id, EXCLUDED.repository_github_id, EXCLUDED.repository_full_name,
            EXCLUDED."number", EXCLUDED.title, EXCLUDED.body, EXCLUDED.state, EXCLUDED.author_id,
            EXCLUDED.author_github_id, EXCLUDED.base_branch, EXCLUDED.head_branch, EXCLUDED.draft,
            EXCLUDED.mergeable, EXCLUDED.mergeable_state, EXCLUDED.merged, EXCLUDED.merged_by_id,
            EXCLUDED.created_at, EXCLUDED.updated_at, EXCLUDED.merged_at, EXCLUDED.closed_at,
            EXCLUDED.additions, EXCLUDED.deletions, EXCLUDED.changed_files, EXCLUDED.commits,
            EXCLUDED.html_url, EXCLUDED.diff_url, EXCLUDED.patch_url)
    RETURNING (pr.xmax = 0) AS inserted
  )
  SELECT jsonb_build_object(
      'table', 'pull_requests',
      'received', v_received,
      'accepted', a.ok,
      'duplicates', v_valid - a.n,
      'inserted', wc.ins,
      'updated', wc.upd,
      'unchanged', a.ok - wc.ins - wc.upd,
      'warnings', a.warnings),
    a.rejected, a.ids
  INTO v_result, v_rejected, v_gids
  FROM (SELECT count(*) AS n, count(*) FILTER (WHERE r.reason IS NULL) AS ok,
               -- detail texts are only built for rejected rows (FILTER is checked before the arguments)
               coalesce(jsonb_agg(jsonb_build_object('index', r._ord, 'key', jsonb_build_object('github_id', r.github_id),
                   'reason', r.reason, 'detail', CASE r.reason
                     WHEN 'missing_field' THEN
                       concat_ws(', ', CASE WHEN r.repository_github_id IS NULL AND r.repository_full_name IS NULL
                                            THEN 'repository_github_id' END,
                                       CASE WHEN r."number" IS NULL THEN 'number' END,
                                       CASE WHEN r.title IS NULL THEN 'title' END,
                                       CASE WHEN r.head_branch IS NULL THEN 'head_branch' END,
                                       CASE WHEN r.created_at IS NULL THEN 'created_at' END,
                                       CASE WHEN r.updated_at IS NULL THEN 'updated_at' END)
                     WHEN 'invalid_value' THEN format('state=%s', r.state)
                     WHEN 'missing_repository' THEN
                       CASE WHEN r.repository_github_id IS NOT NULL
                            THEN format('repository_github_id %s not found in repositories', r.repository_github_id)
                            ELSE format('repository_full_name %s not found in repositories', r.repository_full_name) END
                     WHEN 'missing_author' THEN format('author_github_id %s not found in contributors', r.author_github_id)
                     ELSE coalesce(
                       (SELECT format('(repository, number %s) is held by github_id %s', r."number", ex.github_id)
                        FROM pull_requests ex
                        WHERE ex.repository_id = r.repo_id AND ex."number" = r."number" AND ex.github_id <> r.github_id
                        ORDER BY ex.github_id LIMIT 1),
                       format('(repository, number %s) is claimed by a later row of this call', r."number"))
                     END)
                 ORDER BY r._ord) FILTER (WHERE r.reason IS NOT NULL), '[]'::jsonb) AS rejected,
               coalesce(jsonb_agg(jsonb_build_object('index', r._ord, 'key', jsonb_build_object('github_id', r.github_id),
                   'reason', 'unresolved_merged_by',
                   'detail', format('merged_by_github_id %s not found in contributors; merged_by kept', r.merged_by_github_id))
                 ORDER BY r._ord) FILTER (WHERE r.reason IS NULL AND r.merged_by_github_id IS NOT NULL AND r.mb_id IS NULL),
                 '[]'::jsonb) AS warnings,
               array_agg(r.github_id) FILTER (WHERE return_ids AND r.reason IS NULL) AS ids
        FROM r) a,
       (SELECT count(*) FILTER (WHERE w.inserted) AS ins, count(*) FILTER (WHERE NOT w.inserted) AS upd FROM w) wc;

  IF v_invalid <> '[]'::jsonb THEN
    SELECT jsonb_agg(x.o ORDER BY (x.o->>'index')::integer) INTO v_rejected
      FROM (SELECT jsonb_array_elements(v_invalid) AS o UNION ALL SELECT jsonb_array_elements(v_rejected)) x;
  END IF;
  v_result := v_result || jsonb_build_object('rejected', v_rejected);

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', pr.github_id, 'id', pr.id) ORDER BY pr.github_id), '[]'::jsonb)
      FROM pull_requests pr WHERE pr.github_id = ANY (v_gids)));
  END IF;
  RETURN v_result;
END $fn$;

-- jsonb form: rows = JSON array of PR capture-stream objects (keys as the stage columns).
CREATE OR REPLACE FUNCTION progcap_upsert_pull_requests(rows jsonb, return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_pull_requests: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  PERFORM progcap_stage_prepare('pull_requests');
  INSERT INTO pg_temp.progcap_stage_pull_requests
    (_ord, _bad_key, github_id, repository_github_id, repository_full_name, "number", title, body, state, draft,
     merged, merged_at, merged_by_github_id, author_github_id, base_branch, head_branch, additions, deletions,
     changed_files, commits, mergeable, mergeable_state, created_at, updated_at, closed_at, html_url, diff_url,
     patch_url)
  SELECT e.ord, CASE WHEN e.gid IS NULL THEN e.r->'github_id' END, e.gid, p.*
  FROM (
    SELECT t.ord::integer AS ord, t.r, k.gid,
           k.gid IS NOT NULL AND row_number() OVER (PARTITION BY k.gid ORDER BY t.ord DESC) = 1 AS parse
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'github_id') ~ '^[0-9]{1,18}$'
                                    THEN (t.r->>'github_id')::bigint END AS gid) k
  ) e
  CROSS JOIN LATERAL jsonb_to_record(CASE WHEN e.parse THEN e.r ELSE '{}'::jsonb END) AS p(
    repository_github_id bigint, repository_full_name text, "number" integer, title text, body text,
    state text, draft boolean, merged boolean, merged_at timestamptz, merged_by_github_id bigint,
    author_github_id bigint, base_branch text, head_branch text, additions integer, deletions integer,
    changed_files integer, commits integer, mergeable boolean, mergeable_state text,
    created_at timestamptz, updated_at timestamptz, closed_at timestamptz, html_url text, diff_url text,
    patch_url text);
  RETURN progcap_merge_pull_requests(return_ids);
END $fn$;

-- ---------------------------------------------------------------- reviews
-- Stage: github_id, pull_request_github_id, repository_github_id, repository_full_name,
-- author_github_id, state (upper-cased here), body, submitted_at, commit_id.
-- The pull request must exist (else rejected: missing_pull_request); repository_id is taken from
-- the pull request, or, when the PR row has none, from repository_github_id (when that is NULL:
-- repository_full_name). author_id and the legacy reviewer_id both receive the author (ghost rule
-- for a NULL author).
CREATE OR REPLACE FUNCTION progcap_merge_reviews(return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
DECLARE
  v_received        integer;
  v_valid           integer;
  v_invalid         jsonb;
  v_need_ghost      boolean;
  v_author_nullable boolean;
  v_repo_nullable   boolean;
  v_ghost           uuid;
  v_result          jsonb;
  v_rejected        jsonb;
  v_gids            bigint[];
BEGIN
  IF to_regclass('pg_temp.progcap_stage_reviews') IS NULL THEN
    RAISE EXCEPTION 'progcap_merge_reviews: pg_temp.progcap_stage_reviews does not exist in this session'
      USING ERRCODE = '55000', HINT = 'Call progcap_stage_prepare(''reviews'') and fill the stage in the same transaction';
  END IF;
  SELECT NOT a.attnotnull INTO v_author_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'reviews'::regclass AND a.attname = 'author_id';
  SELECT NOT a.attnotnull INTO v_repo_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'reviews'::regclass AND a.attname = 'repository_id';

  SELECT count(*), count(s.github_id),
         coalesce(jsonb_agg(jsonb_build_object('index', s._ord, 'key', jsonb_build_object('github_id', s._bad_key),
                    'reason', 'invalid_row', 'detail', 'not an object with an integer github_id'))
                  FILTER (WHERE s.github_id IS NULL), '[]'::jsonb),
         coalesce(bool_or(s.github_id IS NOT NULL AND (s.author_github_id = 10137
                          OR (NOT v_author_nullable AND s.author_github_id IS NULL))), false)
    INTO v_received, v_valid, v_invalid, v_need_ghost
    FROM pg_temp.progcap_stage_reviews s;
  IF v_need_ghost THEN
    v_ghost := progcap_ghost_contributor_id();
  END IF;

  WITH d AS (
    SELECT DISTINCT ON (s.github_id) s.*
    FROM pg_temp.progcap_stage_reviews s
    WHERE s.github_id IS NOT NULL
    ORDER BY s.github_id, s._ord DESC
  ), j AS (
    SELECT d._ord, d.github_id, d.pull_request_github_id, d.repository_github_id, d.repository_full_name,
           d.author_github_id, upper(d.state) AS state, d.body, d.submitted_at, d.commit_id,
           pr.id AS pr_id, au.id AS au_id,
           -- the repository of the PR; the staged one only when the PR row has none (evaluated lazily)
           coalesce(pr.repository_id,
                    (SELECT rp.id FROM repositories rp WHERE rp.github_id = d.repository_github_id),
                    (SELECT rp.id FROM repositories rp
                     WHERE d.repository_github_id IS NULL AND rp.full_name = d.repository_full_name)) AS repo_id
    FROM d
    -- per-row index probes whatever the statistics say (see progcap_merge_pull_requests)
    LEFT JOIN LATERAL (SELECT x.id, x.repository_id FROM pull_requests x
                       WHERE x.github_id = d.pull_request_github_id LIMIT 1) pr ON true
    LEFT JOIN LATERAL (SELECT x.id FROM contributors x WHERE x.github_id = d.author_github_id LIMIT 1) au ON true
  ), r AS MATERIALIZED (
    SELECT j.*,
      CASE
        WHEN j.pull_request_github_id IS NULL OR j.submitted_at IS NULL THEN 'missing_field'
        WHEN j.state IS NULL OR j.state NOT IN ('PENDING', 'APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED')
          THEN 'invalid_value'
        WHEN j.pr_id IS NULL THEN 'missing_pull_request'
        WHEN j.author_github_id IS NOT NULL AND j.au_id IS NULL THEN 'missing_author'
        WHEN j.repo_id IS NULL AND NOT v_repo_nullable THEN 'missing_repository'
      END AS reason
    FROM j
  ), w AS (
    INSERT INTO reviews AS rv (github_id, pull_request_id, repository_id, author_id, reviewer_id, state, body,
                               submitted_at, commit_id)
    SELECT o.github_id, o.pr_id, o.repo_id, o.author_uuid, o.author_uuid, o.state, o.body, o.submitted_at, o.commit_id
    FROM (SELECT r.*, CASE WHEN r.au_id IS NOT NULL THEN r.au_id WHEN v_author_nullable THEN NULL ELSE v_ghost END AS author_uuid
          FROM r WHERE r.reason IS NULL) o
    ORDER BY o.github_id
    ON CONFLICT (github_id) DO UPDATE SET
        pull_request_id = EXCLUDED.pull_request_id, repository_id = EXCLUDED.repository_id,
        author_id = EXCLUDED.author_id, reviewer_id = EXCLUDED.reviewer_id, state = EXCLUDED.state,
        body = EXCLUDED.body, submitted_at = EXCLUDED.submitted_at, commit_id = EXCLUDED.commit_id
     WHERE (rv.pull_request_id, rv.repository_id, rv.author_id, rv.reviewer_id, rv.state, rv.body, rv.submitted_at,
            rv.commit_id)
           IS DISTINCT FROM
           (EXCLUDED.pull_request_id, EXCLUDED.repository_id, EXCLUDED.author_id, EXCLUDED.reviewer_id,
            EXCLUDED.state, EXCLUDED.body, EXCLUDED.submitted_at, EXCLUDED.commit_id)
    RETURNING (rv.xmax = 0) AS inserted
  )
  SELECT jsonb_build_object(
      'table', 'reviews',
      'received', v_received,
      'accepted', a.ok,
      'duplicates', v_valid - a.n,
      'inserted', wc.ins,
      'updated', wc.upd,
      'unchanged', a.ok - wc.ins - wc.upd,
      'warnings', a.warnings),
    a.rejected, a.ids
  INTO v_result, v_rejected, v_gids
  FROM (SELECT count(*) AS n, count(*) FILTER (WHERE r.reason IS NULL) AS ok,
               -- detail texts are only built for rejected rows (FILTER is checked before the arguments)
               coalesce(jsonb_agg(jsonb_build_object('index', r._ord, 'key', jsonb_build_object('github_id', r.github_id),
                   'reason', r.reason, 'detail', CASE r.reason
                     WHEN 'missing_field' THEN
                       concat_ws(', ', CASE WHEN r.pull_request_github_id IS NULL THEN 'pull_request_github_id' END,
                                       CASE WHEN r.submitted_at IS NULL THEN 'submitted_at' END)
                     WHEN 'invalid_value' THEN format('state=%s', r.state)
                     WHEN 'missing_pull_request' THEN
                       format('pull_request_github_id %s not found in pull_requests', r.pull_request_github_id)
                     WHEN 'missing_author' THEN format('author_github_id %s not found in contributors', r.author_github_id)
                     ELSE 'no repository for the pull request'
                     END)
                 ORDER BY r._ord) FILTER (WHERE r.reason IS NOT NULL), '[]'::jsonb) AS rejected,
               '[]'::jsonb AS warnings,
               array_agg(r.github_id) FILTER (WHERE return_ids AND r.reason IS NULL) AS ids
        FROM r) a,
       (SELECT count(*) FILTER (WHERE w.inserted) AS ins, count(*) FILTER (WHERE NOT w.inserted) AS upd FROM w) wc;

  IF v_invalid <> '[]'::jsonb THEN
    SELECT jsonb_agg(x.o ORDER BY (x.o->>'index')::integer) INTO v_rejected
      FROM (SELECT jsonb_array_elements(v_invalid) AS o UNION ALL SELECT jsonb_array_elements(v_rejected)) x;
  END IF;
  v_result := v_result || jsonb_build_object('rejected', v_rejected);

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', rv.github_id, 'id', rv.id) ORDER BY rv.github_id), '[]'::jsonb)
      FROM reviews rv WHERE rv.github_id = ANY (v_gids)));
  END IF;
  RETURN v_result;
END $fn$;

-- jsonb form: rows = JSON array of review objects (keys as the stage columns).
CREATE OR REPLACE FUNCTION progcap_upsert_reviews(rows jsonb, return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_reviews: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  PERFORM progcap_stage_prepare('reviews');
  INSERT INTO pg_temp.progcap_stage_reviews
    (_ord, _bad_key, github_id, pull_request_github_id, repository_github_id, repository_full_name,
     author_github_id, state, body, submitted_at, commit_id)
  SELECT e.ord, CASE WHEN e.gid IS NULL THEN e.r->'github_id' END, e.gid, p.*
  FROM (
    SELECT t.ord::integer AS ord, t.r, k.gid,
           k.gid IS NOT NULL AND row_number() OVER (PARTITION BY k.gid ORDER BY t.ord DESC) = 1 AS parse
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'github_id') ~ '^[0-9]{1,18}$'
                                    THEN (t.r->>'github_id')::bigint END AS gid) k
  ) e
  CROSS JOIN LATERAL jsonb_to_record(CASE WHEN e.parse THEN e.r ELSE '{}'::jsonb END) AS p(
    pull_request_github_id bigint, repository_github_id bigint, repository_full_name text,
    author_github_id bigint, state text, body text, submitted_at timestamptz, commit_id text);
  RETURN progcap_merge_reviews(return_ids);
END $fn$;

-- ---------------------------------------------------------------- comments
-- Stage: github_id, comment_type ('issue_comment'|'review_comment'), pull_request_github_id,
-- repository_github_id, repository_full_name, pull_request_number, commenter_github_id, body,
-- created_at, updated_at, in_reply_to_github_id, review_github_id (accepted and ignored: no such
-- column), position, original_position, diff_hunk, path, commit_id, original_commit_id.
-- Pull request: by pull_request_github_id; when that is NULL, by (repository, pull_request_number)
-- where the repository is repository_github_id or, when that is NULL, repository_full_name.
-- repository_id comes from the pull request (the staged repository when the PR row has none).
-- PR comments only (issue_id stays NULL). in_reply_to_github_id is resolved to the parent's
-- UUID, also when the parent arrives in the same call (any order: new rows get their id assigned
-- here, and the foreign key is checked at the end of the statement); a parent that cannot be
-- found keeps the stored link, adds an unresolved_in_reply_to warning and waits in
-- progcap_pending_replies: the merge that stores the parent links it ("replies_linked" in the
-- result) and forgets it. REST lists a repository's review
-- comments by update time, so a reply routinely arrives in an earlier batch than its parent.
CREATE TABLE IF NOT EXISTS progcap_pending_replies (
  comment_github_id bigint PRIMARY KEY,
  parent_github_id  bigint NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS progcap_pending_replies_parent ON progcap_pending_replies (parent_github_id);
COMMENT ON TABLE progcap_pending_replies IS
  'progcap: review-comment replies stored before their parent; linked (and removed) by progcap_merge_comments';

CREATE OR REPLACE FUNCTION progcap_merge_comments(return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
DECLARE
  v_received           integer;
  v_valid              integer;
  v_invalid            jsonb;
  v_need_ghost         boolean;
  v_commenter_nullable boolean;
  v_repo_nullable      boolean;
  v_ghost              uuid;
  v_result             jsonb;
  v_rejected           jsonb;
  v_gids               bigint[];
  v_linked             integer := 0;
BEGIN
  IF to_regclass('pg_temp.progcap_stage_comments') IS NULL THEN
    RAISE EXCEPTION 'progcap_merge_comments: pg_temp.progcap_stage_comments does not exist in this session'
      USING ERRCODE = '55000', HINT = 'Call progcap_stage_prepare(''comments'') and fill the stage in the same transaction';
  END IF;
  SELECT NOT a.attnotnull INTO v_commenter_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'comments'::regclass AND a.attname = 'commenter_id';
  SELECT NOT a.attnotnull INTO v_repo_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'comments'::regclass AND a.attname = 'repository_id';

  SELECT count(*), count(s.github_id),
         coalesce(jsonb_agg(jsonb_build_object('index', s._ord, 'key', jsonb_build_object('github_id', s._bad_key),
                    'reason', 'invalid_row', 'detail', 'not an object with an integer github_id'))
                  FILTER (WHERE s.github_id IS NULL), '[]'::jsonb),
         coalesce(bool_or(s.github_id IS NOT NULL AND (s.commenter_github_id = 10137
                          OR (NOT v_commenter_nullable AND s.commenter_github_id IS NULL))), false)
    INTO v_received, v_valid, v_invalid, v_need_ghost
    FROM pg_temp.progcap_stage_comments s;
  IF v_need_ghost THEN
    v_ghost := progcap_ghost_contributor_id();
  END IF;

  WITH d AS (
    SELECT DISTINCT ON (s.github_id) s.*
    FROM pg_temp.progcap_stage_comments s
    WHERE s.github_id IS NOT NULL
    ORDER BY s.github_id, s._ord DESC
  ), j0 AS (
    SELECT d.*, pg.id AS pg_id, pg.repository_id AS pg_repo_id, au.id AS au_id, cur.id AS cur_id,
           cur.in_reply_to_id AS cur_reply, par.id AS par_id,
           -- the staged repository, only looked up when needed (no PR row, or a PR row without one)
           CASE WHEN pg.repository_id IS NULL THEN coalesce(
                  (SELECT rp.id FROM repositories rp WHERE rp.github_id = d.repository_github_id),
                  (SELECT rp.id FROM repositories rp
                   WHERE d.repository_github_id IS NULL AND rp.full_name = d.repository_full_name)) END AS repo_in
    FROM d
    -- per-row index probes whatever the statistics say (see progcap_merge_pull_requests)
    LEFT JOIN LATERAL (SELECT x.id, x.repository_id FROM pull_requests x
                       WHERE x.github_id = d.pull_request_github_id LIMIT 1) pg ON true
    LEFT JOIN LATERAL (SELECT x.id FROM contributors x WHERE x.github_id = d.commenter_github_id LIMIT 1) au ON true
    LEFT JOIN LATERAL (SELECT x.id, x.in_reply_to_id FROM comments x WHERE x.github_id = d.github_id LIMIT 1) cur ON true
    LEFT JOIN LATERAL (SELECT x.id FROM comments x
                       WHERE x.github_id = d.in_reply_to_github_id AND d.in_reply_to_github_id <> d.github_id
                       LIMIT 1) par ON true
  ), j AS (
    SELECT j0.*,
           coalesce(j0.pg_id,
                    CASE WHEN j0.pull_request_github_id IS NULL AND j0.repo_in IS NOT NULL THEN
                      (SELECT p.id FROM pull_requests p
                       WHERE p.repository_id = j0.repo_in AND p."number" = j0.pull_request_number LIMIT 1) END) AS pr_id,
           coalesce(j0.pg_repo_id, j0.repo_in) AS repo_id
    FROM j0
  ), r AS MATERIALIZED (
    SELECT j.*,
      CASE
        WHEN (j.pull_request_github_id IS NULL
              AND (j.pull_request_number IS NULL OR (j.repository_github_id IS NULL AND j.repository_full_name IS NULL)))
             OR j.body IS NULL OR j.created_at IS NULL OR j.updated_at IS NULL
          THEN 'missing_field'
        WHEN j.comment_type IS NULL OR j.comment_type NOT IN ('issue_comment', 'review_comment') THEN 'invalid_value'
        WHEN j.pr_id IS NULL THEN 'missing_pull_request'
        WHEN j.commenter_github_id IS NOT NULL AND j.au_id IS NULL THEN 'missing_author'
        WHEN j.repo_id IS NULL AND NOT v_repo_nullable THEN 'missing_repository'
      END AS reason,
      coalesce(j.cur_id, gen_random_uuid()) AS new_id
    FROM j
  ), m AS (
    -- github_id → id of the accepted rows, for replies whose parent is in this call. A jsonb map
    -- (built once, only when a reply needs it) instead of a self-join: the stage has no
    -- statistics, and a misestimated self-join would be quadratic.
    SELECT jsonb_object_agg(r.github_id::text, r.new_id) AS map FROM r WHERE r.reason IS NULL
  ), w AS (
    INSERT INTO comments AS c (id, github_id, pull_request_id, repository_id, commenter_id, comment_type, body,
        created_at, updated_at, in_reply_to_id, "position", original_position, diff_hunk, path, commit_id,
        original_commit_id)
    SELECT o.new_id, o.github_id, o.pr_id, o.repo_id,
        CASE WHEN o.au_id IS NOT NULL THEN o.au_id WHEN v_commenter_nullable THEN NULL ELSE v_ghost END,
        o.comment_type, o.body, o.created_at, o.updated_at,
        -- parent: stored, else accepted in this call (the map is only built when needed), else
        -- keep the stored link
        coalesce(o.par_id,
                 CASE WHEN o.in_reply_to_github_id <> o.github_id
                      THEN ((SELECT m.map FROM m)->>o.in_reply_to_github_id::text)::uuid END,
                 o.cur_reply),
        o."position", o.original_position, o.diff_hunk, o.path, o.commit_id, o.original_commit_id
    FROM r o
    WHERE o.reason IS NULL
    ORDER BY o.github_id
    ON CONFLICT (github_id) DO UPDATE SET
        pull_request_id = EXCLUDED.pull_request_id, repository_id = EXCLUDED.repository_id,
        commenter_id = EXCLUDED.commenter_id, comment_type = EXCLUDED.comment_type, body = EXCLUDED.body,
        created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, in_reply_to_id = EXCLUDED.in_reply_to_id,
        "position" = EXCLUDED."position", original_position = EXCLUDED.original_position,
        diff_hunk = EXCLUDED.diff_hunk, path = EXCLUDED.path, commit_id = EXCLUDED.commit_id,
        original_commit_id = EXCLUDED.original_commit_id
     WHERE (c.pull_request_id, c.repository_id, c.commenter_id, c.comment_type, c.body, c.created_at, c.updated_at,
            c.in_reply_to_id, c."position", c.original_position, c.diff_hunk, c.path, c.commit_id,
            c.original_commit_id)
           IS DISTINCT FROM
           (EXCLUDED.pull_request_id, EXCLUDED.repository_id, EXCLUDED.commenter_id, EXCLUDED.comment_type,
            EXCLUDED.body, EXCLUDED.created_at, EXCLUDED.updated_at, EXCLUDED.in_reply_to_id, EXCLUDED."position",
            EXCLUDED.original_position, EXCLUDED.diff_hunk, EXCLUDED.path, EXCLUDED.commit_id,
            EXCLUDED.original_commit_id)
    RETURNING (c.xmax = 0) AS inserted
  )
  SELECT jsonb_build_object(
      'table', 'comments',
      'received', v_received,
      'accepted', a.ok,
      'duplicates', v_valid - a.n,
      'inserted', wc.ins,
      'updated', wc.upd,
      'unchanged', a.ok - wc.ins - wc.upd,
      'warnings', a.warnings),
    a.rejected, a.ids
  INTO v_result, v_rejected, v_gids
  FROM (SELECT count(*) AS n, count(*) FILTER (WHERE r.reason IS NULL) AS ok,
               -- detail texts are only built for rejected rows (FILTER is checked before the arguments)
               coalesce(jsonb_agg(jsonb_build_object('index', r._ord, 'key', jsonb_build_object('github_id', r.github_id),
                   'reason', r.reason, 'detail', CASE r.reason
                     WHEN 'missing_field' THEN
                       concat_ws(', ', CASE WHEN r.pull_request_github_id IS NULL
                                             AND (r.pull_request_number IS NULL
                                                  OR (r.repository_github_id IS NULL AND r.repository_full_name IS NULL))
                                            THEN 'pull_request_github_id' END,
                                       CASE WHEN r.body IS NULL THEN 'body' END,
                                       CASE WHEN r.created_at IS NULL THEN 'created_at' END,
                                       CASE WHEN r.updated_at IS NULL THEN 'updated_at' END)
                     WHEN 'invalid_value' THEN format('comment_type=%s', r.comment_type)
                     WHEN 'missing_pull_request' THEN
                       CASE WHEN r.pull_request_github_id IS NOT NULL
                            THEN format('pull_request_github_id %s not found in pull_requests', r.pull_request_github_id)
                            ELSE format('pull request %s#%s not found in pull_requests',
                                        coalesce(r.repository_full_name, 'repository_github_id ' || r.repository_github_id),
                                        r.pull_request_number) END
                     WHEN 'missing_author' THEN format('commenter_github_id %s not found in contributors', r.commenter_github_id)
                     ELSE 'no repository for the pull request'
                     END)
                 ORDER BY r._ord) FILTER (WHERE r.reason IS NOT NULL), '[]'::jsonb) AS rejected,
               coalesce(jsonb_agg(jsonb_build_object('index', r._ord, 'key', jsonb_build_object('github_id', r.github_id),
                   'reason', 'unresolved_in_reply_to',
                   'detail', format('in_reply_to_github_id %s not found in comments yet; linked when it is stored',
                                    r.in_reply_to_github_id))
                 ORDER BY r._ord) FILTER (WHERE r.reason IS NULL AND r.in_reply_to_github_id IS NOT NULL AND r.par_id IS NULL
                                            AND (r.in_reply_to_github_id = r.github_id
                                                 OR NOT (SELECT m.map FROM m) ? r.in_reply_to_github_id::text)),
                 '[]'::jsonb) AS warnings,
               array_agg(r.github_id) FILTER (WHERE return_ids AND r.reason IS NULL) AS ids
        FROM r) a,
       (SELECT count(*) FILTER (WHERE w.inserted) AS ins, count(*) FILTER (WHERE NOT w.inserted) AS upd FROM w) wc;

  -- Replies written without their parent wait for it (the statement above cannot see its own
  -- inserts, so this and the linking below are separate statements).
  IF v_result->'warnings' <> '[]'::jsonb THEN
    INSERT INTO progcap_pending_replies AS p (comment_github_id, parent_github_id)
    SELECT DISTINCT ON (s.github_id) s.github_id, s.in_reply_to_github_id
    FROM pg_temp.progcap_stage_comments s
    WHERE s.github_id IN (SELECT (x->'key'->>'github_id')::bigint FROM jsonb_array_elements(v_result->'warnings') x
                          WHERE x->>'reason' = 'unresolved_in_reply_to')
      AND s.in_reply_to_github_id <> s.github_id
    ORDER BY s.github_id, s._ord DESC
    ON CONFLICT (comment_github_id) DO UPDATE SET parent_github_id = EXCLUDED.parent_github_id, recorded_at = now()
      WHERE p.parent_github_id IS DISTINCT FROM EXCLUDED.parent_github_id;
  END IF;
  -- Link the waiting replies this call can resolve: those whose parent is one of this call's
  -- comments, and this call's own waiting replies (their parent may have been committed by
  -- another session since). Only rows of this call are probed (index lookups, never a scan of
  -- the whole table, which also keeps orphans -- parents never captured -- cheap); they are
  -- locked in key order and rows another session is linking are skipped.
  IF EXISTS (SELECT 1 FROM progcap_pending_replies) THEN
    WITH keys AS (
      SELECT DISTINCT s.github_id FROM pg_temp.progcap_stage_comments s WHERE s.github_id IS NOT NULL
    ), cand AS (
      SELECT x.comment_github_id FROM keys k
      CROSS JOIN LATERAL (SELECT p.comment_github_id FROM progcap_pending_replies p WHERE p.parent_github_id = k.github_id) x
      UNION
      SELECT k.github_id FROM keys k
      WHERE EXISTS (SELECT 1 FROM progcap_pending_replies p WHERE p.comment_github_id = k.github_id)
    ), locked AS (
      SELECT p.comment_github_id, p.parent_github_id FROM progcap_pending_replies p
      WHERE p.comment_github_id IN (SELECT c.comment_github_id FROM cand c)
      ORDER BY p.comment_github_id
      FOR UPDATE SKIP LOCKED
    ), linked AS (
      DELETE FROM progcap_pending_replies p
      USING locked l
      CROSS JOIN LATERAL (SELECT x.id FROM comments x WHERE x.github_id = l.parent_github_id LIMIT 1) par
      WHERE p.comment_github_id = l.comment_github_id
      RETURNING p.comment_github_id, par.id AS parent_id
    ), u AS (
      UPDATE comments c SET in_reply_to_id = l.parent_id
      FROM linked l
      WHERE c.github_id = l.comment_github_id AND c.in_reply_to_id IS DISTINCT FROM l.parent_id
      RETURNING 1
    )
    SELECT count(*) INTO v_linked FROM u;
  END IF;
  v_result := v_result || jsonb_build_object('replies_linked', v_linked);

  IF v_invalid <> '[]'::jsonb THEN
    SELECT jsonb_agg(x.o ORDER BY (x.o->>'index')::integer) INTO v_rejected
      FROM (SELECT jsonb_array_elements(v_invalid) AS o UNION ALL SELECT jsonb_array_elements(v_rejected)) x;
  END IF;
  v_result := v_result || jsonb_build_object('rejected', v_rejected);

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', c.github_id, 'id', c.id) ORDER BY c.github_id), '[]'::jsonb)
      FROM comments c WHERE c.github_id = ANY (v_gids)));
  END IF;
  RETURN v_result;
END $fn$;

-- jsonb form: rows = JSON array of comment objects (keys as the stage columns).
CREATE OR REPLACE FUNCTION progcap_upsert_comments(rows jsonb, return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_comments: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  PERFORM progcap_stage_prepare('comments');
  INSERT INTO pg_temp.progcap_stage_comments
    (_ord, _bad_key, github_id, comment_type, pull_request_github_id, repository_github_id, repository_full_name,
     pull_request_number, commenter_github_id, body, created_at, updated_at, in_reply_to_github_id,
     review_github_id, "position", original_position, diff_hunk, path, commit_id, original_commit_id)
  SELECT e.ord, CASE WHEN e.gid IS NULL THEN e.r->'github_id' END, e.gid, p.comment_type, p.pull_request_github_id,
         p.repository_github_id, p.repository_full_name, p.pull_request_number, p.commenter_github_id, p.body,
         p.created_at, p.updated_at, p.in_reply_to_github_id,
         NULL,   -- review_github_id: accepted with any value and ignored, as before
         p."position", p.original_position, p.diff_hunk, p.path, p.commit_id, p.original_commit_id
  FROM (
    SELECT t.ord::integer AS ord, t.r, k.gid,
           k.gid IS NOT NULL AND row_number() OVER (PARTITION BY k.gid ORDER BY t.ord DESC) = 1 AS parse
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'github_id') ~ '^[0-9]{1,18}$'
                                    THEN (t.r->>'github_id')::bigint END AS gid) k
  ) e
  CROSS JOIN LATERAL jsonb_to_record(CASE WHEN e.parse THEN e.r ELSE '{}'::jsonb END) AS p(
    comment_type text, pull_request_github_id bigint, repository_github_id bigint, repository_full_name text,
    pull_request_number integer, commenter_github_id bigint, body text, created_at timestamptz,
    updated_at timestamptz, in_reply_to_github_id bigint, "position" integer,
    original_position integer, diff_hunk text, path text, commit_id text, original_commit_id text);
  RETURN progcap_merge_comments(return_ids);
END $fn$;

-- ---------------------------------------------------------------- pull_request_files
-- Stage: pull_request_github_id, repository_github_id, filename, status, additions, deletions,
-- changes, previous_filename, patch. Key: (pull_request_github_id, filename).
-- patch: written (NULL included) unless 'patch' is named in _absent, which keeps the stored patch
-- (sources without patches, e.g. GraphQL `files`, do not erase REST patches).
-- replace => true: the call carries the complete file list of each pull request it mentions;
-- files of those pull requests that are not in the call are deleted (counted in "deleted").
-- The "key" of rejected rows is {"pull_request_github_id": n, "filename": "..."} (for an invalid
-- element: _bad_key as set by the jsonb wrapper); "ids" items are
-- {"pull_request_github_id": n, "filename": "...", "id": "<uuid>"}.
CREATE OR REPLACE FUNCTION progcap_merge_pull_request_files(return_ids boolean DEFAULT false,
                                                           replace boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
DECLARE
  v_received      integer;
  v_valid         integer;
  v_invalid       jsonb;
  v_repo_nullable boolean;
  v_result        jsonb;
  v_rejected      jsonb;
  v_deleted       integer;
  v_keys          jsonb;
BEGIN
  IF to_regclass('pg_temp.progcap_stage_pull_request_files') IS NULL THEN
    RAISE EXCEPTION 'progcap_merge_pull_request_files: pg_temp.progcap_stage_pull_request_files does not exist in this session'
      USING ERRCODE = '55000', HINT = 'Call progcap_stage_prepare(''pull_request_files'') and fill the stage in the same transaction';
  END IF;
  SELECT NOT a.attnotnull INTO v_repo_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'pull_request_files'::regclass AND a.attname = 'repository_id';

  SELECT count(*), count(*) FILTER (WHERE s.pull_request_github_id IS NOT NULL AND s.filename <> ''),
         coalesce(jsonb_agg(jsonb_build_object('index', s._ord,
                    'key', coalesce(s._bad_key, jsonb_build_object('pull_request_github_id', s.pull_request_github_id,
                                                                   'filename', s.filename)),
                    'reason', 'invalid_row',
                    'detail', 'not an object with an integer pull_request_github_id and a non-empty filename'))
                  FILTER (WHERE s.pull_request_github_id IS NULL OR coalesce(s.filename, '') = ''), '[]'::jsonb)
    INTO v_received, v_valid, v_invalid
    FROM pg_temp.progcap_stage_pull_request_files s;

  WITH d AS (
    SELECT DISTINCT ON (s.pull_request_github_id, s.filename) s.*
    FROM pg_temp.progcap_stage_pull_request_files s
    WHERE s.pull_request_github_id IS NOT NULL AND s.filename <> ''
    ORDER BY s.pull_request_github_id, s.filename, s._ord DESC
  ), j AS (
    SELECT d.*, pr.id AS pr_id,
           coalesce(pr.repository_id, (SELECT rp.id FROM repositories rp WHERE rp.github_id = d.repository_github_id)) AS repo_id
    -- per-row index probes whatever the statistics say (see progcap_merge_pull_requests)
    FROM d LEFT JOIN LATERAL (SELECT x.id, x.repository_id FROM pull_requests x
                              WHERE x.github_id = d.pull_request_github_id LIMIT 1) pr ON true
  ), r AS MATERIALIZED (
    SELECT j.*,
      CASE
        WHEN j.status IS NOT NULL AND j.status NOT IN ('added', 'removed', 'modified', 'renamed', 'copied',
                                                       'changed', 'unchanged') THEN 'invalid_value'
        WHEN j.pr_id IS NULL THEN 'missing_pull_request'
        WHEN j.repo_id IS NULL AND NOT v_repo_nullable THEN 'missing_repository'
      END AS reason
    FROM j
  ), w AS (
    INSERT INTO pull_request_files AS f (pull_request_id, repository_id, filename, status, additions, deletions,
                                         changes, previous_filename, patch)
    SELECT o.pr_id, o.repo_id, o.filename, o.status, o.additions, o.deletions, o.changes, o.previous_filename,
           CASE WHEN 'patch' = ANY (o._absent) THEN cur.patch ELSE o.patch END
    FROM r o
    LEFT JOIN LATERAL (SELECT x.patch FROM pull_request_files x
                       WHERE x.pull_request_id = o.pr_id AND x.filename = o.filename LIMIT 1) cur ON true
    WHERE o.reason IS NULL
    ORDER BY o.pr_id, o.filename
    ON CONFLICT (pull_request_id, filename) DO UPDATE SET
        repository_id = EXCLUDED.repository_id, status = EXCLUDED.status, additions = EXCLUDED.additions,
        deletions = EXCLUDED.deletions, changes = EXCLUDED.changes, previous_filename = EXCLUDED.previous_filename,
        patch = EXCLUDED.patch, updated_at = now()
     WHERE (f.repository_id, f.status, f.additions, f.deletions, f.changes, f.previous_filename, f.patch)
           IS DISTINCT FROM
           (EXCLUDED.repository_id, EXCLUDED.status, EXCLUDED.additions, EXCLUDED.deletions, EXCLUDED.changes,
            EXCLUDED.previous_filename, EXCLUDED.patch)
    RETURNING (f.xmax = 0) AS inserted
  ), k AS (
    -- replace: the (pull request, filename) keys of this call as a jsonb map (built once; no
    -- anti-join between two stage-derived sets, whose estimates are unreliable)
    SELECT jsonb_object_agg(o.pr_id::text || '/' || o.filename, true) AS map FROM r o WHERE replace AND o.reason IS NULL
  ), del AS (
    -- replace: the other files of the mentioned pull requests (rows of this call are never deleted)
    DELETE FROM pull_request_files f
     WHERE replace
       AND f.pull_request_id IN (SELECT DISTINCT o.pr_id FROM r o WHERE o.reason IS NULL)
       AND NOT (SELECT k.map FROM k) ? (f.pull_request_id::text || '/' || f.filename)
    RETURNING 1
  )
  SELECT jsonb_build_object(
      'table', 'pull_request_files',
      'received', v_received,
      'accepted', a.ok,
      'duplicates', v_valid - a.n,
      'inserted', wc.ins,
      'updated', wc.upd,
      'unchanged', a.ok - wc.ins - wc.upd,
      'warnings', a.warnings),
    a.rejected, a.deleted, a.ids
  INTO v_result, v_rejected, v_deleted, v_keys
  FROM (SELECT count(*) AS n, count(*) FILTER (WHERE r.reason IS NULL) AS ok,
               -- detail texts are only built for rejected rows (FILTER is checked before the arguments)
               coalesce(jsonb_agg(jsonb_build_object('index', r._ord,
                   'key', jsonb_build_object('pull_request_github_id', r.pull_request_github_id, 'filename', r.filename),
                   'reason', r.reason, 'detail', CASE r.reason
                     WHEN 'invalid_value' THEN format('status=%s', r.status)
                     WHEN 'missing_pull_request' THEN
                       format('pull_request_github_id %s not found in pull_requests', r.pull_request_github_id)
                     ELSE 'no repository for the pull request'
                     END)
                 ORDER BY r._ord) FILTER (WHERE r.reason IS NOT NULL), '[]'::jsonb) AS rejected,
               '[]'::jsonb AS warnings,
               (SELECT count(*) FROM del) AS deleted,
               jsonb_agg(jsonb_build_array(r.pr_id, r.pull_request_github_id, r.filename))
                 FILTER (WHERE return_ids AND r.reason IS NULL) AS ids
        FROM r) a,
       (SELECT count(*) FILTER (WHERE w.inserted) AS ins, count(*) FILTER (WHERE NOT w.inserted) AS upd FROM w) wc;

  IF v_invalid <> '[]'::jsonb THEN
    SELECT jsonb_agg(x.o ORDER BY (x.o->>'index')::integer) INTO v_rejected
      FROM (SELECT jsonb_array_elements(v_invalid) AS o UNION ALL SELECT jsonb_array_elements(v_rejected)) x;
  END IF;
  v_result := v_result || jsonb_build_object('rejected', v_rejected);

  IF replace THEN
    v_result := v_result || jsonb_build_object('deleted', v_deleted);
  END IF;

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('pull_request_github_id', (k.e->>1)::bigint, 'filename', f.filename, 'id', f.id)
                                ORDER BY (k.e->>1)::bigint, f.filename), '[]'::jsonb)
      FROM jsonb_array_elements(v_keys) AS k(e)
      JOIN pull_request_files f ON f.pull_request_id = (k.e->>0)::uuid AND f.filename = k.e->>2));
  END IF;
  RETURN v_result;
END $fn$;

-- jsonb form: rows = JSON array of file objects; a "patch" key that is ABSENT keeps the stored
-- patch, a present one (null included) is written.
CREATE OR REPLACE FUNCTION progcap_upsert_pull_request_files(rows jsonb, return_ids boolean DEFAULT false,
                                                            replace boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET work_mem = '64MB'
AS $fn$
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_pull_request_files: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  PERFORM progcap_stage_prepare('pull_request_files');
  INSERT INTO pg_temp.progcap_stage_pull_request_files
    (_ord, _absent, _bad_key, pull_request_github_id, repository_github_id, filename, status, additions, deletions,
     changes, previous_filename, patch)
  SELECT e.ord,
         CASE WHEN e.parse AND NOT e.r ? 'patch' THEN '{patch}'::text[] END,
         CASE WHEN e.gid IS NULL THEN jsonb_build_object('pull_request_github_id', e.r->'pull_request_github_id',
                                                         'filename', e.r->'filename') END,
         e.gid, p.repository_github_id, CASE WHEN e.gid IS NOT NULL THEN e.r->>'filename' END, p.status,
         p.additions, p.deletions, p.changes, p.previous_filename, p.patch
  FROM (
    SELECT t.ord::integer AS ord, t.r, k.gid,
           k.gid IS NOT NULL
             AND row_number() OVER (PARTITION BY k.gid, t.r->>'filename' ORDER BY t.ord DESC) = 1 AS parse
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(t.r) = 'object'
                                     AND (t.r->>'pull_request_github_id') ~ '^[0-9]{1,18}$'
                                     AND coalesce(t.r->>'filename', '') <> ''
                                    THEN (t.r->>'pull_request_github_id')::bigint END AS gid) k
  ) e
  CROSS JOIN LATERAL jsonb_to_record(CASE WHEN e.parse THEN e.r ELSE '{}'::jsonb END) AS p(
    repository_github_id bigint, status text, additions integer, deletions integer, changes integer,
    previous_filename text, patch text);
  RETURN progcap_merge_pull_request_files(return_ids, replace);
END $fn$;

-- ---------------------------------------------------------------- privileges
-- The functions run with the caller's rights (SECURITY INVOKER). Only the service role (and the
-- owner) may execute the writing ones: on Supabase default privileges would otherwise grant
-- EXECUTE to anon and authenticated. The role statements are skipped on databases without those
-- roles. progcap_describe_columns (STABLE, reads the catalog only) keeps the default EXECUTE.
DO $$
DECLARE
  f text;
  r text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
      'progcap_ghost_contributor_id()',
      'progcap_stage_prepare(text)',
      'progcap_merge_contributors(boolean)',
      'progcap_merge_repositories(boolean)',
      'progcap_merge_pull_requests(boolean)',
      'progcap_merge_reviews(boolean)',
      'progcap_merge_comments(boolean)',
      'progcap_merge_pull_request_files(boolean, boolean)',
      'progcap_upsert_contributors(jsonb, boolean)',
      'progcap_resolve_contributors(jsonb)',
      'progcap_upsert_repositories(jsonb, boolean)',
      'progcap_upsert_pull_requests(jsonb, boolean)',
      'progcap_upsert_reviews(jsonb, boolean)',
      'progcap_upsert_comments(jsonb, boolean)',
      'progcap_upsert_pull_request_files(jsonb, boolean, boolean)'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
      IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %I', f, r);
      END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO service_role', f);
    END IF;
  END LOOP;
  -- progcap's own bookkeeping table: written by the merge (caller's rights), never by the API roles
  REVOKE ALL ON TABLE progcap_pending_replies FROM PUBLIC;
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE format('REVOKE ALL ON TABLE progcap_pending_replies FROM %I', r);
    END IF;
  END LOOP;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE progcap_pending_replies TO service_role;
  END IF;
END $$;
