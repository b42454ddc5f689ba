-- progcap migration 0004: a robust job queue on contributor.info's progressive_capture_jobs
-- =====================================================================================
-- Additive only: new columns, indexes and one view; existing columns, rows and contributor.info's
-- own view/function are untouched. Rows without a `lane` (contributor.info's own jobs) are never
-- claimed by progcap workers. Every step is guarded by a catalog check, so the file can run again.
--
-- Queue protocol (implemented by `progcap enqueue|work|jobs|dispatch`, core/src/queue):
--   claim      UPDATE … SET status='processing', locked_by=<worker>, lease_expires_at=now()+lease,
--              attempts=attempts+1 WHERE id = (SELECT id … WHERE status='pending' AND lane=$1
--              AND run_after <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
--              ORDER BY run_after, created_at FOR UPDATE SKIP LOCKED LIMIT 1)
--   heartbeat  extends the lease and writes progress; 0 rows = the lease was lost (stop)
--   expiry     a processing job whose lease expired goes back to pending (its attempt counted), or
--              to failed after max_attempts with its last error
--   dedupe     an idempotency key is unique among pending/processing jobs: an identical enqueue is a no-op
-- =====================================================================================

DO $mig$
DECLARE
  col record;
BEGIN
  IF to_regclass('progressive_capture_jobs') IS NULL THEN
    RAISE EXCEPTION 'progressive_capture_jobs does not exist: migration 0001 must run first';
  END IF;
  FOR col IN SELECT * FROM (VALUES
      ('lane',                 'text'),
      ('attempts',             'integer NOT NULL DEFAULT 0'),
      ('max_attempts',         'integer NOT NULL DEFAULT 3'),
      ('run_after',            'timestamptz NOT NULL DEFAULT now()'),
      ('locked_by',            'text'),
      ('lease_expires_at',     'timestamptz'),
      ('heartbeat_at',         'timestamptz'),
      ('idempotency_key',      'text'),
      ('inputs',               $t$jsonb NOT NULL DEFAULT '{}'::jsonb$t$),
      ('parent_id',            'uuid'),
      ('items_total',          'integer'),
      ('items_processed',      'integer NOT NULL DEFAULT 0'),
      ('items_failed',         'integer NOT NULL DEFAULT 0'),
      ('current_item',         'text'),
      ('workflow_run_url',     'text'),
      ('workflow_run_attempt', 'integer'),
      ('updated_at',           'timestamptz DEFAULT now()')
    ) AS c(name, def)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = 'progressive_capture_jobs'::regclass AND a.attname = col.name AND NOT a.attisdropped) THEN
      EXECUTE format('ALTER TABLE progressive_capture_jobs ADD COLUMN %I %s', col.name, col.def);
    END IF;
  END LOOP;

  -- Children of a bulk job point at their parent.
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                 WHERE conrelid = 'progressive_capture_jobs'::regclass AND contype = 'f'
                   AND conname = 'progcap_jobs_parent_fkey') THEN
    ALTER TABLE progressive_capture_jobs
      ADD CONSTRAINT progcap_jobs_parent_fkey FOREIGN KEY (parent_id) REFERENCES progressive_capture_jobs (id) ON DELETE CASCADE;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                 WHERE conrelid = 'progressive_capture_jobs'::regclass AND conname = 'progcap_jobs_lane_check') THEN
    ALTER TABLE progressive_capture_jobs
      ADD CONSTRAINT progcap_jobs_lane_check CHECK (lane IS NULL OR lane IN ('realtime', 'bulk'));
  END IF;

  -- Claiming: the oldest runnable pending job of a lane.
  IF to_regclass('progcap_jobs_claim_idx') IS NULL THEN
    CREATE INDEX progcap_jobs_claim_idx ON progressive_capture_jobs (lane, run_after, created_at) WHERE status = 'pending';
  END IF;
  -- Expired leases.
  IF to_regclass('progcap_jobs_lease_idx') IS NULL THEN
    CREATE INDEX progcap_jobs_lease_idx ON progressive_capture_jobs (lease_expires_at) WHERE status = 'processing';
  END IF;
  -- An identical pending/processing job is a no-op, not a duplicate.
  IF to_regclass('progcap_jobs_idempotency_key') IS NULL THEN
    CREATE UNIQUE INDEX progcap_jobs_idempotency_key ON progressive_capture_jobs (idempotency_key)
      WHERE idempotency_key IS NOT NULL AND status IN ('pending', 'processing');
  END IF;
  IF to_regclass('progcap_jobs_parent_idx') IS NULL THEN
    CREATE INDEX progcap_jobs_parent_idx ON progressive_capture_jobs (parent_id) WHERE parent_id IS NOT NULL;
  END IF;
END $mig$;

-- Queue statistics per lane and status (what `progcap jobs stats` prints).
CREATE OR REPLACE VIEW progcap_queue_stats AS
SELECT j.lane,
       j.status,
       count(*)::bigint AS jobs,
       min(j.created_at) FILTER (WHERE j.status = 'pending') AS oldest_pending,
       round(avg(extract(epoch FROM (j.completed_at - j.started_at))) FILTER (WHERE j.status = 'completed')::numeric, 3)
         AS avg_duration_s,
       sum(j.attempts)::bigint AS attempts
FROM progressive_capture_jobs j
WHERE j.lane IS NOT NULL
GROUP BY j.lane, j.status;

COMMENT ON VIEW progcap_queue_stats IS 'progcap job queue: jobs per lane and status, oldest pending, average duration';
