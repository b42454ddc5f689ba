// source-synthetic: a deterministic generator of typed records. It exercises
// every value type, checkpoints its cursor and resumes from it, so it serves
// the offline demo, runtime tests and the throughput benchmark.
#pragma once

#include <progcap/sdk/component.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace progcap::plugins::synthetic {

class SyntheticSource final : public sdk::Source {
 public:
  static constexpr std::string_view kType = "synthetic";
  static constexpr std::string_view kDescription =
      "Generates `records` deterministic rows (seeded) into the stream `events`, checkpointing its cursor every "
      "`checkpoint_every` rows so an interrupted run resumes where it stopped.";

  static inline const auto kRecords = sdk::option<int64_t>("records").default_value(1000).range(0, INT64_MAX).describe(
      "how many rows to generate in total");
  static inline const auto kSeed = sdk::option<int64_t>("seed").default_value(42).describe("random seed");
  static inline const auto kRowsPerPoll =
      sdk::option<int64_t>("rows_per_poll").default_value(1000).range(1, 1000000).describe("rows emitted per poll call");
  static inline const auto kCheckpointEvery = sdk::option<int64_t>("checkpoint_every").default_value(10000).range(0, INT64_MAX).describe(
      "commit the cursor every N rows (0 = only at the end)");
  static inline const auto kResume = sdk::option<bool>("resume").default_value(true).describe(
      "continue from the saved cursor; false starts from 0");
  static inline const auto kDelay = sdk::option<std::chrono::milliseconds>("delay").default_value(std::chrono::milliseconds(0)).describe(
      "pause between polls (to demo progress and interruption)");

  static sdk::OptionList options() { return {kRecords, kSeed, kRowsPerPoll, kCheckpointEvery, kResume, kDelay}; }
  static std::vector<const sdk::Stream*> streams();

  enum Field : uint32_t { kId, kName, kValue, kActive, kCreatedAt, kPayload, kNote, kFieldCount };

  SyntheticSource(sdk::Context ctx, const sdk::Config& cfg);
  void start() override;
  sdk::Status poll(sdk::Emitter& out) override;

 private:
  int64_t records_;
  uint64_t seed_;
  int64_t rows_per_poll_;
  int64_t checkpoint_every_;
  bool resume_;
  int64_t delay_ms_;
  int64_t next_ = 0;  // next id to emit
  int64_t since_checkpoint_ = 0;
  sdk::Row row_{kFieldCount};
  std::string name_;
  std::string payload_;
};

}  // namespace progcap::plugins::synthetic
