-- progcap migration 0003: server-side upsert/resolver functions for the sinks
-- =====================================================================================
-- Callable directly (`SELECT progcap_upsert_pull_requests($1::jsonb)`) and through PostgREST
-- (`POST /rest/v1/rpc/progcap_upsert_pull_requests` with body `{"rows": [...]}`; postgrest-js:
-- `.rpc('progcap_upsert_pull_requests', {rows})`). Full contract: packaging/sql/README.md.
--
-- Every progcap_upsert_<table>(rows jsonb, return_ids boolean DEFAULT false) RETURNS jsonb:
--   {
--     "table":      "<table>",
--     "received":   <elements in rows>,
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
--     LAST occurrence of a key wins;
--   * natural keys are resolved to UUID FKs server-side; GitHub ids never go into UUID columns;
--   * ON CONFLICT (<key>) DO UPDATE ... WHERE <row> IS DISTINCT FROM <new row>: rows that did not
--     change are not rewritten (their xmin stays), so repeated captures cost no table bloat;
--   * "unknown" never overwrites "known": see the per-function notes (PR stats, merged_by,
--     mergeable*, draft; contributor/repository columns absent from the input object);
--   * ghost authors (author_github_id NULL, the deleted-user case): NULL author when the column
--     is nullable, otherwise the shared ghost contributor (github_id 10137, login 'ghost', as
--     GitHub reports deleted users). author_github_id = 10137 always maps to that row.
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
    PERFORM pg_advisory_xact_lock(738353, 1);   -- same lock as progcap_upsert_contributors
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

-- ---------------------------------------------------------------- contributors
-- Input: github_id, username (required), display_name, avatar_url, profile_url, is_bot.
-- Only keys PRESENT in an object are written (an explicit null is written as NULL); absent keys
-- keep the stored value (new rows: NULL / is_bot false). Enriched profile columns (email, bio,
-- followers, github_created_at, ...) are never touched.
-- Renames: when the username is held by another github_id, that holder is renamed to
-- '<login>__renamed_<its github_id>' first (GitHub logins cannot contain '_', so the suffix never
-- collides) and reported in "renamed"; if the holder appears in the same call with its new login,
-- it simply gets that login. Two rows of one call claiming one login: the last one gets it, the
-- others are stored as '<login>__renamed_<github_id>' with a username_conflict_in_call warning.
CREATE OR REPLACE FUNCTION progcap_upsert_contributors(rows jsonb, return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
  v_received integer;
  v_src      jsonb;
  v_result   jsonb;
  v_renamed  jsonb;
  v_counts   record;
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_contributors: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  v_received := jsonb_array_length(rows);
  -- Contributor writes through these functions are serialised (transaction-scoped advisory lock):
  -- the table has two unique keys and ON CONFLICT only arbitrates one, so two concurrent calls
  -- inserting the same new user, or renaming, would otherwise race into 23505.
  PERFORM pg_advisory_xact_lock(738353, 1);

  -- 1. validate, de-duplicate (last wins), settle login clashes inside the call
  WITH elems AS (
    SELECT t.r, t.ord::integer AS ord,
           CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'github_id') ~ '^[0-9]{1,18}$'
                THEN (t.r->>'github_id')::bigint END AS gid
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
  ), dedup AS (
    SELECT DISTINCT ON (gid) r, ord, gid FROM elems WHERE gid IS NOT NULL ORDER BY gid, ord DESC
  ), checked AS (
    SELECT d.*, d.r->>'username' AS login,
           CASE WHEN nullif(d.r->>'username', '') IS NULL THEN 'missing_field' END AS reason
    FROM dedup d
  ), ranked AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.login ORDER BY c.ord DESC) AS login_rank
    FROM checked c WHERE c.reason IS NULL
  )
  SELECT
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
               'ord', k.ord, 'gid', k.gid, 'r', k.r,
               'username', CASE WHEN k.login_rank = 1 THEN k.login ELSE k.login || '__renamed_' || k.gid END,
               'clash', k.login_rank > 1) ORDER BY k.gid), '[]'::jsonb)
       FROM ranked k),
    jsonb_build_object(
      'table', 'contributors',
      'received', v_received,
      'duplicates', (SELECT count(*) FROM elems WHERE gid IS NOT NULL) - (SELECT count(*) FROM dedup),
      'rejected', (SELECT coalesce(jsonb_agg(x.o ORDER BY x.ord), '[]'::jsonb) FROM (
          SELECT e.ord, jsonb_build_object('index', e.ord, 'key', jsonb_build_object('github_id', e.r->'github_id'),
                   'reason', 'invalid_row', 'detail', 'not an object with an integer github_id') AS o
          FROM elems e WHERE e.gid IS NULL
          UNION ALL
          SELECT c.ord, jsonb_build_object('index', c.ord, 'key', jsonb_build_object('github_id', c.gid),
                   'reason', c.reason, 'detail', 'username')
          FROM checked c WHERE c.reason IS NOT NULL) x),
      'warnings', (SELECT coalesce(jsonb_agg(jsonb_build_object('index', k.ord, 'key', jsonb_build_object('github_id', k.gid),
                     'reason', 'username_conflict_in_call',
                     'detail', format('login %s is claimed by a later row; stored as %s__renamed_%s', k.login, k.login, k.gid))
                     ORDER BY k.ord), '[]'::jsonb)
                   FROM ranked k WHERE k.login_rank > 1))
  INTO v_src, v_result;

  -- 2. move existing holders of the wanted logins out of the way
  WITH s AS (
    SELECT (e->>'gid')::bigint AS gid, e->>'username' AS username FROM jsonb_array_elements(v_src) e
  ), moved AS (
    UPDATE contributors c
       SET username = c.username || '__renamed_' || c.github_id,
           last_updated_at = now()
      FROM s
     WHERE c.username = s.username AND c.github_id <> s.gid
    RETURNING c.github_id, s.username AS old_username, c.username AS new_username
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', m.github_id, 'from', m.old_username, 'to', m.new_username)
                  ORDER BY m.github_id) FILTER (WHERE m.github_id NOT IN (SELECT gid FROM s)), '[]'::jsonb)
    INTO v_renamed
    FROM moved m;

  -- 3. upsert: present keys win, absent keys keep the stored value, unchanged rows untouched
  WITH s AS (
    SELECT (e->>'gid')::bigint AS gid, e->>'username' AS username, e->'r' AS r
    FROM jsonb_array_elements(v_src) e
  ), v AS (
    SELECT s.gid, s.username,
           CASE WHEN s.r ? 'display_name' THEN s.r->>'display_name' ELSE cur.display_name END AS display_name,
           CASE WHEN s.r ? 'avatar_url'   THEN s.r->>'avatar_url'   ELSE cur.avatar_url   END AS avatar_url,
           CASE WHEN s.r ? 'profile_url'  THEN s.r->>'profile_url'  ELSE cur.profile_url  END AS profile_url,
           CASE WHEN s.r ? 'is_bot' AND jsonb_typeof(s.r->'is_bot') <> 'null' THEN (s.r->>'is_bot')::boolean
                ELSE coalesce(cur.is_bot, false) END AS is_bot
    FROM s LEFT JOIN contributors cur ON cur.github_id = s.gid
  ), w AS (
    INSERT INTO contributors AS c (github_id, username, display_name, avatar_url, profile_url, is_bot)
    SELECT v.gid, v.username, v.display_name, v.avatar_url, v.profile_url, v.is_bot FROM v ORDER BY v.gid
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
    'accepted', jsonb_array_length(v_src),
    'inserted', v_counts.ins,
    'updated', v_counts.upd,
    'unchanged', jsonb_array_length(v_src) - v_counts.ins - v_counts.upd,
    'renamed', v_renamed);

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', c.github_id, 'id', c.id) ORDER BY c.github_id), '[]'::jsonb)
      FROM contributors c
      WHERE c.github_id IN (SELECT (e->>'gid')::bigint FROM jsonb_array_elements(v_src) e)));
  END IF;
  RETURN v_result;
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
-- Input: github_id, full_name (or owner + name), owner, name, description, homepage, language,
-- stargazers_count, watchers_count, forks_count, open_issues_count, size, default_branch, is_fork,
-- is_archived, is_disabled, is_private, has_issues, has_projects, has_wiki, has_pages,
-- has_downloads, license (SPDX id string, or GitHub's license object → its spdx_id), topics
-- (JSON array of strings), github_created_at, github_updated_at, github_pushed_at.
-- Like contributors, only keys present in an object are written; absent keys keep the stored
-- value (new rows get the column default). Renamed/transferred repositories: a row holding the
-- wanted full_name or (owner, name) under another github_id is renamed to
-- '<full_name>__renamed_<github_id>' / '<name>__renamed_<github_id>' and reported in "renamed".
-- first_tracked_at/is_active and contributor.info's own bookkeeping columns are never written;
-- last_updated_at is set only when something changed.
CREATE OR REPLACE FUNCTION progcap_upsert_repositories(rows jsonb, return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
  v_received integer;
  v_src      jsonb;
  v_result   jsonb;
  v_renamed  jsonb;
  v_counts   record;
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_repositories: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  v_received := jsonb_array_length(rows);
  -- serialised like contributors: three unique keys (github_id, full_name, owner+name) and renames
  PERFORM pg_advisory_xact_lock(738353, 2);

  WITH elems AS (
    SELECT t.r, t.ord::integer AS ord,
           CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'github_id') ~ '^[0-9]{1,18}$'
                THEN (t.r->>'github_id')::bigint END AS gid
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
  ), dedup AS (
    SELECT DISTINCT ON (gid) r, ord, gid FROM elems WHERE gid IS NOT NULL ORDER BY gid, ord DESC
  ), named AS (
    SELECT d.*,
           coalesce(nullif(d.r->>'full_name', ''),
                    CASE WHEN nullif(d.r->>'owner', '') IS NOT NULL AND nullif(d.r->>'name', '') IS NOT NULL
                         THEN (d.r->>'owner') || '/' || (d.r->>'name') END) AS full_name,
           coalesce(nullif(d.r->>'owner', ''), nullif(split_part(d.r->>'full_name', '/', 1), '')) AS owner,
           coalesce(nullif(d.r->>'name', ''),
                    nullif(substr(d.r->>'full_name', strpos(d.r->>'full_name', '/') + 1), '')) AS name
    FROM dedup d
  ), checked AS (
    SELECT n.*,
           CASE WHEN n.full_name IS NULL OR n.owner IS NULL OR n.name IS NULL OR strpos(n.full_name, '/') = 0
                THEN 'missing_field' END AS reason
    FROM named n
  ), ranked AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.full_name ORDER BY c.ord DESC) AS fn_rank
    FROM checked c WHERE c.reason IS NULL
  )
  SELECT
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
               'ord', k.ord, 'gid', k.gid, 'r', k.r,
               'full_name', CASE WHEN k.fn_rank = 1 THEN k.full_name ELSE k.full_name || '__renamed_' || k.gid END,
               'owner', k.owner,
               'name', CASE WHEN k.fn_rank = 1 THEN k.name ELSE k.name || '__renamed_' || k.gid END) ORDER BY k.gid),
             '[]'::jsonb)
       FROM ranked k),
    jsonb_build_object(
      'table', 'repositories',
      'received', v_received,
      'duplicates', (SELECT count(*) FROM elems WHERE gid IS NOT NULL) - (SELECT count(*) FROM dedup),
      'rejected', (SELECT coalesce(jsonb_agg(x.o ORDER BY x.ord), '[]'::jsonb) FROM (
          SELECT e.ord, jsonb_build_object('index', e.ord, 'key', jsonb_build_object('github_id', e.r->'github_id'),
                   'reason', 'invalid_row', 'detail', 'not an object with an integer github_id') AS o
          FROM elems e WHERE e.gid IS NULL
          UNION ALL
          SELECT c.ord, jsonb_build_object('index', c.ord, 'key', jsonb_build_object('github_id', c.gid),
                   'reason', c.reason, 'detail', 'full_name (owner/name)')
          FROM checked c WHERE c.reason IS NOT NULL) x),
      'warnings', (SELECT coalesce(jsonb_agg(jsonb_build_object('index', k.ord, 'key', jsonb_build_object('github_id', k.gid),
                     'reason', 'full_name_conflict_in_call',
                     'detail', format('%s is claimed by a later row; stored as %s__renamed_%s', k.full_name, k.full_name, k.gid))
                     ORDER BY k.ord), '[]'::jsonb)
                   FROM ranked k WHERE k.fn_rank > 1))
  INTO v_src, v_result;

  -- move holders of a wanted full_name or (owner, name) out of the way
  WITH s AS (
    SELECT (e->>'gid')::bigint AS gid, e->>'full_name' AS full_name, e->>'owner' AS owner, e->>'name' AS name
    FROM jsonb_array_elements(v_src) e
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

  WITH s AS (
    SELECT (e->>'gid')::bigint AS gid, e->>'full_name' AS full_name, e->>'owner' AS owner, e->>'name' AS name,
           e->'r' AS r
    FROM jsonb_array_elements(v_src) e
  ), v AS (
    SELECT s.gid, s.full_name, s.owner, s.name,
      CASE WHEN s.r ? 'description' THEN s.r->>'description' ELSE cur.description END AS description,
      CASE WHEN s.r ? 'homepage' THEN s.r->>'homepage' ELSE cur.homepage END AS homepage,
      CASE WHEN s.r ? 'language' THEN s.r->>'language' ELSE cur.language END AS language,
      CASE WHEN s.r ? 'stargazers_count' THEN (s.r->>'stargazers_count')::integer
           WHEN cur.id IS NOT NULL THEN cur.stargazers_count ELSE 0 END AS stargazers_count,
      CASE WHEN s.r ? 'watchers_count' THEN (s.r->>'watchers_count')::integer
           WHEN cur.id IS NOT NULL THEN cur.watchers_count ELSE 0 END AS watchers_count,
      CASE WHEN s.r ? 'forks_count' THEN (s.r->>'forks_count')::integer
           WHEN cur.id IS NOT NULL THEN cur.forks_count ELSE 0 END AS forks_count,
      CASE WHEN s.r ? 'open_issues_count' THEN (s.r->>'open_issues_count')::integer
           WHEN cur.id IS NOT NULL THEN cur.open_issues_count ELSE 0 END AS open_issues_count,
      CASE WHEN s.r ? 'size' THEN (s.r->>'size')::integer
           WHEN cur.id IS NOT NULL THEN cur.size ELSE 0 END AS size,
      CASE WHEN s.r ? 'default_branch' THEN s.r->>'default_branch'
           WHEN cur.id IS NOT NULL THEN cur.default_branch ELSE 'main' END AS default_branch,
      CASE WHEN s.r ? 'is_fork' THEN (s.r->>'is_fork')::boolean
           WHEN cur.id IS NOT NULL THEN cur.is_fork ELSE false END AS is_fork,
      CASE WHEN s.r ? 'is_archived' THEN (s.r->>'is_archived')::boolean
           WHEN cur.id IS NOT NULL THEN cur.is_archived ELSE false END AS is_archived,
      CASE WHEN s.r ? 'is_disabled' THEN (s.r->>'is_disabled')::boolean
           WHEN cur.id IS NOT NULL THEN cur.is_disabled ELSE false END AS is_disabled,
      CASE WHEN s.r ? 'is_private' THEN (s.r->>'is_private')::boolean
           WHEN cur.id IS NOT NULL THEN cur.is_private ELSE false END AS is_private,
      CASE WHEN s.r ? 'has_issues' THEN (s.r->>'has_issues')::boolean
           WHEN cur.id IS NOT NULL THEN cur.has_issues ELSE true END AS has_issues,
      CASE WHEN s.r ? 'has_projects' THEN (s.r->>'has_projects')::boolean
           WHEN cur.id IS NOT NULL THEN cur.has_projects ELSE true END AS has_projects,
      CASE WHEN s.r ? 'has_wiki' THEN (s.r->>'has_wiki')::boolean
           WHEN cur.id IS NOT NULL THEN cur.has_wiki ELSE true END AS has_wiki,
      CASE WHEN s.r ? 'has_pages' THEN (s.r->>'has_pages')::boolean
           WHEN cur.id IS NOT NULL THEN cur.has_pages ELSE false END AS has_pages,
      CASE WHEN s.r ? 'has_downloads' THEN (s.r->>'has_downloads')::boolean
           WHEN cur.id IS NOT NULL THEN cur.has_downloads ELSE true END AS has_downloads,
      CASE WHEN NOT (s.r ? 'license') THEN cur.license
           WHEN jsonb_typeof(s.r->'license') = 'object' THEN s.r->'license'->>'spdx_id'
           ELSE s.r->>'license' END AS license,
      CASE WHEN NOT (s.r ? 'topics') THEN cur.topics
           WHEN jsonb_typeof(s.r->'topics') = 'array'
             THEN ARRAY(SELECT jsonb_array_elements_text(s.r->'topics'))
           ELSE NULL END AS topics,
      CASE WHEN s.r ? 'github_created_at' THEN (s.r->>'github_created_at')::timestamptz
           ELSE cur.github_created_at END AS github_created_at,
      CASE WHEN s.r ? 'github_updated_at' THEN (s.r->>'github_updated_at')::timestamptz
           ELSE cur.github_updated_at END AS github_updated_at,
      CASE WHEN s.r ? 'github_pushed_at' THEN (s.r->>'github_pushed_at')::timestamptz
           ELSE cur.github_pushed_at END AS github_pushed_at
    FROM s LEFT JOIN repositories cur ON cur.github_id = s.gid
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
    'accepted', jsonb_array_length(v_src),
    'inserted', v_counts.ins,
    'updated', v_counts.upd,
    'unchanged', jsonb_array_length(v_src) - v_counts.ins - v_counts.upd,
    'renamed', v_renamed);

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', rp.github_id, 'id', rp.id) ORDER BY rp.github_id), '[]'::jsonb)
      FROM repositories rp
      WHERE rp.github_id IN (SELECT (e->>'gid')::bigint FROM jsonb_array_elements(v_src) e)));
  END IF;
  RETURN v_result;
END $fn$;

-- ---------------------------------------------------------------- pull_requests
-- Input: github_id, repository_github_id, repository_full_name, number, title, body, state
-- ('open'|'closed'; 'merged' needs the production CHECK), draft, merged, merged_at,
-- merged_by_github_id, author_github_id, base_branch, head_branch, additions, deletions,
-- changed_files, commits, mergeable, mergeable_state, created_at, updated_at, closed_at,
-- html_url, diff_url, patch_url.
-- NULL/absent = unknown = keep the stored value, for: additions, deletions, changed_files,
-- commits (list payloads lack them, defect P12; new rows store NULL, not a fake 0), mergeable,
-- mergeable_state, draft, merged (derived as true when merged_at is set), merged_by (an unknown
-- merged_by_github_id also keeps it and adds an unresolved_merged_by warning).
-- All other columns take the input value (absent = NULL). repository_full_name defaults to the
-- repository's full_name; base_branch to 'main'.
-- Rejected: missing repository (repository_github_id not in repositories), author_github_id not
-- in contributors (upsert contributors first), (repository, number) already held by another
-- github_id (in the table or later in the same call), missing required fields, bad state.
CREATE OR REPLACE FUNCTION progcap_upsert_pull_requests(rows jsonb, return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
  v_received        integer;
  v_author_nullable boolean;
  v_ghost           uuid;
  v_result          jsonb;
  v_gids            bigint[];
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_pull_requests: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  v_received := jsonb_array_length(rows);

  SELECT NOT a.attnotnull INTO v_author_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'pull_requests'::regclass AND a.attname = 'author_id';
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(rows) e
             WHERE jsonb_typeof(e) = 'object'
               AND ((e->>'author_github_id') = '10137' OR (e->>'merged_by_github_id') = '10137'
                    OR (NOT v_author_nullable AND (e->>'author_github_id') IS NULL))) THEN
    v_ghost := progcap_ghost_contributor_id();
  END IF;

  WITH elems AS (
    SELECT t.r, t.ord::integer AS ord,
           CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'github_id') ~ '^[0-9]{1,18}$'
                THEN (t.r->>'github_id')::bigint END AS gid
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
  ), dedup AS (
    SELECT DISTINCT ON (gid) r, ord, gid FROM elems WHERE gid IS NOT NULL ORDER BY gid, ord DESC
  ), typed AS (
    SELECT d.ord, d.gid, p.*
    FROM dedup d CROSS JOIN LATERAL jsonb_to_record(d.r) AS p(
      repository_github_id bigint, repository_full_name text, "number" integer, title text, body text,
      state text, draft boolean, merged boolean, merged_at timestamptz, merged_by_github_id bigint,
      author_github_id bigint, base_branch text, head_branch text, additions integer, deletions integer,
      changed_files integer, commits integer, mergeable boolean, mergeable_state text,
      created_at timestamptz, updated_at timestamptz, closed_at timestamptz, html_url text, diff_url text,
      patch_url text)
  ), resolved AS (
    SELECT t.*, rp.id AS repo_id, rp.full_name AS repo_full_name, au.id AS au_id, mb.id AS mb_id,
           ex.github_id AS taken_by,
           row_number() OVER (PARTITION BY rp.id, t."number" ORDER BY t.ord DESC) AS num_rank
    FROM typed t
    LEFT JOIN repositories rp ON rp.github_id = t.repository_github_id
    LEFT JOIN contributors au ON au.github_id = t.author_github_id
    LEFT JOIN contributors mb ON mb.github_id = t.merged_by_github_id
    LEFT JOIN pull_requests ex ON ex.repository_id = rp.id AND ex."number" = t."number" AND ex.github_id <> t.gid
  ), checked AS (
    SELECT r.*,
      CASE
        WHEN r.repository_github_id IS NULL OR r."number" IS NULL OR r.title IS NULL OR r.head_branch IS NULL
             OR r.created_at IS NULL OR r.updated_at IS NULL THEN 'missing_field'
        WHEN r.state IS NULL OR r.state NOT IN ('open', 'closed', 'merged') THEN 'invalid_value'
        WHEN r.repo_id IS NULL THEN 'missing_repository'
        WHEN r.author_github_id IS NOT NULL AND r.au_id IS NULL THEN 'missing_author'
        WHEN r.taken_by IS NOT NULL OR r.num_rank > 1 THEN 'repository_number_taken'
      END AS reason,
      CASE
        WHEN r.repository_github_id IS NULL OR r."number" IS NULL OR r.title IS NULL OR r.head_branch IS NULL
             OR r.created_at IS NULL OR r.updated_at IS NULL THEN
          concat_ws(', ', CASE WHEN r.repository_github_id IS NULL THEN 'repository_github_id' END,
                          CASE WHEN r."number" IS NULL THEN 'number' END,
                          CASE WHEN r.title IS NULL THEN 'title' END,
                          CASE WHEN r.head_branch IS NULL THEN 'head_branch' END,
                          CASE WHEN r.created_at IS NULL THEN 'created_at' END,
                          CASE WHEN r.updated_at IS NULL THEN 'updated_at' END)
        WHEN r.state IS NULL OR r.state NOT IN ('open', 'closed', 'merged') THEN format('state=%s', r.state)
        WHEN r.repo_id IS NULL THEN format('repository_github_id %s not found in repositories', r.repository_github_id)
        WHEN r.author_github_id IS NOT NULL AND r.au_id IS NULL THEN
          format('author_github_id %s not found in contributors', r.author_github_id)
        WHEN r.taken_by IS NOT NULL THEN format('(repository, number %s) is held by github_id %s', r."number", r.taken_by)
        WHEN r.num_rank > 1 THEN format('(repository, number %s) is claimed by a later row of this call', r."number")
      END AS detail
    FROM resolved r
  ), ok AS (
    SELECT c.*, cur.id AS cur_id, cur.draft AS cur_draft, cur.mergeable AS cur_mergeable,
           cur.mergeable_state AS cur_mergeable_state, cur.merged AS cur_merged, cur.merged_by_id AS cur_merged_by_id,
           cur.additions AS cur_additions, cur.deletions AS cur_deletions, cur.changed_files AS cur_changed_files,
           cur.commits AS cur_commits
    FROM checked c LEFT JOIN pull_requests cur ON cur.github_id = c.gid
    WHERE c.reason IS NULL
  ), written AS (
    INSERT INTO pull_requests AS pr (github_id, repository_id, repository_github_id, repository_full_name,
        "number", title, body, state, author_id, author_github_id, base_branch, head_branch, draft,
        mergeable, mergeable_state, merged, merged_by_id, created_at, updated_at, merged_at, closed_at,
        additions, deletions, changed_files, commits, html_url, diff_url, patch_url)
    SELECT o.gid, o.repo_id, o.repository_github_id, coalesce(o.repository_full_name, o.repo_full_name),
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
    FROM ok o ORDER BY o.gid
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
      'accepted', (SELECT count(*) FROM ok),
      'duplicates', (SELECT count(*) FROM elems WHERE gid IS NOT NULL) - (SELECT count(*) FROM dedup),
      'inserted', (SELECT count(*) FROM written WHERE inserted),
      'updated', (SELECT count(*) FROM written WHERE NOT inserted),
      'unchanged', (SELECT count(*) FROM ok) - (SELECT count(*) FROM written),
      'rejected', (SELECT coalesce(jsonb_agg(x.o ORDER BY x.ord), '[]'::jsonb) FROM (
          SELECT e.ord, jsonb_build_object('index', e.ord, 'key', jsonb_build_object('github_id', e.r->'github_id'),
                   'reason', 'invalid_row', 'detail', 'not an object with an integer github_id') AS o
          FROM elems e WHERE e.gid IS NULL
          UNION ALL
          SELECT c.ord, jsonb_build_object('index', c.ord, 'key', jsonb_build_object('github_id', c.gid),
                   'reason', c.reason, 'detail', c.detail)
          FROM checked c WHERE c.reason IS NOT NULL) x),
      'warnings', (SELECT coalesce(jsonb_agg(jsonb_build_object('index', o.ord, 'key', jsonb_build_object('github_id', o.gid),
                     'reason', 'unresolved_merged_by',
                     'detail', format('merged_by_github_id %s not found in contributors; merged_by kept', o.merged_by_github_id))
                     ORDER BY o.ord), '[]'::jsonb)
                   FROM ok o WHERE o.merged_by_github_id IS NOT NULL AND o.mb_id IS NULL)),
    (SELECT array_agg(o.gid) FROM ok o)
  INTO v_result, v_gids;

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', pr.github_id, 'id', pr.id) ORDER BY pr.github_id), '[]'::jsonb)
      FROM pull_requests pr WHERE pr.github_id = ANY (v_gids)));
  END IF;
  RETURN v_result;
END $fn$;

-- ---------------------------------------------------------------- reviews
-- Input: github_id, pull_request_github_id, repository_github_id, author_github_id, state
-- (upper case; lower case is upper-cased), body, submitted_at, commit_id.
-- The pull request must exist (else rejected: missing_pull_request); repository_id is taken from
-- the pull request (or repository_github_id when the PR row has none). author_id and the legacy
-- reviewer_id both receive the author (ghost rule for a NULL author).
CREATE OR REPLACE FUNCTION progcap_upsert_reviews(rows jsonb, return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
  v_received        integer;
  v_author_nullable boolean;
  v_repo_nullable   boolean;
  v_ghost           uuid;
  v_result          jsonb;
  v_gids            bigint[];
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_reviews: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  v_received := jsonb_array_length(rows);

  SELECT NOT a.attnotnull INTO v_author_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'reviews'::regclass AND a.attname = 'author_id';
  SELECT NOT a.attnotnull INTO v_repo_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'reviews'::regclass AND a.attname = 'repository_id';
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(rows) e
             WHERE jsonb_typeof(e) = 'object'
               AND ((e->>'author_github_id') = '10137' OR (NOT v_author_nullable AND (e->>'author_github_id') IS NULL))) THEN
    v_ghost := progcap_ghost_contributor_id();
  END IF;

  WITH elems AS (
    SELECT t.r, t.ord::integer AS ord,
           CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'github_id') ~ '^[0-9]{1,18}$'
                THEN (t.r->>'github_id')::bigint END AS gid
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
  ), dedup AS (
    SELECT DISTINCT ON (gid) r, ord, gid FROM elems WHERE gid IS NOT NULL ORDER BY gid, ord DESC
  ), typed AS (
    SELECT d.ord, d.gid, p.pull_request_github_id, p.repository_github_id, p.author_github_id,
           upper(p.state) AS state, p.body, p.submitted_at, p.commit_id
    FROM dedup d CROSS JOIN LATERAL jsonb_to_record(d.r) AS p(
      pull_request_github_id bigint, repository_github_id bigint, author_github_id bigint, state text,
      body text, submitted_at timestamptz, commit_id text)
  ), resolved AS (
    SELECT t.*, pr.id AS pr_id, coalesce(pr.repository_id, rp.id) AS repo_id, au.id AS au_id
    FROM typed t
    LEFT JOIN pull_requests pr ON pr.github_id = t.pull_request_github_id
    LEFT JOIN repositories rp ON rp.github_id = t.repository_github_id
    LEFT JOIN contributors au ON au.github_id = t.author_github_id
  ), checked AS (
    SELECT r.*,
      CASE
        WHEN r.pull_request_github_id IS NULL OR r.submitted_at IS NULL THEN 'missing_field'
        WHEN r.state IS NULL OR r.state NOT IN ('PENDING', 'APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED')
          THEN 'invalid_value'
        WHEN r.pr_id IS NULL THEN 'missing_pull_request'
        WHEN r.author_github_id IS NOT NULL AND r.au_id IS NULL THEN 'missing_author'
        WHEN r.repo_id IS NULL AND NOT v_repo_nullable THEN 'missing_repository'
      END AS reason,
      CASE
        WHEN r.pull_request_github_id IS NULL OR r.submitted_at IS NULL THEN
          concat_ws(', ', CASE WHEN r.pull_request_github_id IS NULL THEN 'pull_request_github_id' END,
                          CASE WHEN r.submitted_at IS NULL THEN 'submitted_at' END)
        WHEN r.state IS NULL OR r.state NOT IN ('PENDING', 'APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED')
          THEN format('state=%s', r.state)
        WHEN r.pr_id IS NULL THEN format('pull_request_github_id %s not found in pull_requests', r.pull_request_github_id)
        WHEN r.author_github_id IS NOT NULL AND r.au_id IS NULL THEN
          format('author_github_id %s not found in contributors', r.author_github_id)
        WHEN r.repo_id IS NULL AND NOT v_repo_nullable THEN 'no repository for the pull request'
      END AS detail
    FROM resolved r
  ), ok AS (
    SELECT c.*, CASE WHEN c.au_id IS NOT NULL THEN c.au_id WHEN v_author_nullable THEN NULL ELSE v_ghost END AS author_uuid
    FROM checked c WHERE c.reason IS NULL
  ), written AS (
    INSERT INTO reviews AS rv (github_id, pull_request_id, repository_id, author_id, reviewer_id, state, body,
                               submitted_at, commit_id)
    SELECT o.gid, o.pr_id, o.repo_id, o.author_uuid, o.author_uuid, o.state, o.body, o.submitted_at, o.commit_id
    FROM ok o ORDER BY o.gid
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
      'accepted', (SELECT count(*) FROM ok),
      'duplicates', (SELECT count(*) FROM elems WHERE gid IS NOT NULL) - (SELECT count(*) FROM dedup),
      'inserted', (SELECT count(*) FROM written WHERE inserted),
      'updated', (SELECT count(*) FROM written WHERE NOT inserted),
      'unchanged', (SELECT count(*) FROM ok) - (SELECT count(*) FROM written),
      'rejected', (SELECT coalesce(jsonb_agg(x.o ORDER BY x.ord), '[]'::jsonb) FROM (
          SELECT e.ord, jsonb_build_object('index', e.ord, 'key', jsonb_build_object('github_id', e.r->'github_id'),
                   'reason', 'invalid_row', 'detail', 'not an object with an integer github_id') AS o
          FROM elems e WHERE e.gid IS NULL
          UNION ALL
          SELECT c.ord, jsonb_build_object('index', c.ord, 'key', jsonb_build_object('github_id', c.gid),
                   'reason', c.reason, 'detail', c.detail)
          FROM checked c WHERE c.reason IS NOT NULL) x),
      'warnings', '[]'::jsonb),
    (SELECT array_agg(o.gid) FROM ok o)
  INTO v_result, v_gids;

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', rv.github_id, 'id', rv.id) ORDER BY rv.github_id), '[]'::jsonb)
      FROM reviews rv WHERE rv.github_id = ANY (v_gids)));
  END IF;
  RETURN v_result;
END $fn$;

-- ---------------------------------------------------------------- comments
-- Input: github_id, comment_type ('issue_comment'|'review_comment'), pull_request_github_id,
-- repository_github_id, commenter_github_id, body, created_at, updated_at,
-- in_reply_to_github_id, review_github_id (accepted and ignored: no such column), position,
-- original_position, diff_hunk, path, commit_id, original_commit_id.
-- PR comments only (issue_id stays NULL). in_reply_to_github_id is resolved to the parent's
-- UUID, also when the parent arrives in the same call (any order); a parent that cannot be found
-- keeps the stored link and adds an unresolved_in_reply_to warning.
CREATE OR REPLACE FUNCTION progcap_upsert_comments(rows jsonb, return_ids boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
  v_received          integer;
  v_commenter_nullable boolean;
  v_repo_nullable     boolean;
  v_ghost             uuid;
  v_src               jsonb;
  v_result            jsonb;
  v_counts            record;
  v_relinked          integer;
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_comments: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  v_received := jsonb_array_length(rows);

  SELECT NOT a.attnotnull INTO v_commenter_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'comments'::regclass AND a.attname = 'commenter_id';
  SELECT NOT a.attnotnull INTO v_repo_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'comments'::regclass AND a.attname = 'repository_id';
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(rows) e
             WHERE jsonb_typeof(e) = 'object'
               AND ((e->>'commenter_github_id') = '10137'
                    OR (NOT v_commenter_nullable AND (e->>'commenter_github_id') IS NULL))) THEN
    v_ghost := progcap_ghost_contributor_id();
  END IF;

  -- 1. validate, de-duplicate, resolve
  WITH elems AS (
    SELECT t.r, t.ord::integer AS ord,
           CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'github_id') ~ '^[0-9]{1,18}$'
                THEN (t.r->>'github_id')::bigint END AS gid
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
  ), dedup AS (
    SELECT DISTINCT ON (gid) r, ord, gid FROM elems WHERE gid IS NOT NULL ORDER BY gid, ord DESC
  ), typed AS (
    SELECT d.ord, d.gid, p.*
    FROM dedup d CROSS JOIN LATERAL jsonb_to_record(d.r) AS p(
      comment_type text, pull_request_github_id bigint, repository_github_id bigint, commenter_github_id bigint,
      body text, created_at timestamptz, updated_at timestamptz, in_reply_to_github_id bigint,
      "position" integer, original_position integer, diff_hunk text, path text, commit_id text,
      original_commit_id text)
  ), resolved AS (
    SELECT t.*, pr.id AS pr_id, coalesce(pr.repository_id, rp.id) AS repo_id, au.id AS au_id
    FROM typed t
    LEFT JOIN pull_requests pr ON pr.github_id = t.pull_request_github_id
    LEFT JOIN repositories rp ON rp.github_id = t.repository_github_id
    LEFT JOIN contributors au ON au.github_id = t.commenter_github_id
  ), checked AS (
    SELECT r.*,
      CASE
        WHEN r.pull_request_github_id IS NULL OR r.body IS NULL OR r.created_at IS NULL OR r.updated_at IS NULL
          THEN 'missing_field'
        WHEN r.comment_type IS NULL OR r.comment_type NOT IN ('issue_comment', 'review_comment') THEN 'invalid_value'
        WHEN r.pr_id IS NULL THEN 'missing_pull_request'
        WHEN r.commenter_github_id IS NOT NULL AND r.au_id IS NULL THEN 'missing_author'
        WHEN r.repo_id IS NULL AND NOT v_repo_nullable THEN 'missing_repository'
      END AS reason,
      CASE
        WHEN r.pull_request_github_id IS NULL OR r.body IS NULL OR r.created_at IS NULL OR r.updated_at IS NULL THEN
          concat_ws(', ', CASE WHEN r.pull_request_github_id IS NULL THEN 'pull_request_github_id' END,
                          CASE WHEN r.body IS NULL THEN 'body' END,
                          CASE WHEN r.created_at IS NULL THEN 'created_at' END,
                          CASE WHEN r.updated_at IS NULL THEN 'updated_at' END)
        WHEN r.comment_type IS NULL OR r.comment_type NOT IN ('issue_comment', 'review_comment')
          THEN format('comment_type=%s', r.comment_type)
        WHEN r.pr_id IS NULL THEN format('pull_request_github_id %s not found in pull_requests', r.pull_request_github_id)
        WHEN r.commenter_github_id IS NOT NULL AND r.au_id IS NULL THEN
          format('commenter_github_id %s not found in contributors', r.commenter_github_id)
        WHEN r.repo_id IS NULL AND NOT v_repo_nullable THEN 'no repository for the pull request'
      END AS detail
    FROM resolved r
  )
  SELECT
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
        'ord', c.ord, 'gid', c.gid, 'pr_id', c.pr_id, 'repo_id', c.repo_id,
        'commenter_id', CASE WHEN c.au_id IS NOT NULL THEN c.au_id WHEN v_commenter_nullable THEN NULL ELSE v_ghost END,
        'comment_type', c.comment_type, 'body', c.body, 'created_at', c.created_at, 'updated_at', c.updated_at,
        'parent_gid', c.in_reply_to_github_id, 'position', c."position", 'original_position', c.original_position,
        'diff_hunk', c.diff_hunk, 'path', c.path, 'commit_id', c.commit_id, 'original_commit_id', c.original_commit_id)
        ORDER BY c.gid), '[]'::jsonb)
     FROM checked c WHERE c.reason IS NULL),
    jsonb_build_object(
      'table', 'comments',
      'received', v_received,
      'duplicates', (SELECT count(*) FROM elems WHERE gid IS NOT NULL) - (SELECT count(*) FROM dedup),
      'rejected', (SELECT coalesce(jsonb_agg(x.o ORDER BY x.ord), '[]'::jsonb) FROM (
          SELECT e.ord, jsonb_build_object('index', e.ord, 'key', jsonb_build_object('github_id', e.r->'github_id'),
                   'reason', 'invalid_row', 'detail', 'not an object with an integer github_id') AS o
          FROM elems e WHERE e.gid IS NULL
          UNION ALL
          SELECT c.ord, jsonb_build_object('index', c.ord, 'key', jsonb_build_object('github_id', c.gid),
                   'reason', c.reason, 'detail', c.detail)
          FROM checked c WHERE c.reason IS NOT NULL) x))
  INTO v_src, v_result;

  -- 2. upsert; parents known before this call are linked now, an unknown parent keeps the stored link
  WITH s AS (
    SELECT * FROM jsonb_to_recordset(v_src) AS s(
      gid bigint, pr_id uuid, repo_id uuid, commenter_id uuid, comment_type text, body text,
      created_at timestamptz, updated_at timestamptz, parent_gid bigint, "position" integer,
      original_position integer, diff_hunk text, path text, commit_id text, original_commit_id text)
  ), v AS (
    SELECT s.*, coalesce(par.id, cur.in_reply_to_id) AS in_reply_to_id
    FROM s
    LEFT JOIN comments par ON par.github_id = s.parent_gid AND s.parent_gid <> s.gid
    LEFT JOIN comments cur ON cur.github_id = s.gid
  ), w AS (
    INSERT INTO comments AS c (github_id, pull_request_id, repository_id, commenter_id, comment_type, body,
        created_at, updated_at, in_reply_to_id, "position", original_position, diff_hunk, path, commit_id,
        original_commit_id)
    SELECT v.gid, v.pr_id, v.repo_id, v.commenter_id, v.comment_type, v.body, v.created_at, v.updated_at,
        v.in_reply_to_id, v."position", v.original_position, v.diff_hunk, v.path, v.commit_id, v.original_commit_id
    FROM v ORDER BY v.gid
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
    RETURNING c.github_id, (c.xmax = 0) AS inserted
  )
  SELECT coalesce(array_agg(github_id) FILTER (WHERE inserted), '{}') AS ins_gids,
         coalesce(array_agg(github_id) FILTER (WHERE NOT inserted), '{}') AS upd_gids
    INTO v_counts FROM w;

  -- 3. link replies whose parent arrived in this call (or exists now); only rows that change are touched
  WITH s AS (
    SELECT (e->>'gid')::bigint AS gid, (e->>'parent_gid')::bigint AS parent_gid
    FROM jsonb_array_elements(v_src) e WHERE e->>'parent_gid' IS NOT NULL
  ), fixed AS (
    UPDATE comments c SET in_reply_to_id = par.id
      FROM s JOIN comments par ON par.github_id = s.parent_gid
     WHERE c.github_id = s.gid AND s.parent_gid <> s.gid AND c.in_reply_to_id IS DISTINCT FROM par.id
    RETURNING c.github_id
  )
  -- rows inserted by this call and then re-linked still count as inserted only
  SELECT count(*) INTO v_relinked
    FROM (SELECT github_id FROM fixed
          EXCEPT SELECT unnest(v_counts.ins_gids)
          EXCEPT SELECT unnest(v_counts.upd_gids)) x;

  v_result := v_result || jsonb_build_object(
    'accepted', jsonb_array_length(v_src),
    'inserted', cardinality(v_counts.ins_gids),
    'updated', cardinality(v_counts.upd_gids) + v_relinked,
    'unchanged', jsonb_array_length(v_src) - cardinality(v_counts.ins_gids) - cardinality(v_counts.upd_gids) - v_relinked,
    'warnings', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('index', (e->>'ord')::integer,
                 'key', jsonb_build_object('github_id', (e->>'gid')::bigint), 'reason', 'unresolved_in_reply_to',
                 'detail', format('in_reply_to_github_id %s not found in comments; in_reply_to_id kept', e->>'parent_gid'))
                 ORDER BY (e->>'ord')::integer), '[]'::jsonb)
      FROM jsonb_array_elements(v_src) e
      WHERE e->>'parent_gid' IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM comments par
                        WHERE par.github_id = (e->>'parent_gid')::bigint AND par.github_id <> (e->>'gid')::bigint)));

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('github_id', c.github_id, 'id', c.id) ORDER BY c.github_id), '[]'::jsonb)
      FROM comments c WHERE c.github_id IN (SELECT (e->>'gid')::bigint FROM jsonb_array_elements(v_src) e)));
  END IF;
  RETURN v_result;
END $fn$;

-- ---------------------------------------------------------------- pull_request_files
-- Input: pull_request_github_id, repository_github_id, filename, status, additions, deletions,
-- changes, previous_filename, patch. Key: (pull_request_github_id, filename).
-- patch: a PRESENT key is written (null included); an ABSENT key keeps the stored patch (sources
-- without patches, e.g. GraphQL `files`, do not erase REST patches).
-- replace => true: the call carries the complete file list of each pull request it mentions;
-- files of those pull requests that are not in the call are deleted (counted in "deleted").
-- The "key" of rejected rows is {"pull_request_github_id": n, "filename": "..."}; "ids" items are
-- {"pull_request_github_id": n, "filename": "...", "id": "<uuid>"}.
CREATE OR REPLACE FUNCTION progcap_upsert_pull_request_files(rows jsonb, return_ids boolean DEFAULT false,
                                                            replace boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
  v_received     integer;
  v_repo_nullable boolean;
  v_result       jsonb;
  v_keys         jsonb;
  v_deleted      integer := 0;
BEGIN
  IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
    RAISE EXCEPTION 'progcap_upsert_pull_request_files: rows must be a JSON array, got %', coalesce(jsonb_typeof(rows), 'NULL')
      USING ERRCODE = '22023', HINT = 'Call with {"rows": [{...}, ...]}';
  END IF;
  v_received := jsonb_array_length(rows);
  SELECT NOT a.attnotnull INTO v_repo_nullable
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'pull_request_files'::regclass AND a.attname = 'repository_id';

  WITH elems AS (
    SELECT t.r, t.ord::integer AS ord,
           CASE WHEN jsonb_typeof(t.r) = 'object' AND (t.r->>'pull_request_github_id') ~ '^[0-9]{1,18}$'
                     AND coalesce(t.r->>'filename', '') <> ''
                THEN (t.r->>'pull_request_github_id')::bigint END AS pr_gid,
           CASE WHEN jsonb_typeof(t.r) = 'object' THEN t.r->>'filename' END AS filename
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, ord)
  ), dedup AS (
    SELECT DISTINCT ON (pr_gid, filename) r, ord, pr_gid, filename
    FROM elems WHERE pr_gid IS NOT NULL ORDER BY pr_gid, filename, ord DESC
  ), typed AS (
    SELECT d.ord, d.pr_gid, d.filename, d.r, p.*
    FROM dedup d CROSS JOIN LATERAL jsonb_to_record(d.r) AS p(
      repository_github_id bigint, status text, additions integer, deletions integer, changes integer,
      previous_filename text, patch text)
  ), resolved AS (
    SELECT t.*, pr.id AS pr_id, coalesce(pr.repository_id, rp.id) AS repo_id
    FROM typed t
    LEFT JOIN pull_requests pr ON pr.github_id = t.pr_gid
    LEFT JOIN repositories rp ON rp.github_id = t.repository_github_id
  ), checked AS (
    SELECT r.*,
      CASE
        WHEN r.status IS NOT NULL AND r.status NOT IN ('added', 'removed', 'modified', 'renamed', 'copied',
                                                       'changed', 'unchanged') THEN 'invalid_value'
        WHEN r.pr_id IS NULL THEN 'missing_pull_request'
        WHEN r.repo_id IS NULL AND NOT v_repo_nullable THEN 'missing_repository'
      END AS reason,
      CASE
        WHEN r.status IS NOT NULL AND r.status NOT IN ('added', 'removed', 'modified', 'renamed', 'copied',
                                                       'changed', 'unchanged') THEN format('status=%s', r.status)
        WHEN r.pr_id IS NULL THEN format('pull_request_github_id %s not found in pull_requests', r.pr_gid)
        WHEN r.repo_id IS NULL AND NOT v_repo_nullable THEN 'no repository for the pull request'
      END AS detail
    FROM resolved r
  ), ok AS (
    SELECT c.*, CASE WHEN c.r ? 'patch' THEN c.patch ELSE cur.patch END AS final_patch
    FROM checked c LEFT JOIN pull_request_files cur ON cur.pull_request_id = c.pr_id AND cur.filename = c.filename
    WHERE c.reason IS NULL
  ), written AS (
    INSERT INTO pull_request_files AS f (pull_request_id, repository_id, filename, status, additions, deletions,
                                         changes, previous_filename, patch)
    SELECT o.pr_id, o.repo_id, o.filename, o.status, o.additions, o.deletions, o.changes, o.previous_filename,
           o.final_patch
    FROM ok o ORDER BY o.pr_id, o.filename
    ON CONFLICT (pull_request_id, filename) DO UPDATE SET
        repository_id = EXCLUDED.repository_id, status = EXCLUDED.status, additions = EXCLUDED.additions,
        deletions = EXCLUDED.deletions, changes = EXCLUDED.changes, previous_filename = EXCLUDED.previous_filename,
        patch = EXCLUDED.patch, updated_at = now()
     WHERE (f.repository_id, f.status, f.additions, f.deletions, f.changes, f.previous_filename, f.patch)
           IS DISTINCT FROM
           (EXCLUDED.repository_id, EXCLUDED.status, EXCLUDED.additions, EXCLUDED.deletions, EXCLUDED.changes,
            EXCLUDED.previous_filename, EXCLUDED.patch)
    RETURNING (f.xmax = 0) AS inserted
  )
  SELECT jsonb_build_object(
      'table', 'pull_request_files',
      'received', v_received,
      'accepted', (SELECT count(*) FROM ok),
      'duplicates', (SELECT count(*) FROM elems WHERE pr_gid IS NOT NULL) - (SELECT count(*) FROM dedup),
      'inserted', (SELECT count(*) FROM written WHERE inserted),
      'updated', (SELECT count(*) FROM written WHERE NOT inserted),
      'unchanged', (SELECT count(*) FROM ok) - (SELECT count(*) FROM written),
      'rejected', (SELECT coalesce(jsonb_agg(x.o ORDER BY x.ord), '[]'::jsonb) FROM (
          SELECT e.ord, jsonb_build_object('index', e.ord,
                   'key', jsonb_build_object('pull_request_github_id', e.r->'pull_request_github_id',
                                             'filename', e.r->'filename'),
                   'reason', 'invalid_row',
                   'detail', 'not an object with an integer pull_request_github_id and a non-empty filename') AS o
          FROM elems e WHERE e.pr_gid IS NULL
          UNION ALL
          SELECT c.ord, jsonb_build_object('index', c.ord,
                   'key', jsonb_build_object('pull_request_github_id', c.pr_gid, 'filename', c.filename),
                   'reason', c.reason, 'detail', c.detail)
          FROM checked c WHERE c.reason IS NOT NULL) x),
      'warnings', '[]'::jsonb),
    (SELECT coalesce(jsonb_agg(jsonb_build_object('pr_id', o.pr_id, 'pr_gid', o.pr_gid, 'filename', o.filename)), '[]'::jsonb)
       FROM ok o)
  INTO v_result, v_keys;

  IF replace THEN
    WITH k AS (
      SELECT (e->>'pr_id')::uuid AS pr_id, e->>'filename' AS filename FROM jsonb_array_elements(v_keys) e
    ), d AS (
      DELETE FROM pull_request_files f
       WHERE f.pull_request_id IN (SELECT DISTINCT pr_id FROM k)
         AND NOT EXISTS (SELECT 1 FROM k WHERE k.pr_id = f.pull_request_id AND k.filename = f.filename)
      RETURNING 1
    )
    SELECT count(*) INTO v_deleted FROM d;
    v_result := v_result || jsonb_build_object('deleted', v_deleted);
  END IF;

  IF return_ids THEN
    v_result := v_result || jsonb_build_object('ids', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('pull_request_github_id', (e->>'pr_gid')::bigint,
                                                   'filename', f.filename, 'id', f.id)
                                ORDER BY (e->>'pr_gid')::bigint, f.filename), '[]'::jsonb)
      FROM jsonb_array_elements(v_keys) e
      JOIN pull_request_files f ON f.pull_request_id = (e->>'pr_id')::uuid AND f.filename = e->>'filename'));
  END IF;
  RETURN v_result;
END $fn$;

-- ---------------------------------------------------------------- privileges
-- The functions run with the caller's rights (SECURITY INVOKER). Only the service role (and the
-- owner) may execute them: on Supabase default privileges would otherwise grant EXECUTE to anon
-- and authenticated. The role statements are skipped on databases without those roles.
DO $$
DECLARE
  f text;
  r text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
      'progcap_ghost_contributor_id()',
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
END $$;
