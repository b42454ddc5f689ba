// The job queue on progressive_capture_jobs (libpqxx).
#include <progcap/core/jobs.hpp>
#include <progcap/core/text.hpp>

#include <pqxx/pqxx>

#include <cmath>
#include <optional>

namespace progcap::core::jobs {

namespace {

using json = nlohmann::json;

// Every query returns these columns, in this order, for to_job().
constexpr const char* kCols =
    "j.id::text, j.job_type, coalesce(j.lane, ''), coalesce(j.status, ''), coalesce(j.repository_id::text, ''), "
    "coalesce(j.parent_id::text, ''), coalesce(j.locked_by, ''), coalesce(j.error, ''), coalesce(j.inputs, '{}')::text, "
    "coalesce(j.metadata, '{}')::text, j.attempts, j.max_attempts, j.items_total, j.items_processed, j.items_failed, "
    "coalesce(j.current_item, ''), j.workflow_run_id, coalesce(j.workflow_run_url, ''), "
    "coalesce(to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce(to_char(j.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce(to_char(j.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce(to_char(j.run_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce(to_char(j.lease_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')";

Job to_job(const pqxx::row& r) {
  Job j;
  j.id = r[0].as<std::string>();
  j.job_type = r[1].as<std::string>();
  j.lane = r[2].as<std::string>();
  j.status = r[3].as<std::string>();
  j.repository_id = r[4].as<std::string>();
  j.parent_id = r[5].as<std::string>();
  j.locked_by = r[6].as<std::string>();
  j.error = r[7].as<std::string>();
  j.inputs = json::parse(r[8].c_str());
  j.metadata = json::parse(r[9].c_str());
  j.attempts = r[10].as<int>();
  j.max_attempts = r[11].as<int>();
  if (!r[12].is_null()) j.items_total = r[12].as<int64_t>();
  j.items_processed = r[13].as<int64_t>();
  j.items_failed = r[14].as<int64_t>();
  j.current_item = r[15].as<std::string>();
  if (!r[16].is_null()) j.workflow_run_id = r[16].as<int64_t>();
  j.workflow_run_url = r[17].as<std::string>();
  j.created_at = r[18].as<std::string>();
  j.started_at = r[19].as<std::string>();
  j.completed_at = r[20].as<std::string>();
  j.run_after = r[21].as<std::string>();
  j.lease_expires_at = r[22].as<std::string>();
  return j;
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()); }
/// A NULL-able integer parameter: "" is NULL (the SQL says nullif($n, '')::bigint).
std::string opt(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string(); }

std::string first_line(const std::exception& e) {
  std::string s = e.what();
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

}  // namespace

json Job::to_json() const {
  json j = {{"id", id},
            {"job_type", job_type},
            {"lane", lane},
            {"status", status},
            {"inputs", inputs},
            {"attempts", attempts},
            {"max_attempts", max_attempts},
            {"items_processed", items_processed},
            {"items_failed", items_failed},
            {"created_at", created_at}};
  auto opt = [&](const char* k, const std::string& v) {
    if (!v.empty()) j[k] = v;
  };
  opt("repository_id", repository_id);
  opt("parent_id", parent_id);
  opt("locked_by", locked_by);
  opt("error", error);
  opt("current_item", current_item);
  opt("workflow_run_url", workflow_run_url);
  opt("started_at", started_at);
  opt("completed_at", completed_at);
  opt("run_after", run_after);
  opt("lease_expires_at", lease_expires_at);
  if (items_total) j["items_total"] = *items_total;
  if (workflow_run_id) j["workflow_run_id"] = *workflow_run_id;
  if (!metadata.empty()) j["metadata"] = metadata;
  return j;
}

struct Queue::Impl {
  explicit Impl(JobsConfig c) : cfg(std::move(c)) {}
  const JobsConfig cfg;
  std::unique_ptr<pqxx::connection> conn;

  void update_parent(pqxx::transaction_base& tx, const std::string& parent) {
    if (parent.empty()) return;
    tx.exec_params("SELECT 1 FROM progressive_capture_jobs WHERE id = $1::uuid FOR UPDATE", parent);
    tx.exec_params(
        "WITH c AS (SELECT count(*) AS total, count(*) FILTER (WHERE status = 'completed') AS done, "
        "  count(*) FILTER (WHERE status IN ('failed', 'cancelled')) AS bad, "
        "  coalesce(sum(items_processed), 0) AS p, coalesce(sum(items_failed), 0) AS f, "
        "  (array_agg(job_type || coalesce(' shard ' || (inputs->>'shard'), '') || ' (' || id::text || '): ' || "
        "     coalesce(nullif(error, ''), status) ORDER BY completed_at) FILTER (WHERE status IN ('failed', 'cancelled')))[1] AS first_error "
        "  FROM progressive_capture_jobs WHERE parent_id = $1::uuid) "
        "UPDATE progressive_capture_jobs p SET items_total = c.total, items_processed = c.p, items_failed = c.f, "
        "  current_item = c.done || '/' || c.total || ' child jobs completed', "
        "  status = CASE WHEN c.bad > 0 THEN 'failed' WHEN c.done = c.total THEN 'completed' ELSE p.status END, "
        "  error = CASE WHEN c.bad > 0 THEN 'child job failed: ' || c.first_error ELSE p.error END, "
        "  completed_at = CASE WHEN c.bad > 0 OR c.done = c.total THEN coalesce(p.completed_at, now()) ELSE p.completed_at END, "
        "  updated_at = now() "
        "FROM c WHERE p.id = $1::uuid AND p.status = 'processing'",
        parent);
  }
};

Queue::Queue(const std::string& dsn, const JobsConfig& cfg) : impl_(std::make_unique<Impl>(cfg)) {
  try {
    impl_->conn = std::make_unique<pqxx::connection>(dsn);
  } catch (const pqxx::broken_connection& e) {
    throw ConfigError(Location{}, "cannot connect to the job queue database: " + first_line(e));
  }
  pqxx::nontransaction tx(*impl_->conn);
  auto r = tx.exec(
      "SELECT count(*) FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass('progressive_capture_jobs') AND NOT attisdropped "
      "AND attname IN ('lane', 'lease_expires_at', 'idempotency_key', 'inputs', 'parent_id', 'run_after', 'attempts')");
  if (r[0][0].as<int>() != 7) {
    throw ConfigError(Location{}, std::string("this database has no progcap job queue (") +
                                      (r[0][0].as<int>() == 0 ? "progressive_capture_jobs is missing"
                                                              : "progressive_capture_jobs lacks the queue columns") +
                                      "): run `progcap db migrate` against it first");
  }
  tx.exec("SET TIME ZONE 'UTC'");
}

Queue::~Queue() = default;

EnqueueResult Queue::enqueue(const JobRequest& req) {
  validate(req, impl_->cfg);
  const JobTypeConfig& type = *impl_->cfg.type(req.job_type);
  pqxx::work tx(*impl_->conn);
  auto repo = tx.exec_params("SELECT id::text, full_name FROM repositories WHERE lower(full_name) = lower($1) LIMIT 1", req.repository);
  if (repo.empty()) {
    throw RequestError("repository " + req.repository +
                       " is not in the database (table repositories): contributor.info tracks a repository before it is captured");
  }
  EnqueueResult out;
  out.route = type.fan_out.empty() ? route(req, impl_->cfg.routing) : Route{"bulk", "job type " + req.job_type + " fans out"};
  const LaneConfig& lane = impl_->cfg.lane(out.route.lane);
  json inputs = {{"repository_id", repo[0][0].as<std::string>()}, {"repository_name", repo[0][1].as<std::string>()}};
  if (!req.pr_numbers.empty()) inputs["pr_numbers"] = req.pr_numbers;
  if (req.time_range_days) inputs["time_range"] = *req.time_range_days;
  if (req.max_items) inputs["max_items"] = *req.max_items;
  if (!req.target.empty()) inputs["target"] = req.target;
  std::vector<std::string> types = req.capture_types.empty() ? type.fan_out : req.capture_types;
  if (!type.fan_out.empty()) {
    inputs["capture_types"] = types;
    inputs["shards"] = req.shards;
  }
  const std::string key = req.idempotency_key.empty() ? "" : req.idempotency_key;
  const std::string key_source = req.job_type + "|" + inputs.dump();
  const json metadata = {{"routing", {{"lane", out.route.lane}, {"rule", out.route.rule}}},
                         {"trigger_source", std::string(to_string(req.trigger))},
                         {"repository_name", inputs["repository_name"]},
                         {"pr_numbers", req.pr_numbers},
                         {"max_items", req.max_items ? json(*req.max_items) : json()},
                         {"created_by", "progcap"}};
  const int max_attempts = static_cast<int>(req.max_attempts.value_or(lane.max_attempts));
  const bool parent = !type.fan_out.empty();
  auto ins = tx.exec_params(
      "INSERT INTO progressive_capture_jobs (job_type, repository_id, processor_type, status, time_range_days, metadata, lane, "
      "  attempts, max_attempts, run_after, idempotency_key, inputs, started_at, updated_at) "
      "VALUES ($1, $2::uuid, $3, $4::text, nullif($5, '')::int, $6::jsonb, $7, 0, $8, now(), coalesce(nullif($9, ''), 'auto:' || md5($10)), $11::jsonb, "
      "  CASE WHEN $4::text = 'processing' THEN now() END, now()) "
      "ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL AND status IN ('pending', 'processing') DO NOTHING "
      "RETURNING id::text",
      req.job_type, repo[0][0].as<std::string>(), lane.processor_type, parent ? "processing" : "pending",
      opt(req.time_range_days), metadata.dump(), out.route.lane,
      max_attempts, key, key_source, inputs.dump());
  if (ins.empty()) {
    auto dup = tx.exec_params(
        "SELECT id::text FROM progressive_capture_jobs WHERE idempotency_key = coalesce(nullif($1, ''), 'auto:' || md5($2)) "
        "AND status IN ('pending', 'processing')",
        key, key_source);
    tx.commit();
    if (dup.empty()) throw std::runtime_error("enqueue: the identical job vanished while checking for duplicates; retry");
    out.id = dup[0][0].as<std::string>();
    out.duplicate = true;
    return out;
  }
  out.id = ins[0][0].as<std::string>();
  if (parent) {
    // One child per capture type and shard; they run independently (and on
    // any machine) and complete the parent when the last one does.
    for (const auto& t : types) {
      for (int64_t k = 0; k < req.shards; ++k) {
        json ci = inputs;
        ci.erase("capture_types");
        ci.erase("shards");
        if (req.shards > 1) ci["shard"] = std::to_string(k) + "/" + std::to_string(req.shards);
        json cm = metadata;
        cm["parent_job_id"] = out.id;
        auto c = tx.exec_params(
            "INSERT INTO progressive_capture_jobs (job_type, repository_id, processor_type, status, time_range_days, metadata, lane, "
            "  attempts, max_attempts, run_after, idempotency_key, inputs, parent_id, updated_at) "
            "VALUES ($1, $2::uuid, $3, 'pending', nullif($4, '')::int, $5::jsonb, 'bulk', 0, $6, now(), $7, $8::jsonb, $9::uuid, now()) "
            "RETURNING id::text",
            t, repo[0][0].as<std::string>(), lane.processor_type, opt(req.time_range_days), cm.dump(), max_attempts,
            "child:" + out.id + ":" + t + ":" + std::to_string(k), ci.dump(), out.id);
        out.children.push_back(c[0][0].as<std::string>());
      }
    }
    tx.exec_params("UPDATE progressive_capture_jobs SET items_total = $2::int, current_item = '0/' || $2::int || ' child jobs completed' "
                   "WHERE id = $1::uuid",
                   out.id, static_cast<int64_t>(out.children.size()));
  }
  tx.commit();
  return out;
}

// Single-statement operations run in autocommit (pqxx::nontransaction): a BEGIN/COMMIT pair would
// add two round trips to every claim, heartbeat and finish.
std::optional<Job> Queue::claim(const std::string& lane, const std::string& worker) {
  pqxx::nontransaction tx(*impl_->conn);
  auto r = tx.exec_params(std::string("UPDATE progressive_capture_jobs j SET status = 'processing', locked_by = $2, "
                                      "  lease_expires_at = now() + $3::bigint * interval '1 millisecond', heartbeat_at = now(), "
                                      "  attempts = j.attempts + 1, started_at = coalesce(j.started_at, now()), updated_at = now() "
                                      "FROM (SELECT id FROM progressive_capture_jobs WHERE status = 'pending' AND lane = $1 "
                                      "  AND run_after <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now()) "
                                      "  ORDER BY run_after, created_at LIMIT 1 FOR UPDATE SKIP LOCKED) c "
                                      "WHERE j.id = c.id RETURNING ") +
                              kCols,
                          lane, worker, ms(impl_->cfg.lane(lane).lease));
  tx.commit();
  if (r.empty()) return std::nullopt;
  return to_job(r[0]);
}

std::optional<Job> Queue::claim_id(const std::string& id, const std::string& worker, std::string* why) {
  pqxx::work tx(*impl_->conn);
  auto r = tx.exec_params(std::string("UPDATE progressive_capture_jobs j SET status = 'processing', locked_by = $2, "
                                      "  lease_expires_at = now() + (CASE WHEN j.lane = 'realtime' THEN $3 ELSE $4 END)::bigint * "
                                      "    interval '1 millisecond', heartbeat_at = now(), attempts = j.attempts + 1, "
                                      "  started_at = coalesce(j.started_at, now()), updated_at = now() "
                                      "WHERE j.id = $1::uuid AND j.status = 'pending' AND j.lane IS NOT NULL "
                                      "  AND (j.lease_expires_at IS NULL OR j.lease_expires_at < now() OR j.locked_by LIKE 'dispatch:%') "
                                      "RETURNING ") +
                              kCols,
                          id, worker, ms(impl_->cfg.lane("realtime").lease), ms(impl_->cfg.lane("bulk").lease));
  tx.commit();
  if (!r.empty()) return to_job(r[0]);
  if (why != nullptr) {
    auto j = get(id);
    if (!j) {
      *why = "job " + id + " does not exist";
    } else if (j->lane.empty()) {
      *why = "job " + id + " is not a progcap job (no lane: contributor.info's own job)";
    } else if (j->status == "processing") {
      *why = "job " + id + " is being processed by " + (j->locked_by.empty() ? "its child jobs" : j->locked_by);
    } else if (j->status == "pending") {
      *why = "job " + id + " is leased by " + j->locked_by + " until " + j->lease_expires_at;
    } else {
      *why = "job " + id + " is " + j->status + (j->error.empty() ? "" : " (" + j->error + ")");
    }
  }
  return std::nullopt;
}

bool Queue::heartbeat(const Job& job, const std::string& worker, const Progress& p) {
  pqxx::nontransaction tx(*impl_->conn);
  auto r = tx.exec_params(
      "UPDATE progressive_capture_jobs SET lease_expires_at = now() + $3::bigint * interval '1 millisecond', heartbeat_at = now(), "
      "  items_total = coalesce(nullif($4, '')::int, items_total), items_processed = $5, items_failed = $6, current_item = nullif($7, ''), "
      "  updated_at = now() "
      "WHERE id = $1::uuid AND locked_by = $2 AND status = 'processing' RETURNING 1",
      job.id, worker, ms(impl_->cfg.lane(job.lane).lease), opt(p.total), p.processed, p.failed, p.current);
  tx.commit();
  return !r.empty();
}

void Queue::finish(const Job& job, const std::string& worker, const Outcome& o) {
  // A child job updates its parent in the same transaction (atomically: a worker dying in
  // between cannot leave a parent whose last child completed); a job without a parent is one
  // statement in autocommit.
  std::unique_ptr<pqxx::transaction_base> txp;
  if (job.parent_id.empty()) {
    txp = std::make_unique<pqxx::nontransaction>(*impl_->conn);
  } else {
    txp = std::make_unique<pqxx::work>(*impl_->conn);
  }
  pqxx::transaction_base& tx = *txp;
  pqxx::result r;
  const std::string result = o.summary.dump();
  switch (o.kind) {
    case Outcome::Kind::Completed:
      r = tx.exec_params(
          "UPDATE progressive_capture_jobs SET status = 'completed', completed_at = now(), locked_by = NULL, lease_expires_at = NULL, "
          "  error = NULL, items_total = coalesce(nullif($3, '')::int, items_total), items_processed = $4, items_failed = $5, current_item = 'completed', "
          "  metadata = coalesce(metadata, '{}'::jsonb) || jsonb_build_object('result', $6::jsonb, 'worker', $2::text), updated_at = now() "
          "WHERE id = $1::uuid AND locked_by = $2 AND status = 'processing' RETURNING coalesce(parent_id::text, ''), status",
          job.id, worker, opt(o.progress.total), o.progress.processed, o.progress.failed, result);
      break;
    case Outcome::Kind::Retry:
    case Outcome::Kind::Failed: {
      const auto backoff = impl_->cfg.lane(job.lane).retry_backoff;
      r = tx.exec_params(
          "UPDATE progressive_capture_jobs SET "
          "  status = CASE WHEN $3 AND attempts < max_attempts THEN 'pending' ELSE 'failed' END, "
          "  completed_at = CASE WHEN $3 AND attempts < max_attempts THEN NULL ELSE now() END, "
          "  run_after = now() + ($4::bigint * power(2, greatest(attempts - 1, 0))) * interval '1 millisecond', "
          "  error = $5, locked_by = NULL, lease_expires_at = NULL, items_processed = $6, items_failed = $7, "
          "  current_item = CASE WHEN $3 AND attempts < max_attempts THEN 'retrying after attempt ' || attempts ELSE 'failed' END, "
          "  metadata = coalesce(metadata, '{}'::jsonb) || jsonb_build_object('errors', "
          "    coalesce(metadata->'errors', '[]'::jsonb) || jsonb_build_array(jsonb_build_object('attempt', attempts, 'error', $5::text, "
          "    'worker', $2::text, 'at', now())), 'result', $8::jsonb), "
          "  updated_at = now() "
          "WHERE id = $1::uuid AND locked_by = $2 AND status = 'processing' RETURNING coalesce(parent_id::text, ''), status",
          job.id, worker, o.kind == Outcome::Kind::Retry, ms(backoff), o.error, o.progress.processed, o.progress.failed, result);
      break;
    }
    case Outcome::Kind::Released:
      r = tx.exec_params(
          "UPDATE progressive_capture_jobs SET status = 'pending', attempts = greatest(attempts - 1, 0), locked_by = NULL, "
          "  lease_expires_at = NULL, run_after = now(), current_item = 'released: ' || $3, updated_at = now() "
          "WHERE id = $1::uuid AND locked_by = $2 AND status = 'processing' RETURNING coalesce(parent_id::text, ''), status",
          job.id, worker, o.error.empty() ? std::string("worker stopping") : o.error);
      break;
  }
  const std::string parent = r.empty() ? std::string() : r[0][0].as<std::string>();
  const bool done = !r.empty() && (r[0][1].as<std::string>() == "completed" || r[0][1].as<std::string>() == "failed");
  if (done && !parent.empty() && !job.parent_id.empty()) impl_->update_parent(tx, parent);
  tx.commit();
  if (done && !parent.empty() && job.parent_id.empty()) {
    // Not expected (parent_id never changes after enqueue), but never update a parent outside
    // a transaction: its row lock is what lets two finishing children see each other.
    pqxx::work ptx(*impl_->conn);
    impl_->update_parent(ptx, parent);
    ptx.commit();
  }
}

int Queue::reap(const std::string& lane) {
  pqxx::work tx(*impl_->conn);
  auto r = tx.exec_params(
      "UPDATE progressive_capture_jobs j SET "
      "  status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'pending' END, "
      "  error = 'lease expired: worker ' || coalesce(j.locked_by, '?') || ' stopped heartbeating during attempt ' || j.attempts || "
      "    ' of ' || j.max_attempts || coalesce(' (last error: ' || nullif(j.error, '') || ')', ''), "
      "  completed_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END, "
      "  current_item = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'requeued after an expired lease' END, "
      "  locked_by = NULL, lease_expires_at = NULL, run_after = now(), updated_at = now() "
      "WHERE j.status = 'processing' AND j.lease_expires_at < now() AND ($1 = '' OR j.lane = $1) "
      "RETURNING coalesce(j.parent_id::text, ''), j.status",
      lane);
  for (const auto& row : r) {
    if (row[1].as<std::string>() == "failed") impl_->update_parent(tx, row[0].as<std::string>());
  }
  tx.commit();
  return static_cast<int>(r.size());
}

void Queue::record_run(const std::string& id, int64_t run_id, const std::string& url, int64_t attempt) {
  pqxx::work tx(*impl_->conn);
  tx.exec_params(
      "UPDATE progressive_capture_jobs SET workflow_run_id = $2, workflow_run_url = $3, workflow_run_attempt = $4, "
      "  metadata = coalesce(metadata, '{}'::jsonb) || jsonb_build_object('run_url', $3::text, 'workflow_run_id', $2::bigint, 'attempt', $4::int), "
      "  updated_at = now() WHERE id = $1::uuid",
      id, run_id, url, attempt);
  tx.commit();
}

void Queue::mark_dispatched(const std::string& id, const std::string& workflow, const std::string& ref,
                            const std::string& repository) {
  pqxx::work tx(*impl_->conn);
  tx.exec_params(
      "UPDATE progressive_capture_jobs SET locked_by = CASE WHEN status = 'pending' THEN 'dispatch:' || $2 END, "
      "  lease_expires_at = CASE WHEN status = 'pending' THEN now() + $5::bigint * interval '1 millisecond' END, "
      "  processor_type = 'github_actions', "
      "  metadata = coalesce(metadata, '{}'::jsonb) || jsonb_build_object('workflow', $2::text, 'dispatched_at', now(), "
      "    'dispatch', jsonb_build_object('workflow', $2::text, 'ref', $3::text, 'repository', $4::text, 'at', now(), "
      "      'count', coalesce((metadata->'dispatch'->>'count')::int, 0) + 1)), updated_at = now() "
      "WHERE id = $1::uuid AND status IN ('pending', 'processing')",
      id, workflow, ref, repository, ms(impl_->cfg.dispatch.claim_timeout));
  tx.commit();
}

void Queue::mark_dispatch_failed(const std::string& id, const std::string& error) {
  pqxx::work tx(*impl_->conn);
  tx.exec_params(
      "UPDATE progressive_capture_jobs SET status = 'failed', error = $2, completed_at = now(), locked_by = NULL, "
      "  lease_expires_at = NULL, current_item = 'dispatch refused', updated_at = now() "
      "WHERE id = $1::uuid AND status IN ('pending', 'processing')",
      id, error);
  // A refused bulk parent takes its children with it.
  tx.exec_params(
      "UPDATE progressive_capture_jobs SET status = 'cancelled', completed_at = now(), current_item = 'parent dispatch refused', "
      "  updated_at = now() WHERE parent_id = $1::uuid AND status = 'pending'",
      id);
  tx.commit();
}

std::vector<Job> Queue::dispatchable(int limit, const std::string& only_id) {
  pqxx::work tx(*impl_->conn);
  auto r = tx.exec_params(std::string("SELECT ") + kCols +
                              " FROM progressive_capture_jobs j WHERE j.lane = 'bulk' AND j.parent_id IS NULL AND ($2 = '' OR j.id::text = $2) "
                              "AND ((j.status = 'pending' AND (j.lease_expires_at IS NULL OR j.lease_expires_at < now()) "
                              "      AND ($2 <> '' OR j.run_after <= now())) "
                              // a bulk parent is dispatched once: its workflow runs the children in a matrix
                              "  OR (j.status = 'processing' AND j.locked_by IS NULL AND j.metadata->'dispatch' IS NULL "
                              "      AND EXISTS (SELECT 1 FROM progressive_capture_jobs c WHERE c.parent_id = j.id))) "
                              "ORDER BY j.created_at LIMIT $1",
                          limit, only_id);
  tx.commit();
  std::vector<Job> out;
  for (const auto& row : r) out.push_back(to_job(row));
  return out;
}

std::optional<Job> Queue::get(const std::string& id) {
  pqxx::work tx(*impl_->conn);
  auto r = tx.exec_params(std::string("SELECT ") + kCols + " FROM progressive_capture_jobs j WHERE j.id::text = $1", id);
  tx.commit();
  if (r.empty()) return std::nullopt;
  return to_job(r[0]);
}

std::vector<Job> Queue::list(const ListFilter& f) {
  pqxx::work tx(*impl_->conn);
  auto r = tx.exec_params(std::string("SELECT ") + kCols +
                              " FROM progressive_capture_jobs j WHERE j.lane IS NOT NULL AND ($1 = '' OR j.lane = $1) "
                              "AND ($2 = '' OR j.status = $2) AND ($3 = '' OR j.job_type = $3) "
                              "AND ($4 = '' OR lower(j.inputs->>'repository_name') = lower($4)) AND ($5 = '' OR j.parent_id::text = $5) "
                              "ORDER BY j.created_at DESC, j.id LIMIT $6",
                          f.lane, f.status, f.job_type, f.repository, f.parent_id, f.limit);
  tx.commit();
  std::vector<Job> out;
  for (const auto& row : r) out.push_back(to_job(row));
  return out;
}

std::vector<Job> Queue::children(const std::string& parent_id) {
  pqxx::work tx(*impl_->conn);
  auto r = tx.exec_params(std::string("SELECT ") + kCols +
                              " FROM progressive_capture_jobs j WHERE j.parent_id::text = $1 ORDER BY j.job_type, j.inputs->>'shard', j.id",
                          parent_id);
  tx.commit();
  std::vector<Job> out;
  for (const auto& row : r) out.push_back(to_job(row));
  return out;
}

bool Queue::cancel(const std::string& id, std::string* why) {
  pqxx::work tx(*impl_->conn);
  auto r = tx.exec_params(
      "UPDATE progressive_capture_jobs SET status = 'cancelled', completed_at = now(), locked_by = NULL, lease_expires_at = NULL, "
      "  current_item = 'cancelled', updated_at = now() "
      "WHERE (id::text = $1 OR parent_id::text = $1) AND status IN ('pending', 'processing') AND lane IS NOT NULL "
      "RETURNING id::text, coalesce(parent_id::text, '')",
      id);
  for (const auto& row : r) {
    if (row[1].as<std::string>() != id) impl_->update_parent(tx, row[1].as<std::string>());
  }
  tx.commit();
  if (r.empty() && why != nullptr) {
    auto j = get(id);
    *why = j ? "job " + id + " is " + j->status + ": only pending or processing jobs can be cancelled" : "job " + id + " does not exist";
  }
  return !r.empty();
}

bool Queue::retry(const std::string& id, std::string* why) {
  pqxx::work tx(*impl_->conn);
  auto sql = [](const std::string& where) {
    return "UPDATE progressive_capture_jobs SET status = $2, attempts = 0, run_after = now(), completed_at = NULL, locked_by = NULL, "
           "  lease_expires_at = NULL, current_item = 'retry requested', updated_at = now(), "
           "  metadata = coalesce(metadata, '{}'::jsonb) || jsonb_build_object('retry_count', "
           "    coalesce((metadata->>'retry_count')::int, 0) + 1, 'retry_history', coalesce(metadata->'retry_history', '[]'::jsonb) || "
           "    jsonb_build_array(jsonb_build_object('at', now(), 'previous_status', status, 'previous_error', error))) "
           "WHERE " + where + " AND status IN ('failed', 'cancelled') AND lane IS NOT NULL RETURNING id::text, coalesce(parent_id::text, '')";
  };
  auto r = tx.exec_params(sql("id::text = $1"), id, "pending");
  bool parent = false;
  if (!r.empty()) {
    // A bulk parent: its failed children go back to pending, the parent to processing.
    auto kids = tx.exec_params(sql("parent_id::text = $1"), id, "pending");
    if (!kids.empty() || !tx.exec_params("SELECT 1 FROM progressive_capture_jobs WHERE parent_id::text = $1 LIMIT 1", id).empty()) {
      parent = true;
      tx.exec_params("UPDATE progressive_capture_jobs SET status = 'processing', error = NULL WHERE id::text = $1", id);
      impl_->update_parent(tx, id);
    }
    if (!r[0][1].as<std::string>().empty()) impl_->update_parent(tx, r[0][1].as<std::string>());
  }
  tx.commit();
  (void)parent;
  if (r.empty() && why != nullptr) {
    auto j = get(id);
    *why = j ? "job " + id + " is " + j->status + ": only failed or cancelled jobs can be retried" : "job " + id + " does not exist";
  }
  return !r.empty();
}

json Queue::stats() {
  pqxx::work tx(*impl_->conn);
  auto r = tx.exec(
      "SELECT lane, status, count(*), "
      "  coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))::bigint, -1), "
      "  coalesce(avg(extract(epoch FROM completed_at - started_at)) FILTER (WHERE status IN ('completed', 'failed')), -1) "
      "FROM progressive_capture_jobs WHERE lane IS NOT NULL GROUP BY lane, status ORDER BY lane, status");
  tx.commit();
  json out = json::object();
  for (const auto& row : r) {
    json& lane = out[row[0].as<std::string>()];
    if (lane.is_null()) lane = {{"by_status", json::object()}, {"oldest_pending_age_s", json()}, {"avg_duration_s", json()}};
    const std::string status = row[1].as<std::string>();
    lane["by_status"][status] = row[2].as<int64_t>();
    if (status == "pending" && row[3].as<int64_t>() >= 0) lane["oldest_pending_age_s"] = row[3].as<int64_t>();
    if (status == "completed" && row[4].as<double>() >= 0) lane["avg_duration_s"] = std::round(row[4].as<double>() * 1000) / 1000;
  }
  for (auto& [name, lane] : out.items()) {
    const int64_t done = lane["by_status"].value("completed", int64_t{0});
    const int64_t failed = lane["by_status"].value("failed", int64_t{0});
    lane["failure_rate"] = done + failed > 0 ? static_cast<double>(failed) / static_cast<double>(done + failed) : 0.0;
  }
  return out;
}

}  // namespace progcap::core::jobs
