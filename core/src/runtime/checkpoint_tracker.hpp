// Orders checkpoint commits behind the sinks' acknowledgements (internal to
// the runtime; a header of its own so that it is unit-tested directly).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace progcap::core {

/// Commits checkpoints in order once every sink acknowledged their batches.
class CheckpointTracker {
 public:
  static constexpr size_t kCoalesceFrom = 16;
  using CommitFn = std::function<void(const std::string&, const std::string&)>;
  CheckpointTracker(size_t sinks, CommitFn commit) : acked_(sinks, 0), commit_(std::move(commit)) {}

  /// Checkpoints wait here until every sink acknowledged the rows before
  /// them. With kCoalesceFrom or more values waiting (of any keys: a sink that
  /// acknowledges only at its final flush, or one far behind), a checkpoint
  /// whose key is that of the last waiting value replaces it, taking its
  /// sequence number. The skipped value is a state in between two that do get
  /// committed, so every committed state is still one the source went
  /// through, and never before its rows are acknowledged. A cursor kept under
  /// one key thus holds a bounded number of values for a run of any length;
  /// distinct keys (one per pull request) each wait for their own commit.
  void add(uint64_t seq, std::string key, std::string value) {
    std::lock_guard<std::mutex> g(mu_);
    if (pending_.size() >= kCoalesceFrom && pending_.back().key == key) {
      pending_.back().seq = seq;
      pending_.back().value = std::move(value);
      ++superseded_;
    } else {
      pending_.push_back(Pending{seq, std::move(key), std::move(value)});
    }
    drain_locked();
  }
  void ack(size_t sink, uint64_t seq) {
    std::lock_guard<std::mutex> g(mu_);
    acked_[sink] = std::max(acked_[sink], seq);
    drain_locked();
  }
  uint64_t committed() const {
    std::lock_guard<std::mutex> g(mu_);
    return committed_;
  }
  size_t pending() const {
    std::lock_guard<std::mutex> g(mu_);
    return pending_.size();
  }
  uint64_t superseded() const {
    std::lock_guard<std::mutex> g(mu_);
    return superseded_;
  }
  std::string error() const {
    std::lock_guard<std::mutex> g(mu_);
    return error_;
  }

 private:
  struct Pending {
    uint64_t seq;
    std::string key;
    std::string value;
  };
  void drain_locked() {
    uint64_t low = UINT64_MAX;
    for (uint64_t a : acked_) low = std::min(low, a);
    while (!pending_.empty() && pending_.front().seq <= low && error_.empty()) {
      try {
        commit_(pending_.front().key, pending_.front().value);
        ++committed_;
      } catch (const std::exception& e) {
        error_ = std::string("cannot save checkpoint: ") + e.what();
        return;
      }
      pending_.pop_front();
    }
  }

  mutable std::mutex mu_;
  std::vector<uint64_t> acked_;
  std::deque<Pending> pending_;
  CommitFn commit_;
  uint64_t committed_ = 0;
  uint64_t superseded_ = 0;
  std::string error_;
};

}  // namespace progcap::core
