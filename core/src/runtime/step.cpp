// One pipeline step: source thread -> transforms -> one bounded queue and
// thread per sink. Checkpoints commit only once every sink acknowledged every
// batch emitted before them (at-least-once delivery).
#include "batch.hpp"
#include "checkpoint_tracker.hpp"
#include "run_context.hpp"

#include <progcap/core/host_services.hpp>
#include <progcap/core/logging.hpp>
#include <progcap/core/text.hpp>

#include <progcap/sdk/codec.hpp>

#include <spdlog/spdlog.h>

#include <malloc.h>

#include <cmath>
#include <deque>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

namespace progcap::core {

namespace {

using Clock = std::chrono::steady_clock;

spdlog::level::level_enum to_spd(progcap_log_level l) {
  switch (l) {
    case PROGCAP_LOG_TRACE: return spdlog::level::trace;
    case PROGCAP_LOG_DEBUG: return spdlog::level::debug;
    case PROGCAP_LOG_INFO: return spdlog::level::info;
    case PROGCAP_LOG_WARN: return spdlog::level::warn;
    default: return spdlog::level::err;
  }
}

std::string status_name(progcap_status s) {
  switch (s) {
    case PROGCAP_OK: return "OK";
    case PROGCAP_RETRY: return "RETRY";
    case PROGCAP_DONE: return "DONE";
    case PROGCAP_PENDING: return "PENDING";
    case PROGCAP_ERR_CONFIG: return "CONFIG";
    case PROGCAP_ERR_DATA: return "DATA";
    case PROGCAP_ERR_IO: return "IO";
    case PROGCAP_ERR_NOT_FOUND: return "NOT_FOUND";
    case PROGCAP_ERR_AUTH: return "AUTH";
    case PROGCAP_ERR_CANCELLED: return "CANCELLED";
    default: return "FATAL";
  }
}

/// Exponential backoff with jitter for attempt n (1-based).
uint64_t backoff_ms(const RetryPolicySpec& r, unsigned attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double base = static_cast<double>(r.initial_backoff.count()) * std::pow(r.multiplier, static_cast<double>(attempt - 1));
  base = std::min(base, static_cast<double>(r.max_backoff.count()));
  std::uniform_real_distribution<double> j(1.0 - r.jitter, 1.0 + r.jitter);
  return static_cast<uint64_t>(std::max(0.0, base * j(rng)));
}

struct SinkItem {
  std::shared_ptr<const Batch> batch;
  uint64_t seq = 0;
  bool end = false;
};

class SinkQueue {
 public:
  explicit SinkQueue(size_t cap) : cap_(std::max<size_t>(1, cap)) {}

  /// Blocks while full (backpressure). Returns false when `abort` is set.
  bool push(SinkItem item, const std::atomic<bool>& abort) {
    std::unique_lock<std::mutex> l(mu_);
    while (q_.size() >= cap_) {
      if (abort.load()) return false;
      not_full_.wait_for(l, std::chrono::milliseconds(50));
    }
    q_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  void push_force(SinkItem item) {
    std::lock_guard<std::mutex> l(mu_);
    q_.push_back(std::move(item));
    not_empty_.notify_one();
  }
  SinkItem pop() {
    std::unique_lock<std::mutex> l(mu_);
    not_empty_.wait(l, [&] { return !q_.empty(); });
    SinkItem it = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return it;
  }

 private:
  size_t cap_;
  std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<SinkItem> q_;
};

constexpr size_t kTrimAfterBody = 256 * 1024;
/// glibc keeps freed memory for reuse, but what a multi-megabyte answer
/// leaves behind is fragmented: the next big answer (or the same size in the
/// other arena) no longer fits in it and raises the high-water mark again, so
/// peak RSS crept up with the length of a sync. Handing the free pages back
/// after each large answer keeps it flat; it costs about 1 ms per answer of at
/// least 256 KiB (docs/performance.md), well under the answer's transfer time.
/// It applies to any plugin's HTTP call (sinks' answers are rarely that large)
/// and briefly takes each arena's lock, which other threads wait for.
void release_free_memory() {
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}

}  // namespace

// ---------------------------------------------------------------------------

struct StepRunner::Impl {
  struct Instance;

  /// HostServices for one component instance.
  class Services final : public HostServices {
   public:
    Services(Impl& step, Instance& inst) : step_(step), inst_(inst) {}

    void log(progcap_log_level level, std::string_view msg) override {
      logger()->log(to_spd(level), "[{}] {}", inst_.label, msg);
    }
    bool log_enabled(progcap_log_level level) override { return logger()->should_log(to_spd(level)); }
    progcap_status checkpoint(std::string_view key, std::string_view value) override {
      if (step_.token.cancelled() && step_.run.hard_abort.load()) return PROGCAP_ERR_CANCELLED;
      if (&inst_ != &step_.source) {  // sinks/transforms: plain durable state
        step_.run.state->commit(state_key(key), value);
        return PROGCAP_OK;
      }
      return step_.record_checkpoint(state_key(key), std::string(value));
    }
    std::optional<std::string> state_get(std::string_view key) override { return step_.run.state->get(state_key(key)); }
    progcap_status state_put(std::string_view key, std::string_view value) override {
      step_.run.state->put(state_key(key), value);
      return PROGCAP_OK;
    }
    progcap_status state_delete(std::string_view key) override {
      return step_.run.state->erase(state_key(key)) ? PROGCAP_OK : PROGCAP_ERR_NOT_FOUND;
    }
    void metric_add(std::string_view name, int64_t delta) override {
      std::lock_guard<std::mutex> g(inst_.mu);
      inst_.report.counters[std::string(name)] += delta;
    }
    void metric_set(std::string_view name, double value) override {
      std::lock_guard<std::mutex> g(inst_.mu);
      inst_.report.gauges[std::string(name)] = value;
    }
    std::optional<std::string> secret(std::string_view name) override {
      const char* v = std::getenv(std::string(name).c_str());
      if (v == nullptr) return std::nullopt;
      Redactor::instance().add(v);
      return std::string(v);
    }
    std::optional<std::string> info(std::string_view key) override {
      const RunContext& r = step_.run;
      if (key == "run_id") return r.run_id;
      if (key == "pipeline") return r.pipeline->name;
      if (key == "step") return step_.step.name;
      if (key == "component") return inst_.rc->type;
      if (key == "instance") return inst_.label;
      if (key == "dry_run") return std::string(r.opts.dry_run ? "true" : "false");
      if (key == "state_dir") return r.opts.state_dir.string();
      if (key == "host_version") return r.opts.host_version;
      return std::nullopt;
    }
    progcap_status http(const progcap_http_request& req, progcap_http_response_cb cb, void* user) override {
      auto svc = step_.run.opts.http;
      if (!svc) {
        progcap_http_response resp{sizeof(progcap_http_response), 0, 0, 0, nullptr, {}, {"HTTP service unavailable", 24}};
        cb(user, &resp);
        return PROGCAP_OK;
      }
      http::Call call;
      auto sv = [](progcap_str s) { return s.len == 0 ? std::string() : std::string(s.data, s.len); };
      call.request.method = sv(req.method);
      call.request.url = sv(req.url);
      for (uint32_t i = 0; i < req.header_count; ++i) {
        call.request.headers.emplace_back(sv(req.headers[i].name), sv(req.headers[i].value));
      }
      call.request.body = sv(req.body);
      if (req.timeout_ms != 0) call.request.timeout = std::chrono::milliseconds(req.timeout_ms);
      call.endpoint = sv(req.endpoint);
      call.quota_key = sv(req.quota_key);
      call.mutating = (req.flags & PROGCAP_HTTP_MUTATING) != 0;
      call.graphql = (req.flags & PROGCAP_HTTP_GRAPHQL) != 0;
      call.retry = (req.flags & PROGCAP_HTTP_NO_RETRY) == 0;
      call.max_attempts = req.max_attempts;
      call.max_wait_ms = req.max_wait_ms;
      size_t body_size = 0;
      {
        unsigned attempts = 0;
        http::Response r = svc->execute(
            call, step_.token.flag(), [this](uint64_t ms) { return !step_.token.wait_for(ms); }, &attempts);
        if (step_.token.cancelled() && r.status == 0) return PROGCAP_ERR_CANCELLED;
        std::vector<progcap_http_header> hs;
        hs.reserve(r.headers.size());
        for (const auto& [k, v] : r.headers) hs.push_back({{k.data(), k.size()}, {v.data(), v.size()}});
        progcap_http_response out{sizeof(progcap_http_response), r.status, static_cast<uint32_t>(hs.size()), attempts,
                                  hs.data(), {r.body.data(), r.body.size()}, {r.error.data(), r.error.size()}};
        cb(user, &out);
        body_size = r.body.size();
      }
      if (body_size >= kTrimAfterBody) release_free_memory();
      return PROGCAP_OK;
    }
    void dead_letter(std::string_view stream, std::string_view record, std::string_view reason) override {
      step_.dead_letter(inst_.label, stream, reason, record);
    }
    void progress(std::string_view item, int64_t done, int64_t total) override {
      std::lock_guard<std::mutex> g(step_.live->mu);
      step_.live->item = std::string(item);
      step_.live->done = done;
      step_.live->total = total;
    }
    bool cancelled() override { return step_.token.cancelled(); }
    bool wait(uint64_t ms) override { return step_.token.wait_for(ms); }

   private:
    std::string state_key(std::string_view key) const {
      return step_.run.pipeline->name + "/" + step_.step.name + "/" + inst_.rc->type + "/" + std::string(key);
    }
    Impl& step_;
    Instance& inst_;
  };

  struct Instance {
    const ResolvedComponent* rc = nullptr;
    std::string label;
    std::string call_label;  // stable C string for the crash handler
    void* self = nullptr;
    std::unique_ptr<Services> services;
    progcap_host_ctx ctx{};
    ComponentReport report;
    std::mutex mu;
    std::map<const StreamSchema*, bool> prepared;
    std::vector<std::string> stream_filter;
    uint64_t pending_seq = 0;  // last batch answered PENDING (durable at flush)
  };

  /// Rows a source emits: appended to open per-stream batches.
  class SourceEmitter final : public RowSink {
   public:
    explicit SourceEmitter(Impl& s) : s_(s) {}
    progcap_status emit(uint32_t stream, const progcap_value* values, uint32_t count, std::string& error) override {
      if (s_.token.cancelled()) return PROGCAP_ERR_CANCELLED;
      const auto& streams = s_.source.rc->info->streams;
      if (stream >= streams.size()) {
        error = "stream index " + std::to_string(stream) + " out of range (the source declares " + std::to_string(streams.size()) +
                " streams)";
        return PROGCAP_ERR_DATA;
      }
      auto& open = s_.open[stream];
      if (!open) {
        open = std::make_unique<Batch>(streams[stream].get(), s_.step.batch_size);
        s_.opened_at[stream] = Clock::now();
      }
      if (!open->append(values, count, error)) return PROGCAP_ERR_DATA;
      s_.live->records.fetch_add(1, std::memory_order_relaxed);
      if (open->rows() >= s_.step.batch_size) {
        // Streams are declared parents first: rows emitted earlier into
        // streams 0..stream-1 go out before this batch.
        for (uint32_t i = 0; i <= stream; ++i) s_.seal(i);
      }
      return PROGCAP_OK;
    }

   private:
    Impl& s_;
  };

  /// Rows a transform emits for one input batch.
  class TransformEmitter final : public RowSink {
   public:
    TransformEmitter(const Instance& t, const StreamSchema* input, size_t reserve) : t_(t), input_(input), reserve_(reserve) {}
    progcap_status emit(uint32_t stream, const progcap_value* values, uint32_t count, std::string& error) override {
      const StreamSchema* schema = nullptr;
      if (stream == PROGCAP_STREAM_INPUT) {
        schema = input_;
      } else if (stream < t_.rc->info->streams.size()) {
        schema = t_.rc->info->streams[stream].get();
      } else {
        error = "transform stream index " + std::to_string(stream) + " out of range";
        return PROGCAP_ERR_DATA;
      }
      auto& b = out[schema];
      if (!b) {
        b = std::make_unique<Batch>(schema, reserve_);
        order.push_back(schema);
      }
      return b->append(values, count, error) ? PROGCAP_OK : PROGCAP_ERR_DATA;
    }
    std::unordered_map<const StreamSchema*, std::unique_ptr<Batch>> out;
    std::vector<const StreamSchema*> order;

   private:
    const Instance& t_;
    const StreamSchema* input_;
    size_t reserve_;
  };

  /// Collects rows a sink rejects during one write().
  class Rejector final : public RowRejector {
   public:
    void reject(uint64_t row, std::string_view reason) override { rejected.emplace_back(row, std::string(reason)); }
    std::vector<std::pair<uint64_t, std::string>> rejected;
  };

  Impl(const ResolvedStep& s, RunContext& r, std::shared_ptr<StepLive> l) : step(s), run(r), live(std::move(l)), token(&r.token) {}

  const ResolvedStep& step;
  RunContext& run;
  std::shared_ptr<StepLive> live;
  CancelToken token;
  StepReport report;

  Instance source;
  std::deque<Instance> transforms;  // deque: Services hold references
  std::deque<Instance> sinks;
  std::vector<std::unique_ptr<SinkQueue>> queues;
  std::vector<std::thread> sink_threads;
  std::unique_ptr<CheckpointTracker> tracker;

  std::vector<std::unique_ptr<Batch>> open;
  std::vector<Clock::time_point> opened_at;
  uint64_t seq = 0;

  std::mutex err_mu;
  std::string error;      // first failure
  progcap_status error_status = PROGCAP_OK;
  bool failed = false;
  std::atomic<uint64_t> dead{0};

  // ------------------------------------------------------------------------

  void fail(const std::string& msg, progcap_status status = PROGCAP_ERR_FATAL) {
    {
      std::lock_guard<std::mutex> g(err_mu);
      if (!failed) {
        failed = true;
        error = msg;
        error_status = status;
      }
    }
    logger()->error("step '{}': {}", step.name, msg);
    token.cancel(StopReason::Failure);
  }

  void dead_letter(std::string_view component, std::string_view stream, std::string_view reason, std::string_view record) {
    run.dead_letters->write(step.name, component, stream, reason, record);
    dead.fetch_add(1);
    live->dead.fetch_add(1);
  }

  void dead_letter_rows(const Instance& inst, const Batch& b, const std::vector<std::pair<uint64_t, std::string>>& rows) {
    std::string json;
    for (const auto& [r, reason] : rows) {
      if (r >= b.rows()) continue;
      json.clear();
      sdk::append_json_row(json, *b.schema()->abi(), b.row(r));
      dead_letter(inst.label, b.schema()->name, reason, json);
    }
  }

  bool init_instance(Instance& inst, const ResolvedComponent& rc) {
    inst.rc = &rc;
    inst.label = rc.label;
    inst.call_label = rc.label + " (" + rc.info->plugin_name + ")";
    inst.report.label = rc.label;
    inst.report.type = rc.type;
    inst.report.kind = to_string(rc.kind);
    inst.stream_filter = rc.streams;
    inst.services = std::make_unique<Services>(*this, inst);
    inst.ctx.services = inst.services.get();
    std::vector<progcap_str> names;
    std::vector<progcap_value> values;
    for (const auto& [k, v] : rc.options) {
      names.push_back({k.data(), k.size()});
      values.push_back(v.view());
    }
    progcap_config cfg{sizeof(progcap_config), static_cast<uint32_t>(names.size()), names.data(), values.data()};
    progcap_error err;
    {
      PluginCallScope scope(inst.call_label.c_str(), "create");
      inst.self = rc.info->def.create(&inst.ctx, &cfg, &err);
    }
    if (inst.self == nullptr) {
      fail(std::string(to_string(rc.kind)) + " '" + rc.type + "' (plugin " + rc.info->plugin_name + ") failed to start: " +
           (err.message.empty() ? "create returned NULL without a message" : err.message),
           err.code == PROGCAP_OK ? PROGCAP_ERR_FATAL : err.code);
      return false;
    }
    if (rc.info->def.start != nullptr) {
      progcap_status s = PROGCAP_OK;
      {
        PluginCallScope scope(inst.call_label.c_str(), "start");
        s = rc.info->def.start(inst.self, &err);
      }
      if (s != PROGCAP_OK) {
        fail(std::string(to_string(rc.kind)) + " '" + rc.type + "' failed to start (" + status_name(s) + "): " + err.message, s);
        return false;
      }
    }
    return true;
  }

  void destroy_instance(Instance& inst) {
    if (inst.self == nullptr) return;
    PluginCallScope scope(inst.call_label.c_str(), "destroy");
    inst.rc->info->def.destroy(inst.self);
    inst.self = nullptr;
  }

  // ---- source side --------------------------------------------------------

  /// Hands the open batch of `stream` downstream.
  void seal(uint32_t stream) {
    std::unique_ptr<Batch> b = std::move(open[stream]);
    if (!b || b->rows() == 0) return;
    {
      std::lock_guard<std::mutex> g(source.mu);
      source.report.records[b->schema()->name] += b->rows();
      ++source.report.batches;
    }
    dispatch(std::shared_ptr<const Batch>(std::move(b)), 0);
  }

  void seal_all() {
    for (uint32_t i = 0; i < open.size(); ++i) seal(i);
  }

  void seal_aged() {
    const auto now = Clock::now();
    for (uint32_t i = 0; i < open.size(); ++i) {
      if (open[i] && now - opened_at[i] >= step.batch_timeout) {
        for (uint32_t j = 0; j <= i; ++j) seal(j);  // keep parents first
      }
    }
  }

  /// Runs `b` through transforms from index `t`, then queues it for every sink.
  void dispatch(std::shared_ptr<const Batch> b, size_t t) {
    if (t < transforms.size()) {
      Instance& tr = transforms[t];
      TransformEmitter em(tr, b->schema(), step.batch_size);
      progcap_emitter cem{&em};
      progcap_batch view = b->view(0, nullptr);
      progcap_error err;
      progcap_status s = PROGCAP_OK;
      {
        PluginCallScope scope(tr.call_label.c_str(), "process");
        s = tr.rc->info->def.process(tr.self, &view, &cem, &err);
      }
      {
        std::lock_guard<std::mutex> g(tr.mu);
        tr.report.records[b->schema()->name] += b->rows();
        ++tr.report.batches;
      }
      if (s == PROGCAP_ERR_DATA) {
        std::vector<std::pair<uint64_t, std::string>> all;
        for (uint64_t r = 0; r < b->rows(); ++r) all.emplace_back(r, "transform '" + tr.rc->type + "': " + err.message);
        dead_letter_rows(tr, *b, all);
        return;
      }
      if (s != PROGCAP_OK) {
        fail("transform '" + tr.rc->type + "' failed (" + status_name(s) + "): " + err.message);
        return;
      }
      for (const StreamSchema* sc : em.order) dispatch(std::shared_ptr<const Batch>(std::move(em.out[sc])), t + 1);
      return;
    }
    const uint64_t n = ++seq;
    live->batches.fetch_add(1, std::memory_order_relaxed);
    for (auto& q : queues) {
      if (!q->push(SinkItem{b, n, false}, run.hard_abort)) return;
    }
  }

  progcap_status record_checkpoint(std::string key, std::string value) {
    seal_all();
    tracker->add(seq, std::move(key), std::move(value));
    return PROGCAP_OK;
  }

  // ---- sink side ----------------------------------------------------------

  void sink_loop(size_t idx) {
    Instance& sk = sinks[idx];
    const auto& def = sk.rc->info->def;
    bool sink_failed = false;
    while (true) {
      SinkItem item = queues[idx]->pop();
      if (item.end) {
        const bool completed = !token.cancelled() && !failed;
        progcap_status s = PROGCAP_OK;
        if (!sink_failed && def.flush != nullptr) {
          progcap_error err;
          {
            PluginCallScope scope(sk.call_label.c_str(), "flush");
            s = def.flush(sk.self, completed ? PROGCAP_FLUSH_END_OF_STREAM : PROGCAP_FLUSH_INTERRUPTED, &err);
          }
          if (s != PROGCAP_OK) fail("sink '" + sk.rc->type + "' failed to flush (" + status_name(s) + "): " + err.message, s);
        }
        // Batches answered PENDING became durable with a completed flush.
        if (!sink_failed && completed && s == PROGCAP_OK && sk.pending_seq > 0) tracker->ack(idx, sk.pending_seq);
        return;
      }
      if (sink_failed) continue;  // keep draining so the source never blocks
      const Batch& b = *item.batch;
      if (!sk.stream_filter.empty() &&
          std::find(sk.stream_filter.begin(), sk.stream_filter.end(), b.schema()->name) == sk.stream_filter.end()) {
        if (sk.pending_seq == 0) {
          tracker->ack(idx, item.seq);
        } else {
          sk.pending_seq = item.seq;
        }
        continue;
      }
      if (!sk.prepared[b.schema()] && def.prepare != nullptr && !prepare(sk, b)) {
        sink_failed = true;
        continue;
      }
      sk.prepared[b.schema()] = true;
      if (!deliver(sk, idx, b, item.seq)) sink_failed = true;
    }
  }

  /// After a transient failure (RETRY/IO) of a sink call: counts the retry and
  /// waits out the backoff. Returns false when the call must not be tried again
  /// (attempts used up: the step failed; or a hard abort).
  bool back_off_sink(Instance& sk, const char* call, unsigned attempt, progcap_status s, const std::string& message,
                     const std::string& stream) {
    if (attempt >= step.retry.max_attempts) {
      fail("sink '" + sk.rc->type + "' gave up after " + std::to_string(attempt) + " attempts on stream '" + stream +
           "' (" + call + "): " + (message.empty() ? status_name(s) : message));
      return false;
    }
    {
      std::lock_guard<std::mutex> g(sk.mu);
      ++sk.report.retries;
    }
    const uint64_t wait = backoff_ms(step.retry, attempt);
    logger()->warn("[{}] {} attempt {} failed ({}): {}; retrying in {}", sk.label, call, attempt, status_name(s), message,
                   text::human_duration(static_cast<long long>(wait)));
    // Retries continue while draining after a stop request; only a
    // second signal (hard abort) cuts them short.
    const auto until = Clock::now() + std::chrono::milliseconds(wait);
    while (Clock::now() < until && !run.hard_abort.load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return !run.hard_abort.load();
  }

  /// Prepares a sink for a stream, retrying transient failures (the target
  /// restarting, a dropped connection) like writes. Returns false when the sink failed.
  bool prepare(Instance& sk, const Batch& b) {
    const auto& def = sk.rc->info->def;
    for (unsigned attempt = 1;; ++attempt) {
      progcap_error err;
      progcap_status s = PROGCAP_OK;
      {
        PluginCallScope scope(sk.call_label.c_str(), "prepare");
        s = def.prepare(sk.self, b.schema()->abi(), &err);
      }
      if (s == PROGCAP_OK) return true;
      if (s == PROGCAP_RETRY || s == PROGCAP_ERR_IO) {
        if (back_off_sink(sk, "prepare", attempt, s, err.message, b.schema()->name)) continue;
        return false;
      }
      fail("sink '" + sk.rc->type + "' cannot take stream '" + b.schema()->name + "' (" + status_name(s) + "): " + err.message, s);
      return false;
    }
  }

  /// Writes one batch with retries. Returns false when the sink failed.
  bool deliver(Instance& sk, size_t idx, const Batch& b, uint64_t sequence) {
    const auto& def = sk.rc->info->def;
    for (unsigned attempt = 1;; ++attempt) {
      Rejector rej;
      progcap_batch_ctx bctx{&rej};
      progcap_batch view = b.view(sequence, &bctx);
      progcap_error err;
      progcap_status s = PROGCAP_OK;
      {
        PluginCallScope scope(sk.call_label.c_str(), "write");
        s = def.write(sk.self, &view, &err);
      }
      if (s == PROGCAP_OK || s == PROGCAP_PENDING) {
        if (!rej.rejected.empty()) dead_letter_rows(sk, b, rej.rejected);
        std::lock_guard<std::mutex> g(sk.mu);
        sk.report.records[b.schema()->name] += b.rows() - std::min<uint64_t>(b.rows(), rej.rejected.size());
        sk.report.rejected += rej.rejected.size();
        ++sk.report.batches;
      } else if (s == PROGCAP_ERR_DATA) {
        std::vector<std::pair<uint64_t, std::string>> all;
        const std::string reason = "sink '" + sk.rc->type + "' rejected the batch: " + err.message;
        for (uint64_t r = 0; r < b.rows(); ++r) all.emplace_back(r, reason);
        dead_letter_rows(sk, b, all);
        std::lock_guard<std::mutex> g(sk.mu);
        sk.report.rejected += b.rows();
        ++sk.report.batches;
      } else if (s == PROGCAP_RETRY || s == PROGCAP_ERR_IO) {
        if (back_off_sink(sk, "write", attempt, s, err.message, b.schema()->name)) continue;
        return false;
      } else if (s == PROGCAP_ERR_CANCELLED) {
        return false;
      } else {
        fail("sink '" + sk.rc->type + "' failed on stream '" + b.schema()->name + "' (" + status_name(s) + "): " + err.message, s);
        return false;
      }
      if (s == PROGCAP_PENDING) {
        sk.pending_seq = sequence;  // acknowledged by the final flush
      } else if (sk.pending_seq == 0) {
        tracker->ack(idx, sequence);
      } else {
        sk.pending_seq = sequence;  // an earlier PENDING batch still gates this sink
      }
      return true;
    }
  }

  // ------------------------------------------------------------------------

  StepReport execute() {
    const auto t0 = Clock::now();
    report.name = step.name;
    live->name = step.name;
    live->state.store(1);
    if (step.timeout) token.set_deadline(t0 + *step.timeout);

    bool ok = init_instance(source, step.source);
    for (const auto& t : step.transforms) {
      if (!ok) break;
      transforms.emplace_back();
      ok = init_instance(transforms.back(), t);
    }
    for (const auto& k : step.sinks) {
      if (!ok) break;
      sinks.emplace_back();
      ok = init_instance(sinks.back(), k);
    }
    if (ok) {
      tracker = std::make_unique<CheckpointTracker>(sinks.size(), [this](const std::string& k, const std::string& v) {
        run.state->commit(k, v);
      });
      open.resize(step.source.info->streams.size());
      opened_at.resize(open.size());
      for (size_t i = 0; i < sinks.size(); ++i) queues.push_back(std::make_unique<SinkQueue>(step.queue_capacity));
      for (size_t i = 0; i < sinks.size(); ++i) sink_threads.emplace_back([this, i] { sink_loop(i); });
      run_source();
      for (auto& q : queues) q->push_force(SinkItem{nullptr, 0, true});
      for (auto& th : sink_threads) th.join();
      if (!tracker->error().empty()) fail(tracker->error());
    }
    // Shutdown order: stop -> (threads joined above) -> destroy.
    for (Instance* inst : all_instances()) {
      if (inst->self != nullptr && inst->rc->info->def.stop != nullptr) {
        PluginCallScope scope(inst->call_label.c_str(), "stop");
        inst->rc->info->def.stop(inst->self);
      }
    }
    for (Instance* inst : all_instances()) destroy_instance(*inst);

    report.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    report.dead_lettered = dead.load();
    if (tracker) {
      report.checkpoints_committed = tracker->committed();
      report.checkpoints_pending = tracker->pending();
      report.checkpoints_superseded = tracker->superseded();
    }
    const StopReason why = token.reason();
    if (failed) {
      report.status = "failed";
      report.error = error;
      report.error_status = error_status;
    } else if (why == StopReason::Timeout) {
      report.status = "timed_out";
      report.error = "step timed out after " + text::human_duration(step.timeout ? step.timeout->count() : 0);
    } else if (why == StopReason::Signal) {
      report.status = "interrupted";
      report.error = "interrupted by a signal";
    } else if (token.cancelled()) {
      report.status = "interrupted";
      report.error = "stopped because another step failed";
    } else {
      report.status = "ok";
    }
    report.source = source.report;
    for (auto& t : transforms) report.transforms.push_back(t.report);
    for (auto& k : sinks) report.sinks.push_back(k.report);
    {
      std::lock_guard<std::mutex> g(live->mu);
      report.progress_item = live->item;
      report.progress_done = live->done;
      report.progress_total = live->total;
    }
    live->state.store(2);
    return report;
  }

  std::vector<Instance*> all_instances() {
    std::vector<Instance*> v{&source};
    for (auto& t : transforms) v.push_back(&t);
    for (auto& k : sinks) v.push_back(&k);
    return v;
  }

  void run_source() {
    const auto& def = step.source.info->def;
    SourceEmitter em(*this);
    progcap_emitter cem{&em};
    unsigned retries = 0;
    while (!token.cancelled()) {
      progcap_error err;
      progcap_status s = PROGCAP_OK;
      {
        PluginCallScope scope(source.call_label.c_str(), "poll");
        s = def.poll(source.self, &cem, &err);
      }
      if (s == PROGCAP_OK) {
        retries = 0;
        seal_aged();
        continue;
      }
      if (s == PROGCAP_DONE) break;
      if (s == PROGCAP_RETRY || s == PROGCAP_ERR_IO) {
        ++retries;
        {
          std::lock_guard<std::mutex> g(source.mu);
          ++source.report.retries;
        }
        if (retries >= step.retry.max_attempts) {
          fail("source '" + step.source.type + "' gave up after " + std::to_string(retries) +
               " attempts: " + (err.message.empty() ? status_name(s) : err.message));
          break;
        }
        const uint64_t wait = backoff_ms(step.retry, retries);
        logger()->warn("[{}] poll returned {}: {}; retrying in {}", source.label, status_name(s), err.message,
                       text::human_duration(static_cast<long long>(wait)));
        seal_aged();
        if (token.wait_for(wait)) break;
        continue;
      }
      if (s == PROGCAP_ERR_CANCELLED) break;
      fail("source '" + step.source.type + "' failed (" + status_name(s) + "): " + (err.message.empty() ? "no message" : err.message), s);
      break;
    }
    // Rows emitted before a stop are drained to the sinks (nothing is lost).
    seal_all();
  }
};

StepRunner::StepRunner(const ResolvedStep& step, RunContext& run, std::shared_ptr<StepLive> live)
    : impl_(std::make_unique<Impl>(step, run, std::move(live))) {}
StepRunner::~StepRunner() = default;
StepReport StepRunner::run() { return impl_->execute(); }
CancelToken& StepRunner::token() { return impl_->token; }

}  // namespace progcap::core
