// The job system's commands: enqueue, work, jobs list|show|retry|cancel|stats,
// plan-matrix and dispatch (docs/operations.md#job-queue).
#include "cli.hpp"

#include <progcap/core/exit_codes.hpp>
#include <progcap/core/http.hpp>
#include <progcap/core/jobs.hpp>
#include <progcap/core/logging.hpp>
#include <progcap/core/text.hpp>
#include <progcap/core/version.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <set>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace progcap::cli {

namespace {

using core::jobs::Job;
using core::jobs::JobsConfig;
using core::jobs::Queue;

// ---------------------------------------------------------------------------
// Shared options
// ---------------------------------------------------------------------------

void add_common(po::options_description& d) {
  d.add_options()("help,h", "show this help")("dsn", po::value<std::string>(), "queue database (libpq DSN/URL; default $DATABASE_URL)")(
      "jobs-config", po::value<std::string>(), "jobs configuration (default: jobs/jobs.yaml on the pipeline path)")(
      "json", "machine-readable output");
}

std::string dsn_of(const po::variables_map& vm) {
  std::string dsn;
  if (vm.count("dsn") != 0) {
    dsn = vm["dsn"].as<std::string>();
  } else if (const char* env = std::getenv("DATABASE_URL"); env != nullptr) {
    dsn = env;
  }
  if (dsn.empty()) throw UsageError("no queue database: pass --dsn or set DATABASE_URL");
  core::Redactor::instance().add(dsn);
  return dsn;
}

JobsConfig config_of(const Globals& g, const po::variables_map& vm) {
  if (vm.count("jobs-config") != 0) return core::jobs::load_jobs_config(vm["jobs-config"].as<std::string>());
  auto found = core::jobs::find_jobs_config(g.exe);
  if (!found) {
    throw core::ConfigError(core::Location{},
                            "no jobs configuration found (jobs/jobs.yaml on PROGCAP_PIPELINE_PATH, the install's pipelines "
                            "directory or ./pipelines); pass --jobs-config FILE");
  }
  return core::jobs::load_jobs_config(*found);
}

std::vector<int64_t> parse_numbers(const std::string& csv) {
  std::vector<int64_t> out;
  for (auto& part : core::text::split(csv, ',')) {
    const std::string p(core::text::trim(part));
    if (p.empty()) continue;
    try {
      size_t pos = 0;
      const long long v = std::stoll(p, &pos);
      if (pos != p.size()) throw std::invalid_argument(p);
      out.push_back(v);
    } catch (const std::exception&) {
      throw UsageError("--pr-numbers: '" + p + "' is not a number");
    }
  }
  return out;
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "host";
  return buf;
}

std::string csv(const json& arr) {
  std::string out;
  if (!arr.is_array()) return out;
  for (const auto& v : arr) out += (out.empty() ? "" : ",") + (v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

std::string input_text(const json& inputs, const std::string& key) {
  if (!inputs.contains(key) || inputs[key].is_null()) return "";
  const json& v = inputs[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) return csv(v);
  return v.dump();
}

void print_job_line(const Job& j) {
  std::cout << std::left << std::setw(37) << j.id << " " << std::setw(19) << j.job_type << " " << std::setw(9) << j.lane << " "
            << std::setw(11) << j.status << " " << std::setw(6) << (std::to_string(j.attempts) + "/" + std::to_string(j.max_attempts))
            << " " << input_text(j.inputs, "repository_name")
            << (j.inputs.contains("shard") ? " shard " + input_text(j.inputs, "shard") : "")
            << (j.error.empty() ? "" : "  error: " + j.error.substr(0, 120)) << "\n";
}

// ---------------------------------------------------------------------------
// enqueue
// ---------------------------------------------------------------------------

int cmd_enqueue(const Globals& g, const std::vector<std::string>& args) {
  po::options_description desc("progcap enqueue JOB_TYPE --repository OWNER/NAME [options]");
  add_common(desc);
  desc.add_options()("job-type", po::value<std::string>(), "job type (jobs.yaml job_types)")(
      "repository", po::value<std::string>(), "OWNER/NAME (must be in the repositories table)")(
      "pr-numbers", po::value<std::string>(), "comma-separated PR numbers (conflicts with --time-range)")(
      "time-range", po::value<int64_t>(), "days of history")("max-items", po::value<int64_t>(), "at most this many PRs")(
      "trigger", po::value<std::string>()->default_value("manual"), "manual | automatic | scheduled")(
      "target", po::value<std::string>(), "supabase | postgres | ndjson (default: the pipeline's)")(
      "capture-types", po::value<std::string>(), "bulk: comma-separated child types")("shards", po::value<int64_t>(), "bulk: shards per type")(
      "idempotency-key", po::value<std::string>(), "dedupe key (default: derived from the type and inputs)")(
      "max-attempts", po::value<int64_t>(), "attempts before the job fails (default: the lane's)")(
      "print-id", "print only the job id");
  po::positional_options_description pos;
  pos.add("job-type", 1);
  auto vm = parse(args, desc, pos);
  if (vm.count("help") != 0) {
    std::cout << desc;
    return core::kExitOk;
  }
  if (vm.count("job-type") == 0) throw UsageError("enqueue needs a JOB_TYPE");
  const JobsConfig cfg = config_of(g, vm);
  core::jobs::JobRequest req;
  req.job_type = vm["job-type"].as<std::string>();
  if (vm.count("repository") != 0) req.repository = vm["repository"].as<std::string>();
  if (vm.count("pr-numbers") != 0) req.pr_numbers = parse_numbers(vm["pr-numbers"].as<std::string>());
  if (vm.count("time-range") != 0) req.time_range_days = vm["time-range"].as<int64_t>();
  if (vm.count("max-items") != 0) req.max_items = vm["max-items"].as<int64_t>();
  auto trig = core::jobs::parse_trigger(vm["trigger"].as<std::string>());
  if (!trig) throw UsageError("--trigger must be manual, automatic or scheduled");
  req.trigger = *trig;
  if (vm.count("target") != 0) req.target = vm["target"].as<std::string>();
  if (vm.count("capture-types") != 0) {
    for (auto& t : core::text::split(vm["capture-types"].as<std::string>(), ',')) {
      if (!core::text::trim(t).empty()) req.capture_types.emplace_back(core::text::trim(t));
    }
  }
  if (vm.count("shards") != 0) req.shards = vm["shards"].as<int64_t>();
  if (vm.count("idempotency-key") != 0) req.idempotency_key = vm["idempotency-key"].as<std::string>();
  if (vm.count("max-attempts") != 0) req.max_attempts = vm["max-attempts"].as<int64_t>();
  try {
    core::jobs::validate(req, cfg);
  } catch (const core::jobs::RequestError& e) {
    throw UsageError(e.what());
  }
  Queue q(dsn_of(vm), cfg);
  core::jobs::EnqueueResult r;
  try {
    r = q.enqueue(req);
  } catch (const core::jobs::RequestError& e) {
    std::cerr << "progcap enqueue: " << e.what() << "\n";
    return core::kExitConfig;
  }
  if (vm.count("print-id") != 0) {
    std::cout << r.id << "\n";
  } else if (vm.count("json") != 0) {
    std::cout << json{{"id", r.id}, {"duplicate", r.duplicate}, {"lane", r.route.lane}, {"rule", r.route.rule}, {"children", r.children}}.dump()
              << "\n";
  } else {
    std::cout << (r.duplicate ? "already queued: " : "enqueued ") << r.id << " (" << req.job_type << ", lane " << r.route.lane
              << ": " << r.route.rule << ")" << (r.children.empty() ? "" : ", " + std::to_string(r.children.size()) + " child jobs")
              << "\n";
  }
  return core::kExitOk;
}

// ---------------------------------------------------------------------------
// work
// ---------------------------------------------------------------------------

struct WorkOptions {
  std::string dsn;
  std::string lane;
  std::string job_id;
  int concurrency = 1;
  bool once = false;
  int64_t max_jobs = 0;
  fs::path state_dir;
  std::string log_file;
  std::string report;
  std::chrono::milliseconds poll{1000};
};

/// Children of this process (progcap run), for signal forwarding.
class Children {
 public:
  void add(pid_t p) {
    std::lock_guard<std::mutex> g(mu_);
    pids_.insert(p);
  }
  void remove(pid_t p) {
    std::lock_guard<std::mutex> g(mu_);
    pids_.erase(p);
  }
  void signal_all(int sig) {
    std::lock_guard<std::mutex> g(mu_);
    for (pid_t p : pids_) ::kill(p, sig);
  }

 private:
  std::mutex mu_;
  std::set<pid_t> pids_;
};

class Worker {
 public:
  Worker(const Globals& g, const JobsConfig& cfg, WorkOptions opts) : g_(g), cfg_(cfg), o_(std::move(opts)) {}

  int run() {
    // SIGINT/SIGTERM: stop claiming, forward to running jobs (they drain and
    // release their jobs back to the queue, checkpoints kept).
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread signals([&] {
      int signals_seen = 0;
      while (true) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGUSR1) break;  // shutdown of this thread
        ++signals_seen;
        stop_.store(true);
        core::logger()->warn("{} received: stopping after the running jobs are released back to the queue", strsignal(sig));
        children_.signal_all(signals_seen > 1 ? SIGINT : SIGTERM);
        wake_.notify_all();
      }
    });
    std::vector<std::thread> threads;
    const int n = o_.job_id.empty() ? o_.concurrency : 1;
    for (int i = 0; i < n; ++i) threads.emplace_back([this, i] { loop(i); });
    for (auto& t : threads) t.join();
    ::kill(::getpid(), SIGUSR1);
    signals.join();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    return exit_code_.load();
  }

 private:
  void loop(int index) {
    const std::string worker = hostname() + ":" + std::to_string(::getpid()) + "/" + std::to_string(index);
    std::unique_ptr<Queue> q;
    try {
      q = std::make_unique<Queue>(o_.dsn, cfg_);
    } catch (const core::ConfigError& e) {
      core::logger()->error("{}", e.what());
      exit_code_.store(core::kExitConfig);
      stop_.store(true);
      return;
    } catch (const std::exception& e) {
      core::logger()->error("worker {}: {}", worker, e.what());
      exit_code_.store(core::kExitFailed);
      stop_.store(true);
      return;
    }
    auto last_reap = std::chrono::steady_clock::now() - std::chrono::hours(1);
    while (!stop_.load()) {
      std::optional<Job> job;
      try {
        if (!o_.job_id.empty()) {
          std::string why;
          job = q->claim_id(o_.job_id, worker, &why);
          if (!job) {
            auto j = q->get(o_.job_id);
            const bool fine = j && (j->status == "completed" || j->status == "processing");
            (fine ? core::logger()->info("{}", why) : core::logger()->error("{}", why));
            exit_code_.store(fine ? core::kExitOk : core::kExitFailed);
            return;
          }
        } else {
          if (std::chrono::steady_clock::now() - last_reap > std::chrono::seconds(2)) {
            if (const int n = q->reap(o_.lane); n > 0) core::logger()->warn("requeued or failed {} job(s) whose lease expired", n);
            last_reap = std::chrono::steady_clock::now();
          }
          if (o_.max_jobs > 0 && claimed_.fetch_add(1) >= o_.max_jobs) {  // reserve one of the --max-jobs
            stop_.store(true);
            wake_.notify_all();
            return;
          }
          job = q->claim(o_.lane, worker);
          if (!job && o_.max_jobs > 0) claimed_.fetch_sub(1);
        }
      } catch (const std::exception& e) {
        core::logger()->error("worker {}: queue error: {}; retrying", worker, core::Redactor::instance().redact(e.what()));
        q.reset();
        std::unique_lock<std::mutex> l(mu_);
        wake_.wait_for(l, std::chrono::seconds(2), [&] { return stop_.load(); });
        try {
          q = std::make_unique<Queue>(o_.dsn, cfg_);
        } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): retried on the next turn
        }
        if (!q) continue;
        continue;
      }
      if (!job) {
        if (o_.once) return;
        std::unique_lock<std::mutex> l(mu_);
        wake_.wait_for(l, o_.poll, [&] { return stop_.load(); });
        continue;
      }
      const int rc = run_job(*q, *job, worker);
      if (!o_.job_id.empty()) {
        exit_code_.store(rc);
        return;
      }
      const int64_t done = ++done_;
      if (o_.max_jobs > 0 && done >= o_.max_jobs) {
        stop_.store(true);
        wake_.notify_all();
      }
    }
  }

  /// Runs one claimed job; returns the exit code it maps to.
  int run_job(Queue& q, const Job& job, const std::string& worker) {
    using core::jobs::Outcome;
    const auto t0 = std::chrono::steady_clock::now();
    core::logger()->info("job {} ({} {}) claimed by {}, attempt {}/{}", job.id, job.job_type, input_text(job.inputs, "repository_name"),
                         worker, job.attempts, job.max_attempts);
    if (const char* run_id = std::getenv("GITHUB_RUN_ID"); run_id != nullptr && !o_.job_id.empty()) {
      const std::string server = std::getenv("GITHUB_SERVER_URL") != nullptr ? std::getenv("GITHUB_SERVER_URL") : "https://github.com";
      const std::string repo = std::getenv("GITHUB_REPOSITORY") != nullptr ? std::getenv("GITHUB_REPOSITORY") : "";
      const char* attempt = std::getenv("GITHUB_RUN_ATTEMPT");
      try {
        q.record_run(job.id, std::stoll(run_id), server + "/" + repo + "/actions/runs/" + run_id, attempt != nullptr ? std::stoll(attempt) : 1);
      } catch (const std::exception& e) {
        core::logger()->warn("could not record the workflow run in job {}: {}", job.id, e.what());
      }
    }
    Outcome out;
    const core::jobs::JobTypeConfig* type = cfg_.type(job.job_type);
    if (type == nullptr || !type->fan_out.empty()) {
      out.kind = Outcome::Kind::Failed;
      out.error = type == nullptr ? "unknown job type '" + job.job_type + "' (not in " + cfg_.file.string() + ")"
                                  : "job type " + job.job_type + " fans out into child jobs and is not run itself";
      q.finish(job, worker, out);
      core::logger()->error("job {}: {}", job.id, out.error);
      return core::kExitConfig;
    }
    if (type->builtin == "noop") {
      out.summary = {{"builtin", "noop"}};
      q.finish(job, worker, out);
      return core::kExitOk;
    }
    const fs::path tmp = fs::temp_directory_path() / ("progcap-job-" + job.id + "-" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    const fs::path status = tmp / "status.json";
    const fs::path report = o_.report.empty() ? tmp / "report.json" : fs::path(o_.report);
    std::vector<std::string> argv = {g_.exe.string()};
    for (const auto& p : g_.plugin_paths) argv.insert(argv.end(), {"--plugin-path", p});
    argv.insert(argv.end(), {"--log-level", g_.log_level, "run", type->pipeline, "--no-progress", "--state-dir",
                             (o_.state_dir / job.id).string(), "--report", report.string(), "--status-file", status.string(),
                             "--run-id", "job-" + job.id.substr(0, 8) + "-" + std::to_string(job.attempts)});
    if (!o_.log_file.empty()) argv.insert(argv.end(), {"--log-file", o_.log_file});
    for (const char* key : {"repository_id", "repository_name", "pr_numbers", "time_range", "max_items", "shard", "target"}) {
      const std::string v = input_text(job.inputs, key);
      if (!v.empty()) argv.insert(argv.end(), {"--set", std::string(key) + "=" + v});
    }
    const pid_t pid = spawn(argv, job.id, job.attempts);
    int status_code = -1;
    bool lost = false;
    if (pid <= 0) {
      out.kind = Outcome::Kind::Retry;
      out.error = "cannot start progcap run: " + std::string(std::strerror(errno));
    } else {
      children_.add(pid);
      const auto beat = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(200), cfg_.lane(job.lane).lease / 4);
      auto next_beat = std::chrono::steady_clock::now() + beat;
      while (true) {
        int st = 0;
        const pid_t r = ::waitpid(pid, &st, WNOHANG);
        if (r == pid) {
          status_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          break;
        }
        if (std::chrono::steady_clock::now() >= next_beat) {
          next_beat = std::chrono::steady_clock::now() + beat;
          core::jobs::Progress p = read_progress(status);
          bool ok = true;
          try {
            ok = q.heartbeat(job, worker, p);
          } catch (const std::exception& e) {
            core::logger()->warn("job {}: heartbeat failed ({}); retrying", job.id, core::Redactor::instance().redact(e.what()));
          }
          if (!ok && !lost) {
            lost = true;
            core::logger()->error("job {}: lease lost (cancelled, or expired and taken over): stopping its run", job.id);
            ::kill(pid, SIGTERM);
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      children_.remove(pid);
      out.progress = read_progress(status);
      out.summary = summarize(report, status_code, std::chrono::steady_clock::now() - t0);
      if (status_code == core::kExitOk || status_code == core::kExitDeadLettered) {
        out.kind = Outcome::Kind::Completed;
      } else if (status_code == core::kExitInterrupted && stop_.load()) {
        out.kind = Outcome::Kind::Released;
        out.error = "worker " + worker + " stopping";
      } else if (status_code == core::kExitConfig || status_code == core::kExitUsage) {
        out.kind = Outcome::Kind::Failed;
      } else {
        out.kind = Outcome::Kind::Retry;
      }
      if (out.kind != Outcome::Kind::Completed && out.kind != Outcome::Kind::Released) {
        out.error = "progcap run " + type->pipeline + " exited " + std::to_string(status_code) + ": " + out.summary.value("error", std::string("see the run's log"));
      }
    }
    std::error_code ec;
    fs::remove_all(tmp, ec);
    if (lost) return core::kExitFailed;
    try {
      q.finish(job, worker, out);
    } catch (const std::exception& e) {
      core::logger()->error("job {}: cannot record the outcome ({}); its lease will expire and another worker redoes it", job.id,
                            core::Redactor::instance().redact(e.what()));
      return core::kExitFailed;
    }
    const char* what = out.kind == Outcome::Kind::Completed ? "completed"
                       : out.kind == Outcome::Kind::Released ? "released back to the queue"
                       : out.kind == Outcome::Kind::Retry    ? "failed (will be retried if attempts remain)"
                                                             : "failed";
    (out.kind == Outcome::Kind::Completed || out.kind == Outcome::Kind::Released ? core::logger()->info("job {} {}", job.id, what)
                                                                                 : core::logger()->error("job {} {}: {}", job.id, what, out.error));
    switch (out.kind) {
      case Outcome::Kind::Completed: return core::kExitOk;
      case Outcome::Kind::Released: return core::kExitInterrupted;
      case Outcome::Kind::Failed: return status_code == core::kExitConfig ? core::kExitConfig : core::kExitFailed;
      case Outcome::Kind::Retry: return core::kExitFailed;
    }
    return core::kExitFailed;
  }

  /// fork+exec with the signal mask cleared and SIGTERM on our death (a
  /// killed worker's run drains and exits instead of running on unowned).
  static pid_t spawn(const std::vector<std::string>& argv, const std::string& job_id, int attempt) {
    std::vector<char*> cargv;
    std::vector<std::string> copy = argv;
    for (auto& a : copy) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      // The run knows its job (pipelines may use ${env.PROGCAP_JOB_ID}, logs show it).
      ::setenv("PROGCAP_JOB_ID", job_id.c_str(), 1);
      ::setenv("PROGCAP_JOB_ATTEMPT", std::to_string(attempt).c_str(), 1);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
    return pid;
  }

  static core::jobs::Progress read_progress(const fs::path& status) {
    core::jobs::Progress p;
    std::ifstream in(status);
    if (!in) return p;
    try {
      json j = json::parse(in);
      p.processed = j.value("records", int64_t{0});
      p.failed = j.value("dead_letters", int64_t{0});
      std::string cur = j.value("running", std::string());
      const std::string item = j.value("item", std::string());
      if (!item.empty()) cur += (cur.empty() ? "" : ": ") + item;
      p.current = cur;
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): a half-written file is skipped
    }
    return p;
  }

  static json summarize(const fs::path& report, int code, std::chrono::steady_clock::duration took) {
    json s = {{"exit_code", code}, {"duration_s", std::chrono::duration<double>(took).count()}};
    std::ifstream in(report);
    if (!in) return s;
    try {
      json r = json::parse(in);
      s["status"] = r.value("status", std::string());
      s["records"] = r.value("records", json::object());
      if (r.contains("dead_letters")) s["dead_letters"] = r["dead_letters"];
      if (r.contains("error")) s["error"] = r["error"];
      for (const auto& st : r.value("steps", json::array())) {
        if (st.contains("error") && !s.contains("error")) s["error"] = st["error"];
      }
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): no report, the exit code says enough
    }
    return s;
  }

  const Globals& g_;
  const JobsConfig& cfg_;
  WorkOptions o_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> claimed_{0};
  std::atomic<int> exit_code_{core::kExitOk};
  std::mutex mu_;
  std::condition_variable wake_;
  Children children_;
};

int cmd_work(const Globals& g, const std::vector<std::string>& args) {
  po::options_description desc("progcap work (--lane realtime|bulk | --job ID) [options]");
  add_common(desc);
  desc.add_options()("lane", po::value<std::string>(), "realtime | bulk")("job", po::value<std::string>(), "run exactly this job")(
      "concurrency", po::value<int>()->default_value(1), "jobs run at the same time by this process")(
      "once", "exit when no job is runnable")("max-jobs", po::value<int64_t>()->default_value(0), "exit after this many jobs")(
      "state-dir", po::value<std::string>(), "checkpoints per job (default $PROGCAP_STATE_DIR or .progcap/state, + /jobs)")(
      "poll", po::value<std::string>()->default_value("1s"), "wait between empty claims")(
      "log-file", po::value<std::string>(), "the runs' full logs (debug level)")("report", po::value<std::string>(), "--job: the run report");
  auto vm = parse(args, desc, po::positional_options_description{});
  if (vm.count("help") != 0) {
    std::cout << desc;
    return core::kExitOk;
  }
  WorkOptions o;
  o.dsn = dsn_of(vm);
  if (vm.count("job") != 0) o.job_id = vm["job"].as<std::string>();
  if (vm.count("lane") != 0) o.lane = vm["lane"].as<std::string>();
  if (o.job_id.empty() == o.lane.empty()) throw UsageError("give --lane realtime|bulk, or --job ID");
  if (!o.lane.empty() && o.lane != "realtime" && o.lane != "bulk") throw UsageError("--lane must be realtime or bulk");
  o.concurrency = vm["concurrency"].as<int>();
  if (o.concurrency < 1 || o.concurrency > 256) throw UsageError("--concurrency must be 1..256");
  o.once = vm.count("once") != 0;
  o.max_jobs = vm["max-jobs"].as<int64_t>();
  long long poll_ms = 0;
  if (!core::text::parse_duration_ms(vm["poll"].as<std::string>(), poll_ms) || poll_ms <= 0) throw UsageError("--poll: a duration like 1s");
  o.poll = std::chrono::milliseconds(poll_ms);
  if (vm.count("state-dir") != 0) {
    o.state_dir = vm["state-dir"].as<std::string>();
  } else {
    const char* env = std::getenv("PROGCAP_STATE_DIR");
    o.state_dir = fs::path(env != nullptr && *env != '\0' ? env : ".progcap/state") / "jobs";
  }
  o.state_dir = fs::absolute(o.state_dir);
  if (vm.count("log-file") != 0) o.log_file = fs::absolute(vm["log-file"].as<std::string>()).string();
  if (vm.count("report") != 0) o.report = fs::absolute(vm["report"].as<std::string>()).string();
  const JobsConfig cfg = config_of(g, vm);
  Worker w(g, cfg, o);
  return w.run();
}

// ---------------------------------------------------------------------------
// jobs list|show|retry|cancel|stats
// ---------------------------------------------------------------------------

int cmd_stats_print(Queue& q, bool as_json) {
  const json s = q.stats();
  if (as_json) {
    std::cout << s.dump(2) << "\n";
    return core::kExitOk;
  }
  if (s.empty()) std::cout << "no progcap jobs\n";
  for (const auto& [lane, v] : s.items()) {
    std::cout << lane << ":";
    for (const auto& [status, n] : v["by_status"].items()) std::cout << " " << status << "=" << n.get<int64_t>();
    std::cout << " | oldest pending " << (v["oldest_pending_age_s"].is_null() ? std::string("-") : core::text::human_duration(v["oldest_pending_age_s"].get<int64_t>() * 1000))
              << " | avg duration " << (v["avg_duration_s"].is_null() ? std::string("-") : std::to_string(v["avg_duration_s"].get<double>()) + " s")
              << " | failure rate " << std::fixed << std::setprecision(1) << v["failure_rate"].get<double>() * 100 << " %\n";
  }
  return core::kExitOk;
}

int cmd_jobs(const Globals& g, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << "usage: progcap jobs list [--lane L] [--status S] [--type T] [--repository R] [--limit N]\n"
                                               "       progcap jobs show ID | retry ID | cancel ID | stats   [--json] [--dsn DSN]\n";
    return args.empty() ? core::kExitUsage : core::kExitOk;
  }
  const std::string sub = args[0];
  po::options_description desc("progcap jobs " + sub);
  add_common(desc);
  desc.add_options()("id", po::value<std::string>(), "job id")("lane", po::value<std::string>(), "")("status", po::value<std::string>(), "")(
      "type", po::value<std::string>(), "")("repository", po::value<std::string>(), "")("limit", po::value<int>()->default_value(50), "");
  po::positional_options_description pos;
  pos.add("id", 1);
  auto vm = parse(std::vector<std::string>(args.begin() + 1, args.end()), desc, pos);
  if (vm.count("help") != 0) {
    std::cout << desc;
    return core::kExitOk;
  }
  const bool as_json = vm.count("json") != 0;
  const JobsConfig cfg = config_of(g, vm);
  Queue q(dsn_of(vm), cfg);
  auto id = [&] {
    if (vm.count("id") == 0) throw UsageError("jobs " + sub + " needs a job ID");
    return vm["id"].as<std::string>();
  };
  if (sub == "list") {
    core::jobs::ListFilter f;
    if (vm.count("lane") != 0) f.lane = vm["lane"].as<std::string>();
    if (vm.count("status") != 0) f.status = vm["status"].as<std::string>();
    if (vm.count("type") != 0) f.job_type = vm["type"].as<std::string>();
    if (vm.count("repository") != 0) f.repository = vm["repository"].as<std::string>();
    f.limit = vm["limit"].as<int>();
    const auto list = q.list(f);
    if (as_json) {
      json arr = json::array();
      for (const auto& j : list) arr.push_back(j.to_json());
      std::cout << arr.dump(2) << "\n";
    } else {
      for (const auto& j : list) print_job_line(j);
    }
    return core::kExitOk;
  }
  if (sub == "show") {
    auto j = q.get(id());
    if (!j) {
      std::cerr << "progcap jobs show: no job " << id() << "\n";
      return core::kExitFailed;
    }
    json out = j->to_json();
    const auto kids = q.children(j->id);
    if (!kids.empty()) {
      out["children"] = json::array();
      for (const auto& k : kids) out["children"].push_back(k.to_json());
    }
    std::cout << out.dump(2) << "\n";
    return core::kExitOk;
  }
  if (sub == "retry" || sub == "cancel") {
    std::string why;
    const bool ok = sub == "retry" ? q.retry(id(), &why) : q.cancel(id(), &why);
    if (!ok) {
      std::cerr << "progcap jobs " << sub << ": " << why << "\n";
      return core::kExitFailed;
    }
    std::cout << (sub == "retry" ? "requeued " : "cancelled ") << id() << "\n";
    return core::kExitOk;
  }
  if (sub == "stats") return cmd_stats_print(q, as_json);
  throw UsageError("unknown jobs command '" + sub + "' (list | show | retry | cancel | stats)");
}

// ---------------------------------------------------------------------------
// plan-matrix
// ---------------------------------------------------------------------------

int cmd_plan_matrix(const Globals& g, const std::vector<std::string>& args) {
  po::options_description desc("progcap plan-matrix --job ID");
  add_common(desc);
  desc.add_options()("job", po::value<std::string>(), "the (bulk) job whose children form the matrix");
  auto vm = parse(args, desc, po::positional_options_description{});
  if (vm.count("help") != 0) {
    std::cout << desc;
    return core::kExitOk;
  }
  if (vm.count("job") == 0) throw UsageError("plan-matrix needs --job ID");
  const JobsConfig cfg = config_of(g, vm);
  Queue q(dsn_of(vm), cfg);
  const std::string id = vm["job"].as<std::string>();
  auto j = q.get(id);
  if (!j) {
    std::cerr << "progcap plan-matrix: no job " << id << "\n";
    return core::kExitFailed;
  }
  if (const char* run_id = std::getenv("GITHUB_RUN_ID"); run_id != nullptr) {
    const std::string server = std::getenv("GITHUB_SERVER_URL") != nullptr ? std::getenv("GITHUB_SERVER_URL") : "https://github.com";
    const std::string repo = std::getenv("GITHUB_REPOSITORY") != nullptr ? std::getenv("GITHUB_REPOSITORY") : "";
    const char* attempt = std::getenv("GITHUB_RUN_ATTEMPT");
    q.record_run(id, std::stoll(run_id), server + "/" + repo + "/actions/runs/" + run_id, attempt != nullptr ? std::stoll(attempt) : 1);
  }
  json include = json::array();
  const auto kids = q.children(id);
  if (kids.empty()) {
    include.push_back({{"type", j->job_type}, {"shard", input_text(j->inputs, "shard")}, {"job_id", j->id}});
  }
  for (const auto& k : kids) {
    if (k.status == "completed" || k.status == "cancelled") continue;  // a rerun only redoes what is left
    include.push_back({{"type", k.job_type}, {"shard", input_text(k.inputs, "shard")}, {"job_id", k.id}});
  }
  std::cout << json{{"include", include}}.dump() << "\n";
  return core::kExitOk;
}

// ---------------------------------------------------------------------------
// dispatch
// ---------------------------------------------------------------------------

int cmd_dispatch(const Globals& g, const std::vector<std::string>& args) {
  po::options_description desc("progcap dispatch [--job ID] [--limit N] [options]");
  add_common(desc);
  desc.add_options()("job", po::value<std::string>(), "dispatch only this job")("limit", po::value<int>()->default_value(20), "jobs per call")(
      "repository", po::value<std::string>(), "OWNER/NAME holding the workflows (default: jobs.yaml dispatch.repository)")(
      "ref", po::value<std::string>(), "git ref of the workflows (default: jobs.yaml dispatch.ref)")(
      "dry-run", "print the requests, send nothing");
  auto vm = parse(args, desc, po::positional_options_description{});
  if (vm.count("help") != 0) {
    std::cout << desc;
    return core::kExitOk;
  }
  const JobsConfig cfg = config_of(g, vm);
  const std::string repo = vm.count("repository") != 0 ? vm["repository"].as<std::string>() : cfg.dispatch.repository;
  const std::string ref = vm.count("ref") != 0 ? vm["ref"].as<std::string>() : cfg.dispatch.ref;
  const bool dry = vm.count("dry-run") != 0;
  const char* token = std::getenv("GITHUB_TOKEN");
  if (!dry && (token == nullptr || *token == '\0')) {
    throw core::ConfigError(core::Location{}, "dispatch needs GITHUB_TOKEN (a token allowed to run workflows in " +
                                                  (repo.empty() ? std::string("the workflows' repository") : repo) + ")");
  }
  if (repo.empty()) throw UsageError("no dispatch repository: set dispatch.repository in " + cfg.file.string() + " or pass --repository");
  if (repo.find('/') == std::string::npos) throw UsageError("dispatch repository '" + repo + "' is not OWNER/NAME");
  if (token != nullptr) core::Redactor::instance().add(token);
  std::string api = std::getenv("GITHUB_API_URL") != nullptr ? std::getenv("GITHUB_API_URL") : "https://api.github.com";
  while (!api.empty() && api.back() == '/') api.pop_back();
  Queue q(dsn_of(vm), cfg);
  const auto jobs = q.dispatchable(vm["limit"].as<int>(), vm.count("job") != 0 ? vm["job"].as<std::string>() : "");
  if (vm.count("job") != 0 && jobs.empty()) {
    std::cerr << "progcap dispatch: job " << vm["job"].as<std::string>() << " is not a dispatchable bulk-lane job right now\n";
    return core::kExitFailed;
  }
  auto transport = core::http::make_cpprest_transport({2});
  int failures = 0;
  json results = json::array();
  for (const auto& j : jobs) {
    const core::jobs::JobTypeConfig* type = cfg.type(j.job_type);
    if (type == nullptr || type->workflow.empty()) {
      std::cerr << "job " << j.id << ": job type " << j.job_type << " has no workflow in " << cfg.file.string() << "; skipped\n";
      continue;
    }
    json inputs = json::object();
    for (const auto& name : type->inputs) {
      inputs[name] = name == "job_id" ? j.id : input_text(j.inputs, name);
    }
    const json body = {{"ref", ref}, {"inputs", inputs}};
    const std::string url = api + "/repos/" + repo + "/actions/workflows/" + type->workflow + "/dispatches";
    json res = {{"job_id", j.id}, {"workflow", type->workflow}, {"inputs", inputs}};
    if (dry) {
      res["request"] = "POST " + url;
      results.push_back(res);
      continue;
    }
    core::http::Request req;
    req.method = "POST";
    req.url = url;
    req.body = body.dump();
    req.headers = {{"Authorization", std::string("Bearer ") + token},
                   {"Accept", "application/vnd.github+json"},
                   {"X-GitHub-Api-Version", "2022-11-28"},
                   {"Content-Type", "application/json"},
                   {"User-Agent", std::string("progcap/") + core::kVersion}};
    core::http::Response resp;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      resp = transport->send(req, nullptr);
      if (resp.status != 0 && resp.status < 500) break;
      std::this_thread::sleep_for(std::chrono::seconds(attempt));
    }
    res["status"] = resp.status;
    if (resp.status == 204 || resp.status == 200) {
      q.mark_dispatched(j.id, type->workflow, ref, repo);
      res["dispatched"] = true;
    } else if (resp.status >= 400 && resp.status < 500) {
      std::string msg;
      try {
        msg = json::parse(resp.body).value("message", resp.body);
      } catch (const std::exception&) {
        msg = resp.body.substr(0, 300);
      }
      const std::string error = "dispatch of " + type->workflow + " to " + repo + " refused (" + std::to_string(resp.status) +
                                "): " + msg + (resp.status == 404 ? " (does the workflow file exist on " + ref + "?)" : "");
      q.mark_dispatch_failed(j.id, error);
      res["error"] = error;
      ++failures;
    } else {
      res["error"] = "GitHub did not accept the dispatch (" + (resp.status == 0 ? resp.error : std::to_string(resp.status)) +
                     "); the job stays pending";
      ++failures;
    }
    results.push_back(res);
  }
  if (vm.count("json") != 0) {
    std::cout << results.dump(2) << "\n";
  } else {
    for (const auto& r : results) {
      std::cout << r["job_id"].get<std::string>() << " -> " << r["workflow"].get<std::string>() << ": "
                << (r.contains("error") ? "FAILED " + r["error"].get<std::string>()
                                        : dry ? r.value("request", std::string()) + " " + r["inputs"].dump()
                                              : std::string("dispatched"))
                << "\n";
    }
    if (results.empty()) std::cout << "nothing to dispatch\n";
  }
  return failures > 0 ? core::kExitFailed : core::kExitOk;
}

}  // namespace

int cmd_job_system(const Globals& g, const std::string& cmd, const std::vector<std::string>& args) {
  if (cmd == "enqueue") return cmd_enqueue(g, args);
  if (cmd == "work") return cmd_work(g, args);
  if (cmd == "jobs") return cmd_jobs(g, args);
  if (cmd == "stats") return cmd_jobs(g, [&] {
    std::vector<std::string> a = {"stats"};
    a.insert(a.end(), args.begin(), args.end());
    return a;
  }());
  if (cmd == "plan-matrix") return cmd_plan_matrix(g, args);
  if (cmd == "dispatch") return cmd_dispatch(g, args);
  throw UsageError("unknown command " + cmd);
}

}  // namespace progcap::cli
