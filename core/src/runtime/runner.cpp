// Runner: step groups (sequential groups of parallel steps), the watchdog for
// timeouts, the live progress line and GitHub Actions integration.
#include "run_context.hpp"

#include <progcap/core/exit_codes.hpp>
#include <progcap/core/logging.hpp>
#include <progcap/core/text.hpp>

#include <progcap/sdk/codec.hpp>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace progcap::core {

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// Peak resident set of this process (VmHWM: the address space's own high-water
/// mark, unlike ru_maxrss, which a vfork-spawned process inherits from its parent).
double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::string make_run_id() {
  std::random_device rd;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%lld-%04x", static_cast<long long>(std::time(nullptr)), rd() & 0xFFFFu);
  return buf;
}

std::string with_commas(uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

/// The steps' counters summed, the running steps' names and the item one of them works on.
struct LiveTotals {
  uint64_t records = 0;
  uint64_t batches = 0;
  uint64_t dead = 0;
  std::string running;
  std::string item;
};

LiveTotals live_totals(const std::vector<std::shared_ptr<StepLive>>& steps) {
  LiveTotals t;
  for (const auto& s : steps) {
    t.records += s->records.load();
    t.batches += s->batches.load();
    t.dead += s->dead.load();
    if (s->state.load() == 1) {
      t.running += (t.running.empty() ? "" : ",") + s->name;
      std::lock_guard<std::mutex> g(s->mu);
      if (!s->item.empty()) t.item = s->item + (s->total >= 0 ? " " + std::to_string(s->done) + "/" + std::to_string(s->total) : "");
    }
  }
  return t;
}

/// {"records":…,"batches":…,"dead_letters":…,"running":"step","item":"…"}: the
/// run's progress for --status-file (a job worker turns it into job progress).
std::string status_json(const std::vector<std::shared_ptr<StepLive>>& steps) {
  const LiveTotals t = live_totals(steps);
  std::string out = "{\"records\":" + std::to_string(t.records) + ",\"batches\":" + std::to_string(t.batches) +
                    ",\"dead_letters\":" + std::to_string(t.dead) + ",\"running\":";
  sdk::append_json_string(out, t.running);
  out += ",\"item\":";
  sdk::append_json_string(out, t.item);
  out += "}\n";
  return out;
}

void write_status_file(const std::filesystem::path& file, const std::string& text) {
  const std::string tmp = file.string() + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    o << text;
    if (!o) return;  // best effort: progress is informational
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
}

/// The live progress line on a TTY. It steps aside for log lines.
class ProgressLine final : public ConsoleGuard {
 public:
  ProgressLine(std::vector<std::shared_ptr<StepLive>> steps, std::shared_ptr<http::Service> http)
      : steps_(std::move(steps)), http_(std::move(http)) {}
  ~ProgressLine() override { stop(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void start() {
    set_console_guard(this);
    t0_ = Clock::now();
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> l(mu_);
      while (!stop_) {
        draw_locked();
        cv_.wait_for(l, std::chrono::milliseconds(250));
      }
      clear_locked();
    });
  }
  void stop() {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    set_console_guard(nullptr);
  }
  void before_log() override {
    mu_.lock();
    clear_locked();
  }
  void after_log() override {
    draw_locked();
    mu_.unlock();
  }

 private:
  void clear_locked() {
    if (drawn_) {
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
      drawn_ = false;
    }
  }
  void draw_locked() {
    if (stop_) return;
    LiveTotals t = live_totals(steps_);
    const double secs = std::chrono::duration<double>(Clock::now() - t0_).count();
    if (http_) {
      if (auto q = http_->quota_policy()) {
        const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        for (const auto& w : q->waits()) {
          if (w.until_epoch_ms > now + 1000) {
            t.item = "waiting " + text::human_duration(w.until_epoch_ms - now) + " for quota (" + w.reason + ")";
          }
        }
      }
    }
    char line[512];
    std::snprintf(line, sizeof line, "\r\033[K\u25b6 %s | %s records | %s batches | %.0f rec/s | %s%s%s", t.running.c_str(),
                  with_commas(t.records).c_str(), with_commas(t.batches).c_str(),
                  secs > 0 ? static_cast<double>(t.records) / secs : 0.0, text::human_duration(static_cast<long long>(secs * 1000)).c_str(),
                  t.dead ? (" | " + with_commas(t.dead) + " dead-lettered").c_str() : "", t.item.empty() ? "" : (" | " + t.item).c_str());
    std::fputs(line, stderr);
    std::fflush(stderr);
    drawn_ = true;
  }

  std::vector<std::shared_ptr<StepLive>> steps_;
  std::shared_ptr<http::Service> http_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool stop_ = false;
  bool drawn_ = false;
  Clock::time_point t0_;
};

void gha(const std::string& line) {
  std::cout << line << '\n' << std::flush;
}

std::string gha_escape(std::string s) {
  // Workflow-command data escaping: %, \r, \n.
  std::string out;
  for (char c : s) {
    if (c == '%') {
      out += "%25";
    } else if (c == '\r') {
      out += "%0D";
    } else if (c == '\n') {
      out += "%0A";
    } else {
      out += c;
    }
  }
  return Redactor::instance().redact(out);
}

}  // namespace

// ---------------------------------------------------------------------------
// Dead letters
// ---------------------------------------------------------------------------

DeadLetterWriter::DeadLetterWriter(fs::path dir, std::string pipeline, std::string run_id)
    : dir_(std::move(dir)), pipeline_(std::move(pipeline)), run_id_(std::move(run_id)) {}

DeadLetterWriter::~DeadLetterWriter() { close(); }

void DeadLetterWriter::write(std::string_view step, std::string_view component, std::string_view stream, std::string_view reason,
                             std::string_view record_json) {
  std::string line;
  line.reserve(record_json.size() + 256);
  line += "{\"time\":\"";
  sdk::append_rfc3339(line, now_micros());
  line += "\",\"pipeline\":";
  sdk::append_json_string(line, pipeline_);
  line += ",\"run_id\":";
  sdk::append_json_string(line, run_id_);
  line += ",\"step\":";
  sdk::append_json_string(line, step);
  line += ",\"component\":";
  sdk::append_json_string(line, component);
  line += ",\"stream\":";
  sdk::append_json_string(line, stream);
  line += ",\"reason\":";
  sdk::append_json_string(line, reason);
  line += ",\"record\":";
  line += record_json.empty() ? std::string_view("null") : record_json;
  line += "}\n";
  Redactor::instance().redact_in_place(line);
  std::lock_guard<std::mutex> g(mu_);
  if (file_ == nullptr) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    path_ = dir_ / (pipeline_ + "-" + run_id_ + ".ndjson");
    file_ = std::fopen(path_.c_str(), "ae");
    if (file_ == nullptr) {
      // Losing a rejected record silently is not an option: say where it went.
      logger()->error("cannot open dead-letter file {}: {}; record follows on stderr", path_.string(), std::strerror(errno));
      std::fputs(line.c_str(), stderr);
      count_.fetch_add(1);
      return;
    }
  }
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
  count_.fetch_add(1);
}

std::string DeadLetterWriter::path() const {
  std::lock_guard<std::mutex> g(mu_);
  return file_ != nullptr ? path_.string() : std::string();
}

void DeadLetterWriter::close() {
  std::lock_guard<std::mutex> g(mu_);
  if (file_ != nullptr) {
    ::fsync(fileno(file_));
    std::fclose(file_);
    file_ = nullptr;
  }
}

// ---------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------

struct Runner::Impl {
  const ResolvedPipeline& pipeline;
  RunContext ctx;
  std::mutex steps_mu;
  std::vector<StepRunner*> active;

  Impl(const ResolvedPipeline& p, RunOptions opts, std::shared_ptr<StateStore> state) : pipeline(p) {
    ctx.pipeline = &p;
    ctx.opts = std::move(opts);
    ctx.state = std::move(state);
    ctx.run_id = ctx.opts.run_id.empty() ? make_run_id() : ctx.opts.run_id;
    ctx.dead_letters = std::make_unique<DeadLetterWriter>(ctx.opts.dead_letter_dir, p.name, ctx.run_id);
  }

  RunReport run() {
    RunReport rep;
    rep.progcap_version = ctx.opts.host_version;
    rep.abi = std::to_string(PROGCAP_ABI_MAJOR) + "." + std::to_string(PROGCAP_ABI_MINOR);
    rep.run_id = ctx.run_id;
    rep.pipeline = pipeline.name;
    rep.file = pipeline.file.string();
    rep.dry_run = ctx.opts.dry_run;
    rep.inputs = pipeline.inputs;
    rep.started_at = sdk::format_rfc3339(now_micros());
    const auto t0 = Clock::now();
    if (pipeline.timeout) ctx.token.set_deadline(t0 + *pipeline.timeout);

    std::vector<std::shared_ptr<StepLive>> lives;
    for (size_t i = 0; i < pipeline.steps.size(); ++i) lives.push_back(std::make_shared<StepLive>());
    std::unique_ptr<ProgressLine> progress;
    if (ctx.opts.progress) {
      progress = std::make_unique<ProgressLine>(lives, ctx.opts.http);
      progress->start();
    }
    // Watchdog: step and pipeline timeouts.
    std::atomic<bool> watchdog_stop{false};
    std::mutex watchdog_mu;
    std::condition_variable watchdog_cv;
    std::thread watchdog([&] {
      auto status_at = Clock::now() - std::chrono::seconds(1);
      while (!watchdog_stop.load()) {
        const auto now = Clock::now();
        if (!ctx.opts.status_file.empty() && now - status_at >= std::chrono::seconds(1)) {
          write_status_file(ctx.opts.status_file, status_json(lives));
          status_at = now;
        }
        if (ctx.token.check_deadline(now)) logger()->error("pipeline '{}' timed out; stopping", pipeline.name);
        {
          std::lock_guard<std::mutex> g(steps_mu);
          for (StepRunner* s : active) {
            if (s->token().check_deadline(now)) logger()->error("a step timed out; stopping it");
          }
        }
        std::unique_lock<std::mutex> lk(watchdog_mu);
        watchdog_cv.wait_for(lk, std::chrono::milliseconds(50), [&] { return watchdog_stop.load(); });
      }
    });

    rep.steps.resize(pipeline.steps.size());
    bool stop_rest = false;
    for (int g = 0; g < std::max(1, pipeline.groups); ++g) {
      std::vector<size_t> idx;
      for (size_t i = 0; i < pipeline.steps.size(); ++i) {
        if (pipeline.steps[i].group == g) idx.push_back(i);
      }
      if (idx.empty()) continue;
      if (stop_rest || ctx.token.cancelled()) {
        for (size_t i : idx) {
          rep.steps[i].name = pipeline.steps[i].name;
          rep.steps[i].status = "skipped";
        }
        continue;
      }
      std::string group_name;
      for (size_t i : idx) group_name += (group_name.empty() ? "" : ", ") + pipeline.steps[i].name;
      if (ctx.opts.github_actions) gha("::group::progcap step " + group_name + (idx.size() > 1 ? " (parallel)" : ""));
      logger()->info("step {} started{}", group_name, idx.size() > 1 ? " (parallel)" : "");
      std::vector<std::unique_ptr<StepRunner>> runners;
      for (size_t i : idx) runners.push_back(std::make_unique<StepRunner>(pipeline.steps[i], ctx, lives[i]));
      {
        std::lock_guard<std::mutex> lock(steps_mu);
        for (auto& r : runners) active.push_back(r.get());
      }
      std::vector<std::thread> threads;
      for (size_t k = 0; k < idx.size(); ++k) {
        threads.emplace_back([&, k] { rep.steps[idx[k]] = runners[k]->run(); });
      }
      for (auto& t : threads) t.join();
      {
        std::lock_guard<std::mutex> lock(steps_mu);
        active.clear();
      }
      for (size_t i : idx) {
        const StepReport& s = rep.steps[i];
        logger()->info("step {} {} in {} ({} records out, {} dead-lettered)", s.name, s.status,
                       text::human_duration(static_cast<long long>(s.duration_ms)), [&] {
                         uint64_t n = 0;
                         for (const auto& [k, v] : s.source.records) n += v;
                         return n;
                       }(),
                       s.dead_lettered);
        if (s.status != "ok") stop_rest = true;
        if (ctx.opts.github_actions && s.status != "ok") {
          gha("::error title=progcap step " + s.name + " " + s.status + "::" + gha_escape(s.error));
        }
      }
      if (ctx.opts.github_actions) gha("::endgroup::");
    }
    {
      std::lock_guard<std::mutex> lk(watchdog_mu);
      watchdog_stop.store(true);
    }
    watchdog_cv.notify_all();
    watchdog.join();
    if (!ctx.opts.status_file.empty()) write_status_file(ctx.opts.status_file, status_json(lives));
    if (progress) progress->stop();
    ctx.dead_letters->close();
    try {
      ctx.state->sync();
    } catch (const std::exception& e) {
      logger()->error("{}", e.what());
    }

    rep.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    rep.finished_at = sdk::format_rfc3339(now_micros());
    rep.dead_lettered = ctx.dead_letters->count();
    rep.peak_rss_mb = peak_rss_mb();
    rep.dead_letter_file = ctx.dead_letters->path();
    if (ctx.opts.http) {
      rep.http = ctx.opts.http->stats();
      if (auto q = ctx.opts.http->quota_policy()) rep.quota = q->snapshot();
    }
    bool any_failed = false;
    bool config_failure = false;
    bool any_interrupted = false;
    for (const auto& s : rep.steps) {
      if (s.status == "failed") any_failed = true;
      if (s.status == "failed" && (s.error_status == PROGCAP_ERR_CONFIG || s.error_status == PROGCAP_ERR_AUTH)) config_failure = true;
      if (s.status == "interrupted" || s.status == "timed_out") any_interrupted = true;
    }
    const StopReason why = ctx.token.reason();
    const size_t max_dead = ctx.opts.max_dead_letters.value_or(pipeline.max_dead_letters);
    if (any_failed) {
      rep.status = "failed";
      rep.exit_code = config_failure ? kExitConfig : kExitFailed;
    } else if (any_interrupted || why == StopReason::Signal || why == StopReason::Timeout) {
      rep.status = "interrupted";
      rep.exit_code = kExitInterrupted;
    } else if (rep.dead_lettered > max_dead) {
      rep.status = "dead_lettered";
      rep.exit_code = kExitDeadLettered;
    } else {
      rep.status = "ok";
      rep.exit_code = kExitOk;
    }
    if (rep.dead_lettered > 0) {
      logger()->warn("{} record(s) dead-lettered to {}", rep.dead_lettered, rep.dead_letter_file);
      if (ctx.opts.github_actions) {
        gha("::warning title=progcap dead letters::" + std::to_string(rep.dead_lettered) + " record(s) were dead-lettered to " +
            gha_escape(rep.dead_letter_file));
      }
    }
    return rep;
  }
};

Runner::Runner(const ResolvedPipeline& pipeline, RunOptions opts, std::shared_ptr<StateStore> state)
    : impl_(std::make_unique<Impl>(pipeline, std::move(opts), std::move(state))) {}
Runner::~Runner() = default;
RunReport Runner::run() { return impl_->run(); }
void Runner::cancel(StopReason why) { impl_->ctx.token.cancel(why); }
void Runner::abort() {
  impl_->ctx.hard_abort.store(true);
  impl_->ctx.token.cancel(StopReason::Signal);
}

}  // namespace progcap::core
