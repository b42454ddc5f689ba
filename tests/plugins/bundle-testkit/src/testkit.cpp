// bundle-testkit: a source and a sink whose failures are dialled in through
// options, for runtime, CLI and crash tests. Never installed.
#include <progcap/sdk/plugin.hpp>

#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <thread>
#include <unistd.h>

namespace progcap::testkit {

const sdk::Stream& items_stream() {
  static const sdk::Stream s = [] {
    sdk::Stream st("items", "numbered test rows");
    st.field("id", sdk::Type::Int64, sdk::kPrimaryKey, "row number").field("label", sdk::Type::String).field("ts", sdk::Type::Timestamp);
    return st;
  }();
  return s;
}

class Counter final : public sdk::Source {
 public:
  static constexpr std::string_view kType = "counter";
  static constexpr std::string_view kDescription = "Emits `records` numbered rows; faults on request.";
  static inline const auto kRecords = sdk::option<int64_t>("records").default_value(100);
  static inline const auto kRowsPerPoll = sdk::option<int64_t>("rows_per_poll").default_value(10).range(1, 1000000);
  static inline const auto kCheckpointEvery = sdk::option<int64_t>("checkpoint_every").default_value(0);
  static inline const auto kThrowAt = sdk::option<int64_t>("throw_at").default_value(-1);
  static inline const auto kCrashAt = sdk::option<int64_t>("crash_at").default_value(-1);
  static inline const auto kRetryTimes = sdk::option<int64_t>("retry_times").default_value(0);
  static inline const auto kDelay = sdk::option<std::chrono::milliseconds>("delay").default_value(std::chrono::milliseconds(0));
  static inline const auto kFailCreate = sdk::option<bool>("fail_create").default_value(false);
  static inline const auto kDeadLetterEvery = sdk::option<int64_t>("dead_letter_every").default_value(0);
  static inline const auto kLogSecret = sdk::option<std::string>("log_secret").describe("env var whose value is logged (redaction test)");
  static inline const auto kLabel = sdk::option<std::string>("label").default_value("row").pattern("[a-z]+");
  static inline const auto kWaitForFile = sdk::option<std::string>("wait_for_file").describe(
      "before the first row, wait (up to 10 s) until this file exists; proves steps run concurrently");
  static sdk::OptionList options() {
    return {kRecords, kRowsPerPoll, kCheckpointEvery, kThrowAt, kCrashAt, kRetryTimes, kDelay, kFailCreate, kDeadLetterEvery, kLogSecret, kLabel,
            kWaitForFile};
  }
  static std::vector<const sdk::Stream*> streams() { return {&items_stream()}; }

  Counter(sdk::Context ctx, const sdk::Config& cfg)
      : sdk::Source(ctx), records_(cfg.get(kRecords)), per_poll_(cfg.get(kRowsPerPoll)), every_(cfg.get(kCheckpointEvery)),
        throw_at_(cfg.get(kThrowAt)), crash_at_(cfg.get(kCrashAt)), retry_times_(cfg.get(kRetryTimes)),
        delay_(cfg.get(kDelay).count()), dead_every_(cfg.get(kDeadLetterEvery)), label_(cfg.get(kLabel)) {
    if (cfg.get(kFailCreate)) throw std::runtime_error("counter refused to start (fail_create)");
    if (auto name = cfg.get_optional(kLogSecret)) {
      auto v = ctx_.secret(*name);
      ctx_.info("the secret {} is {}", *name, v.value_or("<unset>"));
    }
    if (auto c = ctx_.state_get("cursor")) next_ = std::stoll(*c);
    wait_for_ = cfg.get_optional(kWaitForFile).value_or("");
  }

  sdk::Status poll(sdk::Emitter& out) override {
    if (!wait_for_.empty()) {
      for (int i = 0; i < 1000 && ::access(wait_for_.c_str(), F_OK) != 0; ++i) ctx_.wait(10);
      if (::access(wait_for_.c_str(), F_OK) != 0) throw sdk::FatalError("timed out waiting for " + wait_for_);
      wait_for_.clear();
    }
    if (retry_times_ > 0) {
      --retry_times_;
      return sdk::Status::Retry;
    }
    if (next_ >= records_) {
      ctx_.checkpoint("cursor", std::to_string(next_));
      return sdk::Status::Done;
    }
    if (delay_ > 0 && !ctx_.wait(static_cast<uint64_t>(delay_))) return sdk::Status::Done;
    sdk::Row row(3);
    const int64_t end = std::min(records_, next_ + per_poll_);
    for (; next_ < end; ++next_) {
      if (next_ == throw_at_) throw std::runtime_error("counter exploded at row " + std::to_string(next_));
      if (next_ == crash_at_) std::raise(SIGSEGV);
      if (dead_every_ > 0 && next_ % dead_every_ == 0) {
        ctx_.dead_letter("items", "{\"id\":" + std::to_string(next_) + "}", "malformed upstream record");
      } else {
        row.set(0, next_).set(1, std::string_view(label_)).set(2, sdk::Timestamp{next_ * 1000000});
        out.emit(0, row);
      }
      if (every_ > 0 && (next_ + 1) % every_ == 0) ctx_.checkpoint("cursor", std::to_string(next_ + 1));
    }
    ctx_.progress("items", next_, records_);
    return sdk::Status::Ok;
  }

 private:
  int64_t records_, per_poll_, every_, throw_at_, crash_at_, retry_times_, delay_, dead_every_;
  std::string label_;
  std::string wait_for_;
  int64_t next_ = 0;
};

class Recorder final : public sdk::Sink {
 public:
  static constexpr std::string_view kType = "recorder";
  static constexpr std::string_view kDescription = "Appends the ids of every written row to `path` (fsync per batch); faults on request.";
  static inline const auto kPath = sdk::option<std::string>("path").required();
  static inline const auto kRetryTimes = sdk::option<int64_t>("retry_times").default_value(0);
  static inline const auto kRejectEvery = sdk::option<int64_t>("reject_every").default_value(0);
  static inline const auto kDataErrorAt = sdk::option<int64_t>("data_error_at_batch").default_value(-1);
  static inline const auto kFatalAt = sdk::option<int64_t>("fatal_at_batch").default_value(-1);
  static inline const auto kThrowAt = sdk::option<int64_t>("throw_at_batch").default_value(-1);
  static inline const auto kCrashAt = sdk::option<int64_t>("crash_at_batch").default_value(-1);
  static inline const auto kFailCreate = sdk::option<bool>("fail_create").default_value(false);
  static inline const auto kSlow = sdk::option<std::chrono::milliseconds>("slow").default_value(std::chrono::milliseconds(0));
  static inline const auto kRefuseStream = sdk::option<std::string>("refuse_stream");
  static inline const auto kPrepareIoFailures = sdk::option<int64_t>("prepare_io_failures").default_value(0).describe(
      "fail this many prepare calls with an IO error (a target that is restarting) before succeeding");
  static inline const auto kPending = sdk::option<bool>("pending").default_value(false).describe(
      "answer PENDING: rows count as durable only after flush(END_OF_STREAM)");
  static sdk::OptionList options() {
    return {kPath, kRetryTimes, kRejectEvery, kDataErrorAt, kFatalAt, kThrowAt, kCrashAt, kFailCreate, kSlow, kRefuseStream, kPrepareIoFailures, kPending};
  }

  Recorder(sdk::Context ctx, const sdk::Config& cfg)
      : sdk::Sink(ctx), path_(cfg.get(kPath)), retry_times_(cfg.get(kRetryTimes)), reject_every_(cfg.get(kRejectEvery)),
        data_error_at_(cfg.get(kDataErrorAt)), fatal_at_(cfg.get(kFatalAt)), throw_at_(cfg.get(kThrowAt)), crash_at_(cfg.get(kCrashAt)),
        slow_ms_(cfg.get(kSlow).count()), refuse_(cfg.get_optional(kRefuseStream).value_or("")),
        prepare_io_failures_(cfg.get(kPrepareIoFailures)), pending_(cfg.get(kPending)) {
    if (cfg.get(kFailCreate)) throw sdk::ConfigError("recorder cannot open " + path_ + " (fail_create)");
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw sdk::ConfigError("cannot open " + path_);
  }
  ~Recorder() override {
    if (fd_ >= 0) ::close(fd_);
  }

  void prepare(const progcap_schema& schema) override {
    if (prepare_io_failures_ > 0) {
      --prepare_io_failures_;
      throw sdk::IoError("cannot connect: the database system is shutting down");
    }
    if (sdk::from_abi(schema.stream) == refuse_) throw sdk::ConfigError("table for stream '" + refuse_ + "' has no column 'id'");
  }

  sdk::Status write(const sdk::BatchView& batch) override {
    ++batches_;
    if (slow_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms_));
    if (retry_times_ > 0) {
      --retry_times_;
      return sdk::Status::Retry;
    }
    if (batches_ == data_error_at_) throw sdk::DataError("constraint violated in batch " + std::to_string(batches_));
    if (batches_ == fatal_at_) throw sdk::FatalError("database is read-only");
    if (batches_ == throw_at_) throw std::runtime_error("recorder threw in write");
    if (batches_ == crash_at_) std::raise(SIGSEGV);
    std::string lines;
    for (uint64_t r = 0; r < batch.rows(); ++r) {
      const int64_t id = batch.at(r, 0).as_int();
      if (reject_every_ > 0 && id % reject_every_ == 0) {
        reject(batch, r, "id " + std::to_string(id) + " violates check constraint");
        continue;
      }
      lines += std::to_string(id) + "\n";
    }
    if (::write(fd_, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size()) || ::fsync(fd_) != 0) {
      throw sdk::IoError("cannot append to " + path_);
    }
    return pending_ ? sdk::Status::Pending : sdk::Status::Ok;
  }

  void flush(uint32_t flags) override {
    const std::string m = (flags & PROGCAP_FLUSH_END_OF_STREAM) != 0 ? "#flush end\n" : "#flush interrupted\n";
    if (::write(fd_, m.data(), m.size()) < 0) throw sdk::IoError("cannot write flush marker");
  }

 private:
  std::string path_;
  int64_t retry_times_, reject_every_, data_error_at_, fatal_at_, throw_at_, crash_at_, slow_ms_;
  std::string refuse_;
  int64_t prepare_io_failures_ = 0;
  bool pending_ = false;
  int fd_ = -1;
  int64_t batches_ = 0;
};

}  // namespace progcap::testkit

PROGCAP_DECLARE_PLUGIN("bundle-testkit", "9.9.9", "Fault-injecting test components", progcap::testkit::Counter,
                       progcap::testkit::Recorder)
