// Shared state of one run (internal to the runtime).
#pragma once

#include <progcap/core/runtime.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace progcap::core {

/// Appends rejected records to <dir>/<pipeline>-<run_id>.ndjson, creating the
/// file on the first record only. Every line is redacted and flushed.
class DeadLetterWriter {
 public:
  DeadLetterWriter(std::filesystem::path dir, std::string pipeline, std::string run_id);
  ~DeadLetterWriter();
  DeadLetterWriter(const DeadLetterWriter&) = delete;
  DeadLetterWriter& operator=(const DeadLetterWriter&) = delete;

  /// `record_json` must be a JSON value (object); `reason` is free text.
  void write(std::string_view step, std::string_view component, std::string_view stream, std::string_view reason,
             std::string_view record_json);
  [[nodiscard]] uint64_t count() const noexcept { return count_.load(); }
  [[nodiscard]] std::string path() const;
  void close();

 private:
  std::filesystem::path dir_;
  std::string pipeline_;
  std::string run_id_;
  mutable std::mutex mu_;
  std::FILE* file_ = nullptr;
  std::filesystem::path path_;
  std::atomic<uint64_t> count_{0};
};

/// Live counters of a step, read by the progress line.
struct StepLive {
  std::string name;
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> dead{0};
  std::atomic<int> state{0};  // 0 pending, 1 running, 2 finished
  std::mutex mu;
  std::string item;
  int64_t done = 0;
  int64_t total = -1;
};

struct RunContext {
  const ResolvedPipeline* pipeline = nullptr;
  RunOptions opts;
  std::shared_ptr<StateStore> state;
  CancelToken token;
  std::atomic<bool> hard_abort{false};
  std::unique_ptr<DeadLetterWriter> dead_letters;
  std::string run_id;
};

class StepRunner {
 public:
  StepRunner(const ResolvedStep& step, RunContext& run, std::shared_ptr<StepLive> live);
  ~StepRunner();
  StepRunner(const StepRunner&) = delete;
  StepRunner& operator=(const StepRunner&) = delete;

  StepReport run();
  CancelToken& token();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace progcap::core
