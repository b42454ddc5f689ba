-- progcap migration 0001: contributor.info core tables
-- =====================================================================================
-- Source: /work/shared/reference/capture-spec.md §3.1-§3.6 (database schema of
-- contributor.info), production state where the spec documents one, cross-checked against
-- bdougie/contributor.info:supabase/migrations/20240614000000_initial_contributor_schema.sql,
-- …/20250710000000_add_progressive_capture_jobs.sql and the later ALTER migrations cited in §3.
--
-- Contract (see packaging/sql/README.md): applied by `progcap db migrate` inside ONE transaction,
-- in lexical order, recorded in progcap_schema_migrations. Every statement is idempotent:
--   * on an empty database it creates the production-state tables;
--   * on a database that already holds contributor.info's tables (any version since the initial
--     2024-06-14 schema) it adds ONLY what is missing: columns (with the same back-fills the
--     upstream migrations did), unique/foreign-key/check constraints, indexes, the view;
--   * run a second time it executes no DDL at all (every step is guarded by a catalog check).
-- Existing columns, types, defaults, constraints and rows are never changed, with exactly one
-- documented exception (comments.pull_request_id DROP NOT NULL, done together with adding
-- comments.issue_id, as upstream 20250120000004 did).
--
-- Deviations chosen (all deliberate, see README "Deviations"):
--   D1  New ids use DEFAULT gen_random_uuid() (built in since PostgreSQL 13) instead of
--       uuid_generate_v4(): same v4 UUIDs, no dependency on the uuid-ossp extension or on the
--       schema it lives in (Supabase keeps it in `extensions`). "uuid-ossp" is still created when
--       it is available and we are allowed to (guarded), so contributor.info SQL that calls
--       uuid_generate_v4() keeps working; existing tables keep their existing defaults.
--   D2  Not created: RLS policies and GRANTs (managed by contributor.info/Supabase; the roles
--       anon/authenticated/service_role do not exist on a plain PostgreSQL), the
--       pull_requests→repositories.pull_request_count trigger (it counts DB rows, defect P17),
--       pgvector `embedding` columns, DLT `_dlt_*` columns, and columns whose type §3 does not
--       document (pull_requests.last_updated, repositories.webhook_priority & co).
--   D3  progressive_capture_progress (§3.7) is not created: production dropped it on 2026-04-28.
--   D4  progressive_capture_jobs.repository_id uses the production definition (ON DELETE NO
--       ACTION DEFERRABLE INITIALLY DEFERRED, upstream 20251001000002) rather than the original
--       ON DELETE CASCADE.
--   D5  issues is the minimal shape needed for comments.issue_id (production has more columns;
--       an existing issues table is left as it is apart from adding missing listed columns).
--   D6  Existing CHECK constraints are not widened: an old pull_requests_state_check that only
--       allows ('open','closed') stays; progcap only writes 'open'/'closed'.
--   D7  Uniqueness/FK/index presence is detected by column set, not by name, so a database whose
--       constraints carry other names (the production export uses fk_reviews_pull_request etc.)
--       does not get duplicates.
-- =====================================================================================

-- ---------------------------------------------------------------- session-local helpers
-- Created in pg_temp: they vanish with the session and never become part of the schema.

CREATE OR REPLACE FUNCTION pg_temp.progcap_col_exists(p_tbl regclass, p_col text)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                 WHERE attrelid = p_tbl AND attname = p_col AND attnum > 0 AND NOT attisdropped)
$$;

-- Add a column when it is missing. p_decl is the type plus an optional DEFAULT. When the column
-- is added: run p_backfill (if any), then SET NOT NULL if requested and no row is NULL (otherwise
-- leave it nullable and say so). Returns true when the column was added.
CREATE OR REPLACE FUNCTION pg_temp.progcap_add_column(p_tbl regclass, p_col text, p_decl text,
                                                      p_not_null boolean DEFAULT false,
                                                      p_backfill text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  v_nulls bigint;
BEGIN
  IF pg_temp.progcap_col_exists(p_tbl, p_col) THEN
    RETURN false;
  END IF;
  EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', p_tbl, p_col, p_decl);
  IF p_backfill IS NOT NULL THEN
    EXECUTE p_backfill;
  END IF;
  IF p_not_null THEN
    EXECUTE format('SELECT count(*) FROM %s WHERE %I IS NULL', p_tbl, p_col) INTO v_nulls;
    IF v_nulls = 0 THEN
      EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', p_tbl, p_col);
    ELSE
      RAISE NOTICE 'progcap: %.% added but left NULLable: % existing row(s) could not be back-filled',
        p_tbl, p_col, v_nulls;
    END IF;
  END IF;
  RETURN true;
END $$;

-- Names of the key columns of index/constraint key arrays.
CREATE OR REPLACE FUNCTION pg_temp.progcap_attnames(p_tbl regclass, p_keys int2[])
RETURNS text[] LANGUAGE sql STABLE AS $$
  SELECT array_agg(a.attname::text ORDER BY k.ord)
  FROM unnest(p_keys) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = p_tbl AND a.attnum = k.attnum
$$;

-- UNIQUE on exactly this column set (any order, any name, constraint or plain unique index,
-- primary key included). Added as a named constraint when absent.
CREATE OR REPLACE FUNCTION pg_temp.progcap_ensure_unique(p_tbl regclass, p_cols text[], p_name text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
      SELECT 1 FROM pg_catalog.pg_index i
      WHERE i.indrelid = p_tbl AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
        AND (SELECT array_agg(x ORDER BY x) FROM unnest(pg_temp.progcap_attnames(p_tbl, i.indkey::int2[])) x)
          = (SELECT array_agg(x ORDER BY x) FROM unnest(p_cols) x)) THEN
    RETURN;
  END IF;
  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I UNIQUE (%s)', p_tbl, p_name,
                 (SELECT string_agg(quote_ident(c), ', ') FROM unnest(p_cols) c));
END $$;

-- FOREIGN KEY (p_col) → p_ref(id): added when no FK on exactly that column to that table exists.
CREATE OR REPLACE FUNCTION pg_temp.progcap_ensure_fk(p_tbl regclass, p_col text, p_ref regclass,
                                                     p_name text, p_tail text DEFAULT '')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
      SELECT 1 FROM pg_catalog.pg_constraint c
      WHERE c.conrelid = p_tbl AND c.contype = 'f' AND c.confrelid = p_ref
        AND pg_temp.progcap_attnames(p_tbl, c.conkey) = ARRAY[p_col]) THEN
    RETURN;
  END IF;
  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %s (id) %s',
                 p_tbl, p_name, p_col, p_ref, p_tail);
END $$;

-- CHECK constraint: added when there is neither a constraint of that name nor any CHECK on the
-- table over exactly the same column set (an older, narrower CHECK is kept, deviation D6).
CREATE OR REPLACE FUNCTION pg_temp.progcap_ensure_check(p_tbl regclass, p_name text, p_cols text[],
                                                        p_expr text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
      SELECT 1 FROM pg_catalog.pg_constraint c
      WHERE c.conrelid = p_tbl AND c.contype = 'c'
        AND (c.conname = p_name
             OR (SELECT array_agg(x ORDER BY x) FROM unnest(pg_temp.progcap_attnames(p_tbl, c.conkey)) x)
                = (SELECT array_agg(x ORDER BY x) FROM unnest(p_cols) x))) THEN
    RETURN;
  END IF;
  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%s)', p_tbl, p_name, p_expr);
END $$;

-- Plain index: created when neither an index of that name (in the table's schema) nor an index on
-- the same ordered key columns with the same partial-ness exists.
CREATE OR REPLACE FUNCTION pg_temp.progcap_ensure_index(p_tbl regclass, p_name text, p_cols text[],
                                                        p_keys text, p_where text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_class ic
             WHERE ic.relname = p_name AND ic.relkind = 'i'
               AND ic.relnamespace = (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = p_tbl))
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                WHERE i.indrelid = p_tbl AND i.indexprs IS NULL
                  AND (i.indpred IS NULL) = (p_where IS NULL)
                  AND pg_temp.progcap_attnames(p_tbl, i.indkey::int2[]) = p_cols) THEN
    RETURN;
  END IF;
  EXECUTE format('CREATE INDEX %I ON %s %s%s', p_name, p_tbl, p_keys,
                 CASE WHEN p_where IS NULL THEN '' ELSE ' WHERE ' || p_where END);
END $$;

-- ---------------------------------------------------------------- extension (deviation D1)
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'uuid-ossp')
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'uuid-ossp') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
    EXCEPTION WHEN insufficient_privilege OR feature_not_supported OR undefined_file THEN
      RAISE NOTICE 'progcap: uuid-ossp not created (%); ids use gen_random_uuid()', SQLERRM;
    END;
  END IF;
END $$;

-- ---------------------------------------------------------------- repositories (§3.1)
DO $$
BEGIN
  IF to_regclass('repositories') IS NULL THEN
    CREATE TABLE repositories (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      CONSTRAINT repositories_pkey PRIMARY KEY (id));
  END IF;
  PERFORM pg_temp.progcap_add_column('repositories', 'github_id', 'bigint', true);
  PERFORM pg_temp.progcap_add_column('repositories', 'full_name', 'text', true);
  PERFORM pg_temp.progcap_add_column('repositories', 'owner', 'text', true);
  PERFORM pg_temp.progcap_add_column('repositories', 'name', 'text', true);
  PERFORM pg_temp.progcap_add_column('repositories', 'description', 'text');
  PERFORM pg_temp.progcap_add_column('repositories', 'homepage', 'text');
  PERFORM pg_temp.progcap_add_column('repositories', 'language', 'text');
  PERFORM pg_temp.progcap_add_column('repositories', 'stargazers_count', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('repositories', 'watchers_count', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('repositories', 'forks_count', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('repositories', 'open_issues_count', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('repositories', 'size', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('repositories', 'default_branch', $d$text DEFAULT 'main'$d$);
  PERFORM pg_temp.progcap_add_column('repositories', 'is_fork', 'boolean DEFAULT false');
  PERFORM pg_temp.progcap_add_column('repositories', 'is_archived', 'boolean DEFAULT false');
  PERFORM pg_temp.progcap_add_column('repositories', 'is_disabled', 'boolean DEFAULT false');
  PERFORM pg_temp.progcap_add_column('repositories', 'is_private', 'boolean DEFAULT false');
  PERFORM pg_temp.progcap_add_column('repositories', 'has_issues', 'boolean DEFAULT true');
  PERFORM pg_temp.progcap_add_column('repositories', 'has_projects', 'boolean DEFAULT true');
  PERFORM pg_temp.progcap_add_column('repositories', 'has_wiki', 'boolean DEFAULT true');
  PERFORM pg_temp.progcap_add_column('repositories', 'has_pages', 'boolean DEFAULT false');
  PERFORM pg_temp.progcap_add_column('repositories', 'has_downloads', 'boolean DEFAULT true');
  PERFORM pg_temp.progcap_add_column('repositories', 'license', 'text');
  PERFORM pg_temp.progcap_add_column('repositories', 'topics', 'text[]');
  PERFORM pg_temp.progcap_add_column('repositories', 'github_created_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('repositories', 'github_updated_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('repositories', 'github_pushed_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('repositories', 'first_tracked_at', 'timestamptz DEFAULT now()', true);
  PERFORM pg_temp.progcap_add_column('repositories', 'last_updated_at', 'timestamptz DEFAULT now()', true);
  PERFORM pg_temp.progcap_add_column('repositories', 'is_active', 'boolean DEFAULT true');
  -- added later (§3.1): 20250804080754 and 20250821001000
  PERFORM pg_temp.progcap_add_column('repositories', 'pull_request_count', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('repositories', 'sync_status', $d$text DEFAULT 'idle'$d$);
  PERFORM pg_temp.progcap_add_column('repositories', 'last_synced_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('repositories', 'total_pull_requests', 'integer DEFAULT 0');

  PERFORM pg_temp.progcap_ensure_unique('repositories', ARRAY['github_id'], 'repositories_github_id_key');
  PERFORM pg_temp.progcap_ensure_unique('repositories', ARRAY['full_name'], 'repositories_full_name_key');
  PERFORM pg_temp.progcap_ensure_unique('repositories', ARRAY['owner', 'name'], 'repositories_owner_name_key');
  PERFORM pg_temp.progcap_ensure_check('repositories', 'repositories_sync_status_check', ARRAY['sync_status'],
    $c$sync_status = ANY (ARRAY['idle'::text, 'syncing'::text, 'completed'::text, 'failed'::text, 'partial'::text])$c$);

  PERFORM pg_temp.progcap_ensure_index('repositories', 'idx_repositories_owner', ARRAY['owner'], '(owner)');
  PERFORM pg_temp.progcap_ensure_index('repositories', 'idx_repositories_language', ARRAY['language'], '(language)');
  PERFORM pg_temp.progcap_ensure_index('repositories', 'idx_repositories_stars', ARRAY['stargazers_count'],
                                       '(stargazers_count DESC)');
  PERFORM pg_temp.progcap_ensure_index('repositories', 'idx_repositories_active', ARRAY['is_active'],
                                       '(is_active)', 'is_active = true');
END $$;

-- ---------------------------------------------------------------- contributors (§3.2)
DO $$
BEGIN
  IF to_regclass('contributors') IS NULL THEN
    CREATE TABLE contributors (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      CONSTRAINT contributors_pkey PRIMARY KEY (id));
  END IF;
  PERFORM pg_temp.progcap_add_column('contributors', 'github_id', 'bigint', true);
  PERFORM pg_temp.progcap_add_column('contributors', 'username', 'text', true);
  PERFORM pg_temp.progcap_add_column('contributors', 'display_name', 'text');
  PERFORM pg_temp.progcap_add_column('contributors', 'avatar_url', 'text');
  PERFORM pg_temp.progcap_add_column('contributors', 'profile_url', 'text');
  PERFORM pg_temp.progcap_add_column('contributors', 'email', 'text');
  PERFORM pg_temp.progcap_add_column('contributors', 'company', 'text');
  PERFORM pg_temp.progcap_add_column('contributors', 'location', 'text');
  PERFORM pg_temp.progcap_add_column('contributors', 'bio', 'text');
  PERFORM pg_temp.progcap_add_column('contributors', 'blog', 'text');
  PERFORM pg_temp.progcap_add_column('contributors', 'public_repos', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('contributors', 'public_gists', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('contributors', 'followers', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('contributors', 'following', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('contributors', 'github_created_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('contributors', 'first_seen_at', 'timestamptz DEFAULT now()', true);
  PERFORM pg_temp.progcap_add_column('contributors', 'last_updated_at', 'timestamptz DEFAULT now()', true);
  PERFORM pg_temp.progcap_add_column('contributors', 'is_bot', 'boolean DEFAULT false');
  PERFORM pg_temp.progcap_add_column('contributors', 'is_active', 'boolean DEFAULT true');
  -- production additions (§3.2)
  PERFORM pg_temp.progcap_add_column('contributors', 'created_at', 'timestamptz DEFAULT now()');
  PERFORM pg_temp.progcap_add_column('contributors', 'avatar_cached_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('contributors', 'avatar_cache_expires_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('contributors', 'discord_url', 'text');
  PERFORM pg_temp.progcap_add_column('contributors', 'linkedin_url', 'text');

  PERFORM pg_temp.progcap_ensure_unique('contributors', ARRAY['github_id'], 'contributors_github_id_key');
  PERFORM pg_temp.progcap_ensure_unique('contributors', ARRAY['username'], 'contributors_username_key');

  PERFORM pg_temp.progcap_ensure_index('contributors', 'idx_contributors_last_updated', ARRAY['last_updated_at'],
                                       '(last_updated_at)');
  PERFORM pg_temp.progcap_ensure_index('contributors', 'idx_contributors_active', ARRAY['is_active'],
                                       '(is_active)', 'is_active = true');
END $$;

-- ---------------------------------------------------------------- issues (minimal, deviation D5)
DO $$
BEGIN
  IF to_regclass('issues') IS NULL THEN
    CREATE TABLE issues (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      CONSTRAINT issues_pkey PRIMARY KEY (id));
  END IF;
  PERFORM pg_temp.progcap_add_column('issues', 'github_id', 'bigint', true);
  PERFORM pg_temp.progcap_add_column('issues', 'repository_id', 'uuid', true);
  PERFORM pg_temp.progcap_add_column('issues', 'number', 'integer', true);
  PERFORM pg_temp.progcap_add_column('issues', 'title', 'text', true);
  PERFORM pg_temp.progcap_add_column('issues', 'state', 'text');
  PERFORM pg_temp.progcap_add_column('issues', 'created_at', 'timestamptz', true);
  PERFORM pg_temp.progcap_add_column('issues', 'updated_at', 'timestamptz', true);

  PERFORM pg_temp.progcap_ensure_unique('issues', ARRAY['github_id'], 'issues_github_id_key');
  PERFORM pg_temp.progcap_ensure_fk('issues', 'repository_id', 'repositories', 'issues_repository_id_fkey',
                                    'ON DELETE CASCADE');
  PERFORM pg_temp.progcap_ensure_check('issues', 'issues_state_check', ARRAY['state'],
    $c$state = ANY (ARRAY['open'::text, 'closed'::text])$c$);
  PERFORM pg_temp.progcap_ensure_index('issues', 'idx_issues_repository_id', ARRAY['repository_id'],
                                       '(repository_id)');
END $$;

-- ---------------------------------------------------------------- pull_requests (§3.3)
DO $$
BEGIN
  IF to_regclass('pull_requests') IS NULL THEN
    CREATE TABLE pull_requests (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      CONSTRAINT pull_requests_pkey PRIMARY KEY (id));
  END IF;
  PERFORM pg_temp.progcap_add_column('pull_requests', 'github_id', 'bigint', true);
  PERFORM pg_temp.progcap_add_column('pull_requests', 'number', 'integer', true);
  PERFORM pg_temp.progcap_add_column('pull_requests', 'title', 'text', true);
  PERFORM pg_temp.progcap_add_column('pull_requests', 'body', 'text');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'state', 'text', true);
  -- production: repository_id and author_id nullable again since 20251001000001
  PERFORM pg_temp.progcap_add_column('pull_requests', 'repository_id', 'uuid');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'author_id', 'uuid');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'assignee_id', 'uuid');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'base_branch', $d$text DEFAULT 'main'$d$, true);
  PERFORM pg_temp.progcap_add_column('pull_requests', 'head_branch', 'text', true);
  PERFORM pg_temp.progcap_add_column('pull_requests', 'draft', 'boolean DEFAULT false');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'mergeable', 'boolean');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'mergeable_state', 'text');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'merged', 'boolean DEFAULT false');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'merged_by_id', 'uuid');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'created_at', 'timestamptz', true);
  PERFORM pg_temp.progcap_add_column('pull_requests', 'updated_at', 'timestamptz', true);
  PERFORM pg_temp.progcap_add_column('pull_requests', 'merged_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'closed_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'additions', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'deletions', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'changed_files', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'commits', 'integer DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'html_url', 'text');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'diff_url', 'text');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'patch_url', 'text');
  -- production extra columns (§3.3)
  PERFORM pg_temp.progcap_add_column('pull_requests', 'base_ref', 'text');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'head_ref', 'text');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'spam_score', 'numeric DEFAULT 0');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'spam_flags', $d$jsonb DEFAULT '{}'::jsonb$d$);
  PERFORM pg_temp.progcap_add_column('pull_requests', 'is_spam', 'boolean DEFAULT false');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'reviewed_by_admin', 'boolean DEFAULT false');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'spam_detected_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'spam_review_notes', 'text');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'embedding_generated_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'content_hash', 'text');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'last_synced_at', 'timestamptz DEFAULT now()');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'reviewer_data', 'jsonb');
  PERFORM pg_temp.progcap_add_column('pull_requests', 'author_login', 'text');
  -- 20250122001000 (effective 2025-09-22): NOT NULL after back-fill from repositories
  PERFORM pg_temp.progcap_add_column('pull_requests', 'repository_full_name', 'text', true,
    $b$UPDATE pull_requests pr SET repository_full_name = r.full_name
       FROM repositories r WHERE pr.repository_id = r.id AND pr.repository_full_name IS NULL$b$);
  -- 20251001000000: natural keys next to the UUID FKs, back-filled
  PERFORM pg_temp.progcap_add_column('pull_requests', 'author_github_id', 'bigint', false,
    $b$UPDATE pull_requests pr SET author_github_id = c.github_id
       FROM contributors c WHERE pr.author_id = c.id AND pr.author_github_id IS NULL$b$);
  PERFORM pg_temp.progcap_add_column('pull_requests', 'repository_github_id', 'bigint', false,
    $b$UPDATE pull_requests pr SET repository_github_id = r.github_id
       FROM repositories r WHERE pr.repository_id = r.id AND pr.repository_github_id IS NULL$b$);

  PERFORM pg_temp.progcap_ensure_unique('pull_requests', ARRAY['github_id'], 'pull_requests_github_id_key');
  PERFORM pg_temp.progcap_ensure_unique('pull_requests', ARRAY['repository_id', 'number'],
                                        'pull_requests_repo_number_key');
  PERFORM pg_temp.progcap_ensure_check('pull_requests', 'pull_requests_state_check', ARRAY['state'],
    $c$state = ANY (ARRAY['open'::text, 'closed'::text, 'merged'::text])$c$);
  PERFORM pg_temp.progcap_ensure_check('pull_requests', 'pull_requests_spam_score_check', ARRAY['spam_score'],
    $c$spam_score IS NULL OR (spam_score >= 0::numeric AND spam_score <= 100::numeric)$c$);
  PERFORM pg_temp.progcap_ensure_fk('pull_requests', 'repository_id', 'repositories',
                                    'pull_requests_repository_id_fkey', 'ON DELETE CASCADE');
  PERFORM pg_temp.progcap_ensure_fk('pull_requests', 'author_id', 'contributors', 'pull_requests_author_id_fkey',
                                    'ON DELETE CASCADE');
  PERFORM pg_temp.progcap_ensure_fk('pull_requests', 'assignee_id', 'contributors',
                                    'pull_requests_assignee_id_fkey');
  PERFORM pg_temp.progcap_ensure_fk('pull_requests', 'merged_by_id', 'contributors',
                                    'pull_requests_merged_by_id_fkey');

  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_repository', ARRAY['repository_id'],
                                       '(repository_id)');
  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_author', ARRAY['author_id'], '(author_id)');
  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_state', ARRAY['state'], '(state)');
  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_created', ARRAY['created_at'],
                                       '(created_at DESC)');
  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_merged', ARRAY['merged_at'],
                                       '(merged_at DESC)', 'merged_at IS NOT NULL');
  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_repo_state',
                                       ARRAY['repository_id', 'state'], '(repository_id, state)');
  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_author_state',
                                       ARRAY['author_id', 'state'], '(author_id, state)');
  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_merged_by', ARRAY['merged_by_id'],
                                       '(merged_by_id)');
  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_repository_full_name',
                                       ARRAY['repository_full_name'], '(repository_full_name)');
  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_author_github_id',
                                       ARRAY['author_github_id'], '(author_github_id)');
  PERFORM pg_temp.progcap_ensure_index('pull_requests', 'idx_pull_requests_repository_github_id',
                                       ARRAY['repository_github_id'], '(repository_github_id)');
END $$;

-- ---------------------------------------------------------------- reviews (§3.4)
DO $$
BEGIN
  IF to_regclass('reviews') IS NULL THEN
    CREATE TABLE reviews (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      CONSTRAINT reviews_pkey PRIMARY KEY (id));
  END IF;
  PERFORM pg_temp.progcap_add_column('reviews', 'github_id', 'bigint', true);
  PERFORM pg_temp.progcap_add_column('reviews', 'pull_request_id', 'uuid', true);
  PERFORM pg_temp.progcap_add_column('reviews', 'reviewer_id', 'uuid');   -- nullable since 20250804000000
  PERFORM pg_temp.progcap_add_column('reviews', 'state', 'text', true);
  PERFORM pg_temp.progcap_add_column('reviews', 'body', 'text');
  PERFORM pg_temp.progcap_add_column('reviews', 'submitted_at', 'timestamptz', true);
  PERFORM pg_temp.progcap_add_column('reviews', 'commit_id', 'text');
  -- 20250804000000: author_id NOT NULL, back-filled from reviewer_id
  PERFORM pg_temp.progcap_add_column('reviews', 'author_id', 'uuid', true,
    $b$UPDATE reviews SET author_id = reviewer_id WHERE author_id IS NULL$b$);
  -- 20251002000001: repository_id NOT NULL, back-filled from the pull request
  PERFORM pg_temp.progcap_add_column('reviews', 'repository_id', 'uuid', true,
    $b$UPDATE reviews rv SET repository_id = pr.repository_id
       FROM pull_requests pr WHERE rv.pull_request_id = pr.id AND rv.repository_id IS NULL$b$);

  PERFORM pg_temp.progcap_ensure_unique('reviews', ARRAY['github_id'], 'reviews_github_id_key');
  PERFORM pg_temp.progcap_ensure_check('reviews', 'reviews_state_check', ARRAY['state'],
    $c$state = ANY (ARRAY['PENDING'::text, 'APPROVED'::text, 'CHANGES_REQUESTED'::text, 'COMMENTED'::text, 'DISMISSED'::text])$c$);
  PERFORM pg_temp.progcap_ensure_fk('reviews', 'pull_request_id', 'pull_requests', 'reviews_pull_request_id_fkey',
                                    'ON DELETE CASCADE');
  PERFORM pg_temp.progcap_ensure_fk('reviews', 'reviewer_id', 'contributors', 'reviews_reviewer_id_fkey',
                                    'ON DELETE CASCADE');
  PERFORM pg_temp.progcap_ensure_fk('reviews', 'author_id', 'contributors', 'reviews_author_id_fkey',
                                    'ON DELETE CASCADE');
  PERFORM pg_temp.progcap_ensure_fk('reviews', 'repository_id', 'repositories', 'fk_reviews_repository',
                                    'ON DELETE CASCADE');

  PERFORM pg_temp.progcap_ensure_index('reviews', 'idx_reviews_pull_request', ARRAY['pull_request_id'],
                                       '(pull_request_id)');
  PERFORM pg_temp.progcap_ensure_index('reviews', 'idx_reviews_reviewer', ARRAY['reviewer_id'], '(reviewer_id)');
  PERFORM pg_temp.progcap_ensure_index('reviews', 'idx_reviews_state', ARRAY['state'], '(state)');
  PERFORM pg_temp.progcap_ensure_index('reviews', 'idx_reviews_submitted', ARRAY['submitted_at'],
                                       '(submitted_at DESC)');
  PERFORM pg_temp.progcap_ensure_index('reviews', 'idx_reviews_author_id', ARRAY['author_id'], '(author_id)');
  PERFORM pg_temp.progcap_ensure_index('reviews', 'idx_reviews_repository_id', ARRAY['repository_id'],
                                       '(repository_id)');
END $$;

-- ---------------------------------------------------------------- comments (§3.5)
DO $$
BEGIN
  IF to_regclass('comments') IS NULL THEN
    CREATE TABLE comments (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      CONSTRAINT comments_pkey PRIMARY KEY (id));
  END IF;
  PERFORM pg_temp.progcap_add_column('comments', 'github_id', 'bigint', true);
  PERFORM pg_temp.progcap_add_column('comments', 'pull_request_id', 'uuid');   -- nullable since 20250120000004
  PERFORM pg_temp.progcap_add_column('comments', 'commenter_id', 'uuid');      -- nullable in production
  PERFORM pg_temp.progcap_add_column('comments', 'body', 'text', true);
  PERFORM pg_temp.progcap_add_column('comments', 'created_at', 'timestamptz', true);
  PERFORM pg_temp.progcap_add_column('comments', 'updated_at', 'timestamptz', true);
  PERFORM pg_temp.progcap_add_column('comments', 'comment_type', 'text', true);
  PERFORM pg_temp.progcap_add_column('comments', 'in_reply_to_id', 'uuid');
  PERFORM pg_temp.progcap_add_column('comments', 'position', 'integer');
  PERFORM pg_temp.progcap_add_column('comments', 'original_position', 'integer');
  PERFORM pg_temp.progcap_add_column('comments', 'diff_hunk', 'text');
  PERFORM pg_temp.progcap_add_column('comments', 'path', 'text');
  PERFORM pg_temp.progcap_add_column('comments', 'commit_id', 'text');
  -- 20250812000000: repository_id NOT NULL, back-filled from the pull request
  PERFORM pg_temp.progcap_add_column('comments', 'repository_id', 'uuid', true,
    $b$UPDATE comments c SET repository_id = pr.repository_id
       FROM pull_requests pr WHERE c.pull_request_id = pr.id AND c.repository_id IS NULL$b$);
  -- 20251003000000
  PERFORM pg_temp.progcap_add_column('comments', 'original_commit_id', 'text');
  -- 20250120000004: issue comments. The single in-place change of this migration: when issue_id
  -- is added, pull_request_id loses NOT NULL (as upstream did), so comments_pr_or_issue_check
  -- can hold for issue comments.
  IF pg_temp.progcap_add_column('comments', 'issue_id', 'uuid') THEN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
               WHERE attrelid = 'comments'::regclass AND attname = 'pull_request_id' AND attnotnull) THEN
      ALTER TABLE comments ALTER COLUMN pull_request_id DROP NOT NULL;
    END IF;
  END IF;

  PERFORM pg_temp.progcap_ensure_unique('comments', ARRAY['github_id'], 'comments_github_id_key');
  PERFORM pg_temp.progcap_ensure_check('comments', 'comments_comment_type_check', ARRAY['comment_type'],
    $c$comment_type = ANY (ARRAY['issue_comment'::text, 'review_comment'::text])$c$);
  PERFORM pg_temp.progcap_ensure_check('comments', 'comments_pr_or_issue_check', ARRAY['pull_request_id', 'issue_id'],
    $c$(pull_request_id IS NOT NULL AND issue_id IS NULL) OR (pull_request_id IS NULL AND issue_id IS NOT NULL)$c$);
  PERFORM pg_temp.progcap_ensure_fk('comments', 'pull_request_id', 'pull_requests',
                                    'comments_pull_request_id_fkey', 'ON DELETE CASCADE');
  PERFORM pg_temp.progcap_ensure_fk('comments', 'commenter_id', 'contributors', 'comments_commenter_id_fkey',
                                    'ON DELETE CASCADE');
  PERFORM pg_temp.progcap_ensure_fk('comments', 'in_reply_to_id', 'comments', 'comments_in_reply_to_id_fkey');
  PERFORM pg_temp.progcap_ensure_fk('comments', 'repository_id', 'repositories', 'comments_repository_id_fkey',
                                    'ON DELETE CASCADE');
  PERFORM pg_temp.progcap_ensure_fk('comments', 'issue_id', 'issues', 'comments_issue_id_fkey',
                                    'ON DELETE CASCADE');

  PERFORM pg_temp.progcap_ensure_index('comments', 'idx_comments_pull_request', ARRAY['pull_request_id'],
                                       '(pull_request_id)');
  PERFORM pg_temp.progcap_ensure_index('comments', 'idx_comments_commenter', ARRAY['commenter_id'],
                                       '(commenter_id)');
  PERFORM pg_temp.progcap_ensure_index('comments', 'idx_comments_created', ARRAY['created_at'],
                                       '(created_at DESC)');
  PERFORM pg_temp.progcap_ensure_index('comments', 'idx_comments_type', ARRAY['comment_type'], '(comment_type)');
  PERFORM pg_temp.progcap_ensure_index('comments', 'idx_comments_repository_id', ARRAY['repository_id'],
                                       '(repository_id)');
  PERFORM pg_temp.progcap_ensure_index('comments', 'idx_comments_issue_id', ARRAY['issue_id'], '(issue_id)',
                                       'issue_id IS NOT NULL');
  PERFORM pg_temp.progcap_ensure_index('comments', 'idx_comments_in_reply_to', ARRAY['in_reply_to_id'],
                                       '(in_reply_to_id)', 'in_reply_to_id IS NOT NULL');
END $$;

-- ---------------------------------------------------------------- progressive_capture_jobs (§3.6)
DO $$
BEGIN
  IF to_regclass('progressive_capture_jobs') IS NULL THEN
    CREATE TABLE progressive_capture_jobs (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      CONSTRAINT progressive_capture_jobs_pkey PRIMARY KEY (id));
  END IF;
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'job_type', 'varchar(50)', true);
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'repository_id', 'uuid');
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'processor_type',
                                     $d$varchar(20) DEFAULT 'github_actions'$d$, true);
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'status', $d$varchar(20) DEFAULT 'pending'$d$);
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'time_range_days', 'integer');
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'workflow_run_id', 'bigint');
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'metadata', $d$jsonb DEFAULT '{}'$d$);
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'error', 'text');
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'created_at', 'timestamptz DEFAULT now()');
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'started_at', 'timestamptz');
  PERFORM pg_temp.progcap_add_column('progressive_capture_jobs', 'completed_at', 'timestamptz');
  -- deviation D4: production definition of the FK (upstream 20251001000002)
  PERFORM pg_temp.progcap_ensure_fk('progressive_capture_jobs', 'repository_id', 'repositories',
                                    'progressive_capture_jobs_repository_id_fkey',
                                    'ON DELETE NO ACTION DEFERRABLE INITIALLY DEFERRED');

  PERFORM pg_temp.progcap_ensure_index('progressive_capture_jobs', 'idx_capture_jobs_processor',
                                       ARRAY['processor_type', 'status', 'created_at'],
                                       '(processor_type, status, created_at)');
  PERFORM pg_temp.progcap_ensure_index('progressive_capture_jobs', 'idx_capture_jobs_repository',
                                       ARRAY['repository_id', 'created_at'], '(repository_id, created_at)');
  PERFORM pg_temp.progcap_ensure_index('progressive_capture_jobs', 'idx_capture_jobs_status',
                                       ARRAY['status', 'created_at'], '(status, created_at)');
  PERFORM pg_temp.progcap_ensure_index('progressive_capture_jobs', 'idx_capture_jobs_workflow_run',
                                       ARRAY['workflow_run_id'], '(workflow_run_id)', 'workflow_run_id IS NOT NULL');

  -- View progressive_capture_stats (§3.6): created only when absent (an existing one is kept).
  IF to_regclass('progressive_capture_stats') IS NULL THEN
    CREATE VIEW progressive_capture_stats AS
    SELECT
      processor_type,
      status,
      COUNT(*) AS count,
      MIN(created_at) AS oldest_job,
      MAX(created_at) AS newest_job,
      AVG(EXTRACT(EPOCH FROM (completed_at - started_at))/60) AS avg_duration_minutes
    FROM progressive_capture_jobs
    WHERE created_at > NOW() - INTERVAL '7 days'
    GROUP BY processor_type, status;
  END IF;

  -- Function get_progressive_capture_metrics (§3.6): created only when absent.
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                 WHERE p.proname = 'get_progressive_capture_metrics'
                   AND p.pronamespace = (SELECT relnamespace FROM pg_catalog.pg_class
                                         WHERE oid = 'progressive_capture_jobs'::regclass)) THEN
    CREATE FUNCTION get_progressive_capture_metrics(days_back integer DEFAULT 7)
    RETURNS TABLE (
      total_jobs bigint, pending_jobs bigint, processing_jobs bigint, completed_jobs bigint,
      failed_jobs bigint, inngest_jobs bigint, github_actions_jobs bigint,
      avg_completion_time_minutes numeric)
    LANGUAGE sql STABLE
    AS $f$
      SELECT
        COUNT(*),
        COUNT(*) FILTER (WHERE status = 'pending'),
        COUNT(*) FILTER (WHERE status = 'processing'),
        COUNT(*) FILTER (WHERE status = 'completed'),
        COUNT(*) FILTER (WHERE status = 'failed'),
        COUNT(*) FILTER (WHERE processor_type = 'inngest'),
        COUNT(*) FILTER (WHERE processor_type = 'github_actions'),
        AVG(EXTRACT(EPOCH FROM (completed_at - started_at))/60)
      FROM progressive_capture_jobs
      WHERE created_at > NOW() - INTERVAL '1 day' * days_back;
    $f$;
  END IF;
END $$;
