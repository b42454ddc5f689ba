// The runtime in-process, with the fault-injecting testkit plugins: fan-out,
// retries, dead letters, ordered checkpoints, backpressure, cancellation,
// timeouts and parallel steps.
#include <progcap/core/exit_codes.hpp>
#include <progcap/core/host_services.hpp>
#include <progcap/core/pipeline.hpp>
#include <progcap/core/runtime.hpp>
#include <progcap/core/state_store.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace progcap::core;

namespace {

class RuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new PluginRegistry(host_api());
    registry_->discover({PROGCAP_PLUGIN_DIR, PROGCAP_TESTKIT_DIR});
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("progcap-rt-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Replaces @DIR@ in the YAML with the test's temp directory.
  std::string yaml(std::string text) const {
    for (size_t p; (p = text.find("@DIR@")) != std::string::npos;) text.replace(p, 5, dir_.string());
    return text;
  }

  RunReport run(const std::string& text, std::shared_ptr<StateStore> state = nullptr,
                const std::function<void(Runner&)>& during = nullptr) {
    pipeline_ = resolve_pipeline(load_pipeline_text(yaml(text), "t.yaml"), *registry_, {});
    RunOptions o;
    o.state_dir = dir_ / "state";
    o.dead_letter_dir = dir_ / "dead";
    o.run_id = "test";
    if (!state) state = std::make_shared<MemoryStateStore>();
    state_ = state;
    Runner runner(pipeline_, o, state);
    if (!during) return runner.run();
    auto fut = std::async(std::launch::async, [&] { return runner.run(); });
    during(runner);
    return fut.get();
  }

  /// Ids written by a recorder sink (ignoring flush markers).
  std::vector<int64_t> ids(const std::string& file) const {
    std::vector<int64_t> out;
    std::ifstream in(dir_ / file);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] != '#') out.push_back(std::stoll(line));
    }
    return out;
  }
  std::string read(const fs::path& p) const {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::vector<nlohmann::json> dead_letters() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(dir_ / "dead" / "t-test.ndjson");
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  static PluginRegistry* registry_;
  fs::path dir_;
  ResolvedPipeline pipeline_;
  std::shared_ptr<StateStore> state_;
};
PluginRegistry* RuntimeTest::registry_ = nullptr;

std::vector<int64_t> range(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

TEST_F(RuntimeTest, DeliversEveryRowToEverySinkInOrder) {
  auto rep = run(R"(name: t
steps:
  - name: s
    batch_size: 64
    source: {type: counter, options: {records: 1000, rows_per_poll: 37, checkpoint_every: 100}}
    sinks:
      - {type: recorder, options: {path: "@DIR@/a"}}
      - {type: recorder, name: second, options: {path: "@DIR@/b"}}
)");
  ASSERT_EQ(rep.exit_code, kExitOk) << rep.steps[0].error;
  EXPECT_EQ(ids("a"), range(1000));
  EXPECT_EQ(ids("b"), range(1000));
  EXPECT_NE(read(dir_ / "a").find("#flush end"), std::string::npos);
  EXPECT_EQ(rep.steps[0].source.records.at("items"), 1000u);
  EXPECT_EQ(rep.steps[0].sinks[1].records.at("items"), 1000u);
  EXPECT_EQ(rep.steps[0].checkpoints_committed, 11u);  // every 100 rows + the final one
  EXPECT_EQ(state_->get("t/s/counter/cursor").value_or(""), "1000");
}

TEST_F(RuntimeTest, RetriesTransientSinkFailures) {
  auto rep = run(R"(name: t
steps:
  - name: s
    retry: {max_attempts: 5, initial_backoff: 1ms, max_backoff: 5ms}
    source: {type: counter, options: {records: 50}}
    sinks: [{type: recorder, options: {path: "@DIR@/a", retry_times: 3}}]
)");
  ASSERT_EQ(rep.exit_code, kExitOk) << rep.steps[0].error;
  EXPECT_EQ(rep.steps[0].sinks[0].retries, 3u);
  EXPECT_EQ(ids("a"), range(50));
}

TEST_F(RuntimeTest, RetriesTransientPrepareFailuresAndGivesUpAfterMaxAttempts) {
  // A sink whose target is restarting fails prepare with IO: retried like a write.
  auto rep = run(R"(name: t
steps:
  - name: s
    retry: {max_attempts: 5, initial_backoff: 1ms, max_backoff: 5ms}
    source: {type: counter, options: {records: 50}}
    sinks: [{type: recorder, options: {path: "@DIR@/a", prepare_io_failures: 2}}]
)");
  ASSERT_EQ(rep.exit_code, kExitOk) << rep.steps[0].error;
  EXPECT_EQ(rep.steps[0].sinks[0].retries, 2u);
  EXPECT_EQ(ids("a"), range(50));

  rep = run(R"(name: t
steps:
  - name: s
    retry: {max_attempts: 3, initial_backoff: 1ms, max_backoff: 2ms}
    source: {type: counter, options: {records: 50}}
    sinks: [{type: recorder, options: {path: "@DIR@/b", prepare_io_failures: 100}}]
)");
  EXPECT_EQ(rep.exit_code, kExitFailed);
  EXPECT_NE(rep.steps[0].error.find("sink 'recorder' gave up after 3 attempts on stream 'items' (prepare): cannot connect"),
            std::string::npos)
      << rep.steps[0].error;
  EXPECT_TRUE(ids("b").empty());
}

TEST_F(RuntimeTest, GivingUpFailsTheStepAndKeepsTheCheckpointBehind) {
  auto rep = run(R"(name: t
steps:
  - name: s
    batch_size: 10
    retry: {max_attempts: 2, initial_backoff: 1ms, max_backoff: 2ms}
    source: {type: counter, options: {records: 100, checkpoint_every: 10}}
    sinks: [{type: recorder, options: {path: "@DIR@/a", retry_times: 100}}]
)");
  EXPECT_EQ(rep.exit_code, kExitFailed);
  EXPECT_EQ(rep.steps[0].status, "failed");
  EXPECT_NE(rep.steps[0].error.find("sink 'recorder' gave up after 2 attempts on stream 'items'"), std::string::npos) << rep.steps[0].error;
  EXPECT_FALSE(state_->get("t/s/counter/cursor").has_value()) << "nothing was acknowledged, so no checkpoint may be saved";
}

TEST_F(RuntimeTest, RejectedRowsAreDeadLetteredAndTheRestLands) {
  auto rep = run(R"(name: t
steps:
  - name: s
    source: {type: counter, options: {records: 100}}
    sinks: [{type: recorder, options: {path: "@DIR@/a", reject_every: 10}}]
)");
  EXPECT_EQ(rep.exit_code, kExitDeadLettered);
  EXPECT_EQ(rep.dead_lettered, 10u);
  EXPECT_EQ(ids("a").size(), 90u);
  auto dl = dead_letters();
  ASSERT_EQ(dl.size(), 10u);
  EXPECT_EQ(dl[1]["record"]["id"], 10);
  EXPECT_EQ(dl[1]["reason"], "id 10 violates check constraint");
  EXPECT_EQ(dl[1]["step"], "s");
  EXPECT_EQ(dl[1]["stream"], "items");
  EXPECT_EQ(dl[1]["record"]["ts"], "1970-01-01T00:00:10Z");
}

TEST_F(RuntimeTest, DataErrorDeadLettersTheWholeBatch) {
  auto rep = run(R"(name: t
max_dead_letters: 100
steps:
  - name: s
    batch_size: 10
    source: {type: counter, options: {records: 30}}
    sinks: [{type: recorder, options: {path: "@DIR@/a", data_error_at_batch: 2}}]
)");
  EXPECT_EQ(rep.exit_code, kExitOk) << "10 dead letters are within max_dead_letters";
  EXPECT_EQ(rep.dead_lettered, 10u);
  EXPECT_EQ(ids("a").size(), 20u);
  EXPECT_EQ(dead_letters()[0]["reason"], "sink 'recorder' rejected the batch: constraint violated in batch 2");
}

TEST_F(RuntimeTest, FatalSinkErrorStopsTheStep) {
  auto rep = run(R"(name: t
steps:
  - name: s
    batch_size: 10
    source: {type: counter, options: {records: 100000, checkpoint_every: 10}}
    sinks: [{type: recorder, options: {path: "@DIR@/a", fatal_at_batch: 3}}]
  - name: after
    source: {type: counter}
    sinks: [{type: recorder, options: {path: "@DIR@/b"}}]
)");
  EXPECT_EQ(rep.exit_code, kExitFailed);
  EXPECT_NE(rep.steps[0].error.find("sink 'recorder' failed on stream 'items' (FATAL): database is read-only"), std::string::npos)
      << rep.steps[0].error;
  EXPECT_EQ(rep.steps[1].status, "skipped");
  EXPECT_EQ(state_->get("t/s/counter/cursor").value_or(""), "20") << "only the two acknowledged batches are checkpointed";
}

TEST_F(RuntimeTest, ExceptionsInPluginsBecomeClearErrors) {
  auto rep = run(R"(name: t
steps:
  - name: s
    source: {type: counter, options: {records: 100, throw_at: 42}}
    sinks: [{type: recorder, options: {path: "@DIR@/a"}}]
)");
  EXPECT_EQ(rep.exit_code, kExitFailed);
  EXPECT_NE(rep.steps[0].error.find("source 'counter' failed (FATAL): counter exploded at row 42"), std::string::npos) << rep.steps[0].error;
  EXPECT_EQ(ids("a"), range(42)) << "rows emitted before the failure are still delivered";

  rep = run(R"(name: t
steps:
  - name: s
    source: {type: counter}
    sinks: [{type: recorder, options: {path: "@DIR@/b", throw_at_batch: 1}}]
)");
  EXPECT_NE(rep.steps[0].error.find("(FATAL): recorder threw in write"), std::string::npos) << rep.steps[0].error;

  rep = run(R"(name: t
steps:
  - name: s
    source: {type: counter, options: {fail_create: true}}
    sinks: [{type: recorder, options: {path: "@DIR@/c"}}]
)");
  EXPECT_NE(rep.steps[0].error.find("source 'counter' (plugin bundle-testkit) failed to start: counter refused to start (fail_create)"),
            std::string::npos)
      << rep.steps[0].error;
}

TEST_F(RuntimeTest, SourceRetriesAndSourceDeadLetters) {
  auto rep = run(R"(name: t
max_dead_letters: 5
steps:
  - name: s
    retry: {max_attempts: 5, initial_backoff: 1ms, max_backoff: 2ms}
    source: {type: counter, options: {records: 20, retry_times: 2, dead_letter_every: 7}}
    sinks: [{type: recorder, options: {path: "@DIR@/a"}}]
)");
  ASSERT_EQ(rep.exit_code, kExitOk) << rep.steps[0].error;
  EXPECT_EQ(rep.steps[0].source.retries, 2u);
  EXPECT_EQ(rep.dead_lettered, 3u);  // rows 0, 7, 14
  EXPECT_EQ(ids("a").size(), 17u);
  EXPECT_EQ(dead_letters()[0]["reason"], "malformed upstream record");
}

TEST_F(RuntimeTest, TransformsAndStreamFilters) {
  auto rep = run(R"(name: t
steps:
  - name: s
    source: {type: counter, options: {records: 100}}
    transforms: [{type: filter, options: {field: id, op: lt, value: "25"}}]
    sinks:
      - {type: recorder, options: {path: "@DIR@/a"}}
      - {type: recorder, name: other, streams: [items], options: {path: "@DIR@/b"}}
)");
  ASSERT_EQ(rep.exit_code, kExitOk) << rep.steps[0].error;
  EXPECT_EQ(ids("a"), range(25));
  EXPECT_EQ(ids("b"), range(25));
  EXPECT_EQ(rep.steps[0].transforms[0].counters.at("dropped"), 75);
}

TEST_F(RuntimeTest, SinkThatRefusesAStreamFailsBeforeWriting) {
  auto rep = run(R"(name: t
steps:
  - name: s
    source: {type: counter}
    sinks: [{type: recorder, options: {path: "@DIR@/a", refuse_stream: items}}]
)");
  EXPECT_EQ(rep.exit_code, kExitConfig) << "a target that cannot take the stream is a configuration problem";
  EXPECT_NE(rep.steps[0].error.find("cannot take stream 'items' (CONFIG): table for stream 'items' has no column 'id'"), std::string::npos)
      << rep.steps[0].error;
  EXPECT_TRUE(ids("a").empty());
}

TEST_F(RuntimeTest, BackpressureBoundsHowFarTheSourceRunsAhead) {
  // A fast and a slow sink share the source: the fast one can never be more
  // than the slow one's queue (plus the batches in flight) ahead.
  std::atomic<size_t> worst{0};
  auto rep = run(R"(name: t
steps:
  - name: s
    batch_size: 10
    queue_capacity: 2
    source: {type: counter, options: {records: 600, rows_per_poll: 10}}
    sinks:
      - {type: recorder, options: {path: "@DIR@/fast"}}
      - {type: recorder, name: slow, options: {path: "@DIR@/slow", slow: 5ms}}
)",
                 nullptr, [&](Runner&) {
                   for (int i = 0; i < 200; ++i) {
                     const size_t f = ids("fast").size();
                     const size_t s = ids("slow").size();
                     if (f > s) worst = std::max<size_t>(worst, f - s);
                     std::this_thread::sleep_for(std::chrono::milliseconds(3));
                   }
                 });
  ASSERT_EQ(rep.exit_code, kExitOk) << rep.steps[0].error;
  EXPECT_GT(worst.load(), 0u) << "the fast sink should have run ahead a little";
  EXPECT_LE(worst.load(), (2u + 3u) * 10u) << "queue capacity 2 + batches in flight, 10 rows each";
}

TEST_F(RuntimeTest, InterruptDrainsAndResumesWithoutLoss) {
  auto state = std::make_shared<FileStateStore>(dir_ / "state", "t");
  const char* p = R"(name: t
steps:
  - name: s
    batch_size: 10
    source: {type: counter, options: {records: 20000, rows_per_poll: 10, checkpoint_every: 50}}
    sinks: [{type: recorder, options: {path: "@DIR@/a", slow: 1ms}}]
)";
  auto rep = run(p, state, [&](Runner& r) {
    while (ids("a").size() < 500) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    r.cancel(StopReason::Signal);
  });
  EXPECT_EQ(rep.exit_code, kExitInterrupted);
  EXPECT_EQ(rep.steps[0].status, "interrupted");
  EXPECT_NE(read(dir_ / "a").find("#flush interrupted"), std::string::npos);
  const int64_t cursor = std::stoll(state->get("t/s/counter/cursor").value());
  auto first = ids("a");
  ASSERT_GE(static_cast<int64_t>(first.size()), cursor) << "every row before the checkpoint must have been written";
  for (int64_t i = 0; i < cursor; ++i) ASSERT_EQ(first[static_cast<size_t>(i)], i);

  // Second run resumes from the cursor and completes: the union is complete
  // and rows are repeated only after the checkpoint (at-least-once).
  rep = run(p, state);
  ASSERT_EQ(rep.exit_code, kExitOk) << rep.steps[0].error;
  auto all = ids("a");
  std::set<int64_t> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), 20000u);
  EXPECT_EQ(*unique.rbegin(), 19999);
  EXPECT_LE(all.size() - unique.size(), first.size() - static_cast<size_t>(cursor));
}

TEST_F(RuntimeTest, PendingSinksHoldCheckpointsUntilTheirFinalFlush) {
  // A sink whose rows become durable only at the end (PENDING) must not let
  // checkpoints advance before that, or a crash would skip rows.
  const char* p = R"(name: t
steps:
  - name: s
    batch_size: 10
    source: {type: counter, options: {records: 100000, rows_per_poll: 10, checkpoint_every: 10}}
    sinks:
      - {type: recorder, options: {path: "@DIR@/durable"}}
      - {type: recorder, name: pending, options: {path: "@DIR@/pending", pending: true, slow: 1ms}}
)";
  auto state = std::make_shared<MemoryStateStore>();
  auto rep = run(p, state, [&](Runner& r) {
    while (ids("pending").size() < 200) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    r.cancel(StopReason::Signal);
  });
  EXPECT_EQ(rep.exit_code, kExitInterrupted);
  EXPECT_FALSE(state->get("t/s/counter/cursor").has_value()) << "interrupted before the pending sink's final flush: nothing commits";
  rep = run(R"(name: t
steps:
  - name: s
    batch_size: 10
    source: {type: counter, options: {records: 300, rows_per_poll: 10, checkpoint_every: 10}}
    sinks: [{type: recorder, options: {path: "@DIR@/p2", pending: true}}]
)");
  ASSERT_EQ(rep.exit_code, kExitOk) << rep.steps[0].error;
  EXPECT_EQ(state_->get("t/s/counter/cursor").value_or(""), "300") << "the completed flush commits the last checkpoint";
  // Waiting for the flush, the first 16 checkpoints are kept; each later one
  // replaced the one before it, so 16 values were held, not 31 (nor one per
  // batch of a run of any length).
  EXPECT_EQ(rep.steps[0].checkpoints_committed, 16u);
  EXPECT_EQ(rep.steps[0].checkpoints_superseded, 15u);
}

TEST_F(RuntimeTest, StepTimeoutInterruptsResumably) {
  auto rep = run(R"(name: t
steps:
  - name: s
    timeout: 300ms
    source: {type: counter, options: {records: 1000000, rows_per_poll: 10, delay: 20ms, checkpoint_every: 10}}
    sinks: [{type: recorder, options: {path: "@DIR@/a"}}]
)");
  EXPECT_EQ(rep.exit_code, kExitInterrupted);
  EXPECT_EQ(rep.steps[0].status, "timed_out");
  EXPECT_GT(ids("a").size(), 0u);
  EXPECT_TRUE(state_->get("t/s/counter/cursor").has_value());
}

TEST_F(RuntimeTest, ParallelStepsRunConcurrently) {
  // Each step's source waits for the other step's sink file: this only
  // completes when both steps run at the same time.
  auto rep = run(R"(name: t
steps:
  - parallel:
      - name: a
        source: {type: counter, options: {records: 10, wait_for_file: "@DIR@/b"}}
        sinks: [{type: recorder, options: {path: "@DIR@/a"}}]
      - name: b
        source: {type: counter, options: {records: 10, wait_for_file: "@DIR@/a"}}
        sinks: [{type: recorder, options: {path: "@DIR@/b"}}]
)");
  ASSERT_EQ(rep.exit_code, kExitOk) << rep.steps[0].error << rep.steps[1].error;
  EXPECT_EQ(ids("a"), range(10));
  EXPECT_EQ(ids("b"), range(10));
}

TEST_F(RuntimeTest, ReportJsonCarriesCounts) {
  auto rep = run(R"(name: t
steps:
  - name: s
    source: {type: counter, options: {records: 10}}
    sinks: [{type: recorder, options: {path: "@DIR@/a", retry_times: 1}}]
)");
  auto j = nlohmann::json::parse(report_to_json(rep));
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["steps"][0]["source"]["records"]["items"], 10);
  EXPECT_EQ(j["steps"][0]["sinks"][0]["records"]["items"], 10);
  EXPECT_EQ(j["steps"][0]["sinks"][0]["retries"], 1);
  EXPECT_EQ(j["steps"][0]["dead_lettered"], 0);
  EXPECT_TRUE(j["steps"][0]["duration_ms"].is_number());
  const std::string md = report_to_markdown(rep);
  EXPECT_NE(md.find("| s | ok | 10 | 10 | 1 | 0 |"), std::string::npos) << md;
}

}  // namespace
