// progcap — running a resolved pipeline: bounded queues, fan-out to sinks,
// retries with backoff, dead-lettering, ordered checkpoints, cancellation.
#pragma once

#include <progcap/core/http.hpp>
#include <progcap/core/pipeline.hpp>
#include <progcap/core/state_store.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace progcap::core {

/// Why a run or step is stopping.
enum class StopReason : int { None = 0, Signal = 1, Timeout = 2, Failure = 3 };

/// A cancellation token with interruptible waits; children observe parents.
class CancelToken {
 public:
  explicit CancelToken(const CancelToken* parent = nullptr) : parent_(parent) {}
  void cancel(StopReason why);
  [[nodiscard]] bool cancelled() const noexcept;
  [[nodiscard]] StopReason reason() const noexcept;
  /// Sleeps up to `ms`; returns true if cancelled meanwhile.
  bool wait_for(uint64_t ms) const;
  /// Set when the token (or an ancestor) is cancelled; for transports.
  [[nodiscard]] const std::atomic<bool>* flag() const noexcept { return &flag_; }
  /// Deadline for timeouts (checked by the runner's watchdog).
  void set_deadline(std::chrono::steady_clock::time_point t) { deadline_ = t; has_deadline_ = true; }
  bool check_deadline(std::chrono::steady_clock::time_point now);

 private:
  const CancelToken* parent_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::atomic<bool> flag_{false};
  std::atomic<int> reason_{0};
  std::chrono::steady_clock::time_point deadline_{};
  bool has_deadline_ = false;
};

struct ComponentReport {
  std::string label;
  std::string type;
  std::string kind;
  std::map<std::string, uint64_t> records;  // per stream: out for sources/transforms, in for sinks
  uint64_t batches = 0;
  uint64_t retries = 0;
  uint64_t rejected = 0;
  std::map<std::string, int64_t> counters;  // plugin metrics
  std::map<std::string, double> gauges;
};

struct StepReport {
  std::string name;
  std::string status = "pending";  // ok | failed | interrupted | timed_out | skipped
  std::string error;
  int32_t error_status = 0;  // progcap_status of the failure (PROGCAP_ERR_CONFIG -> exit 78)
  double duration_ms = 0;
  ComponentReport source;
  std::vector<ComponentReport> transforms;
  std::vector<ComponentReport> sinks;
  uint64_t dead_lettered = 0;
  uint64_t checkpoints_committed = 0;
  uint64_t checkpoints_pending = 0;     // recorded but never acknowledged (resume point)
  uint64_t checkpoints_superseded = 0;  // replaced by a later value of the same key before they could commit
  std::string progress_item;
  int64_t progress_done = 0;
  int64_t progress_total = -1;
};

struct RunReport {
  std::string progcap_version;
  std::string abi;
  std::string run_id;
  std::string pipeline;
  std::string file;
  bool dry_run = false;
  std::string started_at;
  std::string finished_at;
  double duration_ms = 0;
  std::string status;  // ok | failed | interrupted | dead_lettered
  int exit_code = 0;
  std::vector<std::pair<std::string, std::string>> inputs;
  std::vector<StepReport> steps;
  uint64_t dead_lettered = 0;
  std::string dead_letter_file;
  std::string state_file;
  http::Stats http;
  std::vector<http::QuotaSnapshot> quota;  // rate-limit state at the end of the run
  double peak_rss_mb = 0;                  // VmHWM of this process
};

/// Serialises a report (secrets redacted).
std::string report_to_json(const RunReport& r);
/// GitHub step-summary Markdown for a report.
std::string report_to_markdown(const RunReport& r);

struct RunOptions {
  std::string run_id;                       // generated when empty
  bool dry_run = false;
  std::filesystem::path state_dir = ".progcap/state";
  std::filesystem::path dead_letter_dir = ".progcap/dead-letter";
  std::optional<size_t> max_dead_letters;   // overrides the pipeline's
  std::shared_ptr<http::Service> http;      // shared by every instance
  bool progress = false;                    // live progress line on stderr
  bool github_actions = false;              // ::group::, ::error::, annotations
  std::filesystem::path status_file;        // progress JSON rewritten every second (job workers read it)
  std::string host_version;
};

/// Runs a resolved pipeline. Thread-safe cancel() for signal handlers'
/// forwarding thread.
class Runner {
 public:
  Runner(const ResolvedPipeline& pipeline, RunOptions opts, std::shared_ptr<StateStore> state);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  RunReport run();
  void cancel(StopReason why);
  /// Second signal: stop waiting for drains and retries.
  void abort();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Installs SIGSEGV/SIGBUS/SIGFPE/SIGILL handlers that name the plugin call
/// in progress and exit with kExitPluginCrash.
void install_crash_handler();

/// Marks the plugin call in progress on this thread (for the crash handler).
class PluginCallScope {
 public:
  PluginCallScope(const char* label, const char* op) noexcept;
  ~PluginCallScope();
  PluginCallScope(const PluginCallScope&) = delete;
  PluginCallScope& operator=(const PluginCallScope&) = delete;

 private:
  const char* prev_label_;
  const char* prev_op_;
};

}  // namespace progcap::core
