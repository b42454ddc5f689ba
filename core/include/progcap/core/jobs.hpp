// progcap core — the job system: routing (the hybrid rule), the Postgres job
// queue on progressive_capture_jobs, and its configuration
// (pipelines/jobs/jobs.yaml). libpqxx stays inside core/src/queue.
#pragma once

#include <progcap/core/diagnostics.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace progcap::core::jobs {

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

struct RoutingConfig {
  int64_t realtime_max_time_range_days = 1;
  int64_t realtime_max_pr_numbers = 10;
  int64_t realtime_manual_max_items = 50;
};

struct LaneConfig {
  std::chrono::milliseconds lease{std::chrono::minutes(2)};
  int max_attempts = 3;
  std::chrono::milliseconds retry_backoff{std::chrono::seconds(30)};
  std::string processor_type = "progcap";
};

struct DispatchConfig {
  std::string repository;  // owner/name holding the workflows
  std::string ref = "main";
  std::chrono::milliseconds claim_timeout{std::chrono::minutes(30)};
};

struct JobTypeConfig {
  std::string name;
  std::string pipeline;                 // a named pipeline, or
  std::vector<std::string> fan_out;     // a bulk job's child types, or
  std::string builtin;                  // "noop": completes at once (benchmarks, smoke tests)
  std::string workflow;                 // dispatch target (file name); empty = not dispatchable
  std::vector<std::string> inputs;      // exactly what dispatch sends
  Location where;
};

struct JobsConfig {
  std::filesystem::path file;
  RoutingConfig routing;
  std::map<std::string, LaneConfig> lanes;  // "realtime", "bulk"
  DispatchConfig dispatch;
  std::vector<JobTypeConfig> types;

  [[nodiscard]] const JobTypeConfig* type(std::string_view name) const;
  [[nodiscard]] const LaneConfig& lane(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> type_names() const;
};

/// Parses jobs.yaml; ConfigError with file:line:col for every problem.
JobsConfig load_jobs_config_text(const std::string& text, const std::string& file);
JobsConfig load_jobs_config(const std::filesystem::path& file);
/// jobs/jobs.yaml in PROGCAP_PIPELINE_PATH, the install's pipelines directory or ./pipelines.
std::optional<std::filesystem::path> find_jobs_config(const std::filesystem::path& exe);

// ---------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------

enum class Trigger { Manual, Automatic, Scheduled };
[[nodiscard]] std::string_view to_string(Trigger t);
[[nodiscard]] std::optional<Trigger> parse_trigger(std::string_view s);

/// What `progcap enqueue` is asked to do.
struct JobRequest {
  std::string job_type;
  std::string repository;                  // owner/name
  std::vector<int64_t> pr_numbers;
  std::optional<int64_t> time_range_days;  // unset: the pipeline's default (30)
  std::optional<int64_t> max_items;
  Trigger trigger = Trigger::Manual;
  std::string target;                      // supabase | postgres | ndjson; empty = the pipeline's default
  std::vector<std::string> capture_types;  // bulk-capture: the child types (default: the config's fan_out)
  int64_t shards = 1;                      // bulk-capture: shards per type
  std::string idempotency_key;             // empty: derived from the type and inputs
  std::optional<int64_t> max_attempts;     // empty: the lane's
};

struct Route {
  std::string lane;  // realtime | bulk
  std::string rule;  // the rule that decided, for metadata.routing
};

/// The hybrid rule (deterministic; see jobs.yaml for the order).
[[nodiscard]] Route route(const JobRequest& req, const RoutingConfig& cfg);

/// Throws ConfigError/std::invalid_argument-like UsageProblem for requests
/// that cannot run: unknown type, pr_numbers together with time_range, bad
/// shard counts or capture types.
struct RequestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
void validate(const JobRequest& req, const JobsConfig& cfg);

// ---------------------------------------------------------------------------
// The queue
// ---------------------------------------------------------------------------

struct Job {
  std::string id;
  std::string job_type;
  std::string lane;
  std::string status;
  std::string repository_id;
  std::string parent_id;
  std::string locked_by;
  std::string error;
  nlohmann::json inputs = nlohmann::json::object();
  nlohmann::json metadata = nlohmann::json::object();
  int attempts = 0;
  int max_attempts = 0;
  std::optional<int64_t> items_total;
  int64_t items_processed = 0;
  int64_t items_failed = 0;
  std::string current_item;
  std::optional<int64_t> workflow_run_id;
  std::string workflow_run_url;
  std::string created_at, started_at, completed_at, run_after, lease_expires_at;

  [[nodiscard]] nlohmann::json to_json() const;
};

struct EnqueueResult {
  std::string id;
  bool duplicate = false;  // an identical pending/processing job already existed
  Route route;
  std::vector<std::string> children;  // bulk: the child job ids
};

struct Progress {
  std::optional<int64_t> total;
  int64_t processed = 0;
  int64_t failed = 0;
  std::string current;
};

struct Outcome {
  enum class Kind { Completed, Retry, Failed, Released };
  Kind kind = Kind::Completed;
  std::string error;
  Progress progress;
  nlohmann::json summary = nlohmann::json::object();  // merged into metadata.result
};

struct ListFilter {
  std::string lane, status, job_type, repository, parent_id;
  int limit = 50;
};

/// A connection to the queue. Not thread-safe: one per worker thread.
class Queue {
 public:
  /// Connects and checks the queue columns exist (ConfigError naming
  /// `progcap db migrate` otherwise).
  Queue(const std::string& dsn, const JobsConfig& cfg);
  ~Queue();
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  EnqueueResult enqueue(const JobRequest& req);
  /// Claims the oldest runnable pending job of `lane` (FOR UPDATE SKIP LOCKED).
  std::optional<Job> claim(const std::string& lane, const std::string& worker);
  /// Claims one job by id (a workflow run or a matrix leg): pending, or
  /// dispatched and waiting for its run. nullopt when it is not claimable; `why` says why.
  std::optional<Job> claim_id(const std::string& id, const std::string& worker, std::string* why);
  /// Extends the lease and records progress; false when the lease was lost
  /// (expired and taken over, or the job was cancelled): stop working on it.
  bool heartbeat(const Job& job, const std::string& worker, const Progress& p);
  /// Ends an attempt: completed, retried later (backoff) or failed after
  /// max_attempts, failed for good, or released (graceful stop: not counted).
  /// Updates the parent of a bulk child in the same transaction.
  void finish(const Job& job, const std::string& worker, const Outcome& outcome);
  /// Expired leases of `lane` (empty: all) go back to pending, or to failed
  /// after max_attempts. Returns how many.
  int reap(const std::string& lane);
  /// Records the workflow run that picked the job up.
  void record_run(const std::string& id, int64_t run_id, const std::string& url, int64_t attempt);
  /// Marks a job dispatched to a workflow (claimable only by id until the
  /// claim timeout), or failed when the dispatch was refused.
  void mark_dispatched(const std::string& id, const std::string& workflow, const std::string& ref, const std::string& repository);
  void mark_dispatch_failed(const std::string& id, const std::string& error);
  /// Pending bulk-lane jobs to dispatch (not children, not dispatched recently).
  std::vector<Job> dispatchable(int limit, const std::string& only_id);

  std::optional<Job> get(const std::string& id);
  std::vector<Job> list(const ListFilter& f);
  std::vector<Job> children(const std::string& parent_id);
  /// pending/processing → cancelled (a running worker stops at its next heartbeat).
  bool cancel(const std::string& id, std::string* why);
  /// failed/cancelled → pending with a fresh attempt budget, every input kept.
  bool retry(const std::string& id, std::string* why);
  nlohmann::json stats();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace progcap::core::jobs
