-- progcap migration 0002: per-file PR changes (new table, no contributor.info counterpart)
-- =====================================================================================
-- capture-spec §3.3: "There is no per-file PR change table" in contributor.info; progcap adds
-- one so file changes (GitHub `GET /repos/{o}/{r}/pulls/{n}/files`, GraphQL `files`) are stored
-- instead of being dropped. Natural key: (pull_request_id, filename) — a file appears once per
-- PR in GitHub's list; a rename is stored under its new name with previous_filename set.
--
-- Idempotent like 0001 (guarded, no DDL on a second run). Row-level security is enabled with a
-- public read policy and no write policy: on Supabase new tables in `public` are granted to anon
-- and authenticated by default, so without RLS the anon key could write here (defect P23);
-- service_role bypasses RLS, and plain PostgreSQL superusers/owners are unaffected.
-- =====================================================================================

DO $$
BEGIN
  IF to_regclass('pull_request_files') IS NULL THEN
    CREATE TABLE pull_request_files (
      id                uuid        NOT NULL DEFAULT gen_random_uuid(),
      pull_request_id   uuid        NOT NULL,
      repository_id     uuid,
      filename          text        NOT NULL,
      status            text,
      additions         integer,
      deletions         integer,
      changes           integer,
      previous_filename text,
      patch             text,       -- NULL: GitHub sent no patch (binary, too large) or the source has none
      created_at        timestamptz NOT NULL DEFAULT now(),
      updated_at        timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT pull_request_files_pkey PRIMARY KEY (id),
      CONSTRAINT pull_request_files_pr_filename_key UNIQUE (pull_request_id, filename),
      CONSTRAINT pull_request_files_pull_request_id_fkey FOREIGN KEY (pull_request_id)
        REFERENCES pull_requests (id) ON DELETE CASCADE,
      CONSTRAINT pull_request_files_repository_id_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
      CONSTRAINT pull_request_files_status_check CHECK (status IS NULL OR status = ANY (ARRAY[
        'added'::text, 'removed'::text, 'modified'::text, 'renamed'::text, 'copied'::text,
        'changed'::text, 'unchanged'::text])),
      CONSTRAINT pull_request_files_counts_check CHECK (
        (additions IS NULL OR additions >= 0) AND (deletions IS NULL OR deletions >= 0)
        AND (changes IS NULL OR changes >= 0))
    );
    COMMENT ON TABLE pull_request_files IS
      'progcap: files changed by a pull request (GitHub pulls/{n}/files); key (pull_request_id, filename)';
  END IF;

  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class ic
                 WHERE ic.relkind = 'i' AND ic.relname = 'idx_pull_request_files_repository_id'
                   AND ic.relnamespace = (SELECT relnamespace FROM pg_catalog.pg_class
                                          WHERE oid = 'pull_request_files'::regclass)) THEN
    CREATE INDEX idx_pull_request_files_repository_id ON pull_request_files (repository_id);
  END IF;

  IF NOT (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'pull_request_files'::regclass) THEN
    ALTER TABLE pull_request_files ENABLE ROW LEVEL SECURITY;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                 WHERE polrelid = 'pull_request_files'::regclass
                   AND polname = 'pull_request_files_public_read') THEN
    CREATE POLICY pull_request_files_public_read ON pull_request_files FOR SELECT USING (true);
  END IF;
END $$;
