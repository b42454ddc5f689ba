// The job queue end to end, on a real PostgreSQL: `progcap work` processes
// (8 at once) claiming 200 jobs, kill -9 of a worker mid-job, SIGTERM, bulk
// fan-out into 3 types x 4 shards, failing children, dispatch to the fake
// GitHub's workflow_dispatch API (validating the bundled workflows' inputs),
// and the bad-input cases.
#include "postgres.hpp"
#include "services.hpp"
#include "subprocess.hpp"

#include <progcap/core/jobs.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using progcap::testing::FakeGitHub;
using progcap::testing::Process;
using progcap::testing::ProcessOptions;
using progcap::testing::ProcessResult;
using progcap::testing::TestDatabase;
namespace jobs = progcap::core::jobs;

namespace {

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "expected '" << (needle) << "' in:\n" << (haystack)

// The inputs a worker passes to every job's pipeline (jobs.yaml's job types).
const std::string kJobInputs = R"(inputs:
  repository_id: {type: string, default: ""}
  repository_name: {type: string, default: ""}
  pr_numbers: {type: list, default: []}
  time_range: {type: int, default: 30}
  max_items: {type: int, default: 0}
  shard: {type: string, default: ""}
  target: {type: string, default: ""}
)";

// A pipeline that records its rows per job: counter (testkit) -> NDJSON
// appended to $QUEUE_TEST_OUT/<job id>.ndjson, checkpointing every row.
const std::string kMarkPipeline = "name: queue-mark\n" + kJobInputs + R"(steps:
  - name: mark
    batch_size: 1
    batch_timeout: 10ms
    source:
      type: counter
      options: {records: "${env.QUEUE_TEST_RECORDS:-3}", rows_per_poll: 1, checkpoint_every: 1, delay: "${env.QUEUE_TEST_DELAY:-0ms}"}
    sinks: [{type: ndjson, options: {path: "${env.QUEUE_TEST_OUT}/${env.PROGCAP_JOB_ID}.ndjson", mode: append}}]
)";

const std::string kFailPipeline = "name: queue-fail\n" + kJobInputs + R"(steps:
  - name: fail
    retry: {max_attempts: 1}
    source: {type: counter, options: {records: 5, throw_at: 2}}
    sinks: [{type: blackhole}]
)";

class JobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("progcap-queue-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "pipelines");
    fs::create_directories(dir_ / "out");
    std::ofstream(dir_ / "pipelines" / "queue-mark.yaml") << kMarkPipeline;
    std::ofstream(dir_ / "pipelines" / "queue-fail.yaml") << kFailPipeline;
    write_config("100ms");
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void write_config(const std::string& backoff, const std::string& lease = "2s", const std::string& extra = "") {
    std::ofstream(dir_ / "jobs.yaml") << "routing: {realtime_max_time_range_days: 1, realtime_max_pr_numbers: 10, "
                                         "realtime_manual_max_items: 50}\n"
                                         "lanes:\n"
                                         "  realtime: {lease: " << lease << ", max_attempts: 2, retry_backoff: " << backoff << "}\n"
                                         "  bulk: {lease: " << lease << ", max_attempts: 2, retry_backoff: " << backoff << "}\n"
                                         "job_types:\n"
                                         "  mark: {pipeline: queue-mark}\n"
                                         "  mark-a: {pipeline: queue-mark}\n"
                                         "  mark-b: {pipeline: queue-mark}\n"
                                         "  mark-c: {pipeline: queue-mark}\n"
                                         "  failing: {pipeline: queue-fail}\n"
                                         "  noop: {builtin: noop}\n"
                                         "  bulk3: {fan_out: [mark-a, mark-b, mark-c]}\n"
                                         "  mixed: {fan_out: [mark, failing]}\n"
                                      << extra;
  }
  [[nodiscard]] jobs::JobsConfig config() const { return jobs::load_jobs_config(dir_ / "jobs.yaml"); }

  ProcessOptions env(const TestDatabase& db) const {
    ProcessOptions o;
    o.cwd = dir_.string();
    o.timeout = std::chrono::minutes(5);
    o.env["DATABASE_URL"] = db.url();
    o.env["PROGCAP_PIPELINE_PATH"] = (dir_ / "pipelines").string();
    o.env["PROGCAP_STATE_DIR"] = (dir_ / "state").string();
    o.env["QUEUE_TEST_OUT"] = (dir_ / "out").string();
    o.unset_env = {"PROGCAP_PLUGIN_PATH", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_RUN_ID"};
    return o;
  }
  std::vector<std::string> cli(std::vector<std::string> args) const {
    std::vector<std::string> argv = {PROGCAP_BINARY, "--plugin-path", PROGCAP_TESTKIT_DIR};
    for (auto& a : args) argv.push_back(std::move(a));
    argv.insert(argv.end(), {"--jobs-config", (dir_ / "jobs.yaml").string()});
    return argv;
  }
  ProcessResult progcap(std::vector<std::string> args, const ProcessOptions& o) const { return progcap::testing::run(cli(std::move(args)), o); }

  static void add_repository(const TestDatabase& db) {
    db.exec("INSERT INTO repositories (github_id, full_name, owner, name) VALUES (1296269, 'acme/widgets', 'acme', 'widgets')");
  }
  /// Rows written by a job's runs (ids), from its NDJSON file.
  std::vector<int64_t> rows_of(const std::string& job_id) const {
    std::vector<int64_t> ids;
    std::ifstream in(dir_ / "out" / (job_id + ".ndjson"));
    std::string line;
    while (std::getline(in, line)) ids.push_back(json::parse(line).at("id").get<int64_t>());
    return ids;
  }
  static bool wait_until(const std::function<bool()>& pred, std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pred();
  }

  fs::path dir_;
};

jobs::JobRequest mark(int64_t pr, const std::string& type = "mark") {
  jobs::JobRequest r;
  r.job_type = type;
  r.repository = "acme/widgets";
  r.pr_numbers = {pr};
  return r;
}

TEST_F(JobQueueTest, EightWorkerProcessesRunEveryJobExactlyOnce) {
  TestDatabase db;
  add_repository(db);
  const auto cfg = config();
  jobs::Queue q(db.dsn(), cfg);
  std::set<std::string> ids;
  for (int i = 1; i <= 200; ++i) {
    auto r = q.enqueue(mark(i));
    EXPECT_FALSE(r.duplicate);
    EXPECT_EQ(r.route.lane, "realtime");
    ids.insert(r.id);
  }
  ASSERT_EQ(ids.size(), 200u);
  // Enqueueing an identical job again is a no-op while it is pending.
  auto dup = q.enqueue(mark(7));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(ids.count(dup.id), 1u);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM progressive_capture_jobs"), "200");

  std::vector<std::unique_ptr<Process>> workers;
  for (int w = 0; w < 8; ++w) {
    workers.push_back(std::make_unique<Process>(cli({"work", "--lane", "realtime", "--poll", "100ms"}), env(db)));
  }
  const bool done = wait_until([&] { return db.scalar("SELECT count(*) FROM progressive_capture_jobs WHERE status = 'completed'") == "200"; },
                               std::chrono::seconds(240));
  for (auto& w : workers) w->signal(SIGTERM);
  for (auto& w : workers) {
    const ProcessResult r = w->wait();
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  ASSERT_TRUE(done) << db.query("SELECT status, count(*) FROM progressive_capture_jobs GROUP BY status").dump();
  EXPECT_EQ(db.scalar("SELECT count(*) FROM progressive_capture_jobs WHERE attempts <> 1"), "0");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM progressive_capture_jobs WHERE locked_by IS NOT NULL"), "0") << "completed jobs keep no lock";
  for (const auto& id : ids) EXPECT_EQ(rows_of(id), (std::vector<int64_t>{0, 1, 2})) << "job " << id << " ran more or less than once";
  EXPECT_EQ(db.scalar("SELECT min(items_processed) || '/' || max(items_processed) FROM progressive_capture_jobs"), "3/3");
  // The work was shared.
  EXPECT_GE(std::stoi(db.scalar("SELECT count(DISTINCT metadata->>'worker') FROM progressive_capture_jobs")), 4);
}

TEST_F(JobQueueTest, AKilledWorkersJobIsRerunAfterItsLeaseExpiresWithoutLossOrDuplicates) {
  TestDatabase db;
  add_repository(db);
  jobs::Queue q(db.dsn(), config());
  std::vector<std::string> ids;
  for (int i = 1; i <= 4; ++i) ids.push_back(q.enqueue(mark(i)).id);
  auto o = env(db);
  o.env["QUEUE_TEST_RECORDS"] = "20";
  o.env["QUEUE_TEST_DELAY"] = "150ms";
  Process victim(cli({"work", "--lane", "realtime", "--poll", "100ms"}), o);
  // Wait until the victim is inside a job, a few rows in.
  std::string job;
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = db.query("SELECT id FROM progressive_capture_jobs WHERE status = 'processing' AND items_processed >= 2");
        if (r.empty()) return false;
        job = r[0]["id"].get<std::string>();
        return true;
      },
      std::chrono::seconds(60)));
  victim.signal(SIGKILL);
  (void)victim.wait();
  Process survivor(cli({"work", "--lane", "realtime", "--poll", "100ms"}), o);
  const bool done = wait_until([&] { return db.scalar("SELECT count(*) FROM progressive_capture_jobs WHERE status = 'completed'") == "4"; },
                               std::chrono::seconds(120));
  survivor.signal(SIGTERM);
  (void)survivor.wait();
  ASSERT_TRUE(done) << db.query("SELECT id, status, attempts, error FROM progressive_capture_jobs").dump();
  EXPECT_EQ(db.scalar("SELECT attempts FROM progressive_capture_jobs WHERE id = '" + job + "'"), "2")
      << "the killed attempt counts";
  for (const auto& id : ids) {
    std::vector<int64_t> expect(20);
    for (int i = 0; i < 20; ++i) expect[static_cast<size_t>(i)] = i;
    EXPECT_EQ(rows_of(id), expect) << "job " << id << (id == job ? " (the killed one)" : "");
  }
}

TEST_F(JobQueueTest, SigtermReleasesTheRunningJobWithItsCheckpoint) {
  TestDatabase db;
  add_repository(db);
  jobs::Queue q(db.dsn(), config());
  const std::string id = q.enqueue(mark(1)).id;
  auto o = env(db);
  o.env["QUEUE_TEST_RECORDS"] = "40";
  o.env["QUEUE_TEST_DELAY"] = "100ms";
  Process worker(cli({"work", "--lane", "realtime", "--poll", "100ms"}), o);
  ASSERT_TRUE(wait_until([&] { return db.scalar("SELECT items_processed >= 3 FROM progressive_capture_jobs") == "t"; },
                         std::chrono::seconds(60)));
  worker.signal(SIGTERM);
  const ProcessResult r = worker.wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = q.get(id);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, "pending");
  EXPECT_EQ(j->attempts, 0) << "a released job does not use up an attempt";
  EXPECT_CONTAINS(j->current_item, "released");
  const size_t before = rows_of(id).size();
  EXPECT_GE(before, 3u);
  EXPECT_LT(before, 40u);
  // The next worker resumes from the checkpoint: the rows end complete, once each.
  auto r2 = progcap({"work", "--lane", "realtime", "--once"}, o);
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  std::vector<int64_t> expect(40);
  for (int i = 0; i < 40; ++i) expect[static_cast<size_t>(i)] = i;
  EXPECT_EQ(rows_of(id), expect);
}

TEST_F(JobQueueTest, ABulkJobCompletesOnlyWhenAllTwelveChildrenDo) {
  TestDatabase db;
  add_repository(db);
  jobs::Queue q(db.dsn(), config());
  jobs::JobRequest bulk;
  bulk.job_type = "bulk3";
  bulk.repository = "acme/widgets";
  bulk.time_range_days = 30;
  bulk.shards = 4;
  auto r = q.enqueue(bulk);
  ASSERT_EQ(r.children.size(), 12u);
  EXPECT_EQ(r.route.lane, "bulk");
  // plan-matrix: the children as a GitHub Actions matrix.
  auto pm = progcap({"plan-matrix", "--job", r.id}, env(db));
  ASSERT_EQ(pm.exit_code, 0) << pm.err;
  const json matrix = json::parse(pm.out);
  ASSERT_EQ(matrix["include"].size(), 12u);
  std::set<std::string> legs;
  for (const auto& leg : matrix["include"]) legs.insert(leg["type"].get<std::string>() + " " + leg["shard"].get<std::string>());
  EXPECT_EQ(legs.size(), 12u);
  EXPECT_EQ(legs.count("mark-b 3/4"), 1u);

  auto w = progcap({"work", "--lane", "bulk", "--concurrency", "2", "--max-jobs", "11"}, env(db));
  ASSERT_EQ(w.exit_code, 0) << w.err;
  auto parent = q.get(r.id);
  EXPECT_EQ(parent->status, "processing") << "11 of 12 children done";
  EXPECT_EQ(parent->current_item, "11/12 child jobs completed");
  w = progcap({"work", "--lane", "bulk", "--once"}, env(db));
  ASSERT_EQ(w.exit_code, 0) << w.err;
  parent = q.get(r.id);
  EXPECT_EQ(parent->status, "completed");
  EXPECT_EQ(parent->items_processed, 36) << "the sum of the children's 3 rows each";
  EXPECT_FALSE(parent->completed_at.empty());
  // Every child ran its shard.
  for (const auto& c : q.children(r.id)) {
    EXPECT_EQ(c.status, "completed");
    EXPECT_TRUE(c.inputs.contains("shard"));
    EXPECT_EQ(rows_of(c.id).size(), 3u);
  }
}

TEST_F(JobQueueTest, AFailedChildFailsTheParentWithItsErrorAfterRetries) {
  TestDatabase db;
  add_repository(db);
  jobs::Queue q(db.dsn(), config());
  jobs::JobRequest bulk;
  bulk.job_type = "mixed";
  bulk.repository = "acme/widgets";
  bulk.time_range_days = 60;
  auto r = q.enqueue(bulk);
  ASSERT_EQ(r.children.size(), 2u);
  auto w = progcap({"work", "--lane", "bulk", "--once", "--poll", "100ms"}, env(db));
  // The failing child is retried after its backoff (100 ms): run until nothing is left.
  for (int i = 0; i < 10 && q.get(r.id)->status == "processing"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    w = progcap({"work", "--lane", "bulk", "--once"}, env(db));
  }
  auto parent = q.get(r.id);
  EXPECT_EQ(parent->status, "failed");
  EXPECT_CONTAINS(parent->error, "child job failed: failing");
  EXPECT_CONTAINS(parent->error, "counter exploded at row 2");
  for (const auto& c : q.children(r.id)) {
    if (c.job_type == "failing") {
      EXPECT_EQ(c.status, "failed");
      EXPECT_EQ(c.attempts, 2) << "retried once, then failed";
      EXPECT_EQ(c.metadata["errors"].size(), 2u);
    } else {
      EXPECT_EQ(c.status, "completed");
    }
  }
  // jobs retry: every input is kept, the parent goes back to processing.
  auto rr = progcap({"jobs", "retry", r.id}, env(db));
  EXPECT_EQ(rr.exit_code, 0) << rr.err;
  EXPECT_EQ(q.get(r.id)->status, "processing");
  for (const auto& c : q.children(r.id)) {
    if (c.job_type == "failing") {
      EXPECT_EQ(c.status, "pending");
      EXPECT_EQ(c.inputs["time_range"], 60);
    }
  }
}

TEST_F(JobQueueTest, DispatchSendsExactlyTheWorkflowsDeclaredInputsAndTheRunReportsBack) {
  TestDatabase db;
  add_repository(db);
  FakeGitHub gh({"--workflows-dir", PROGCAP_SOURCE_DIR "/packaging/github-actions"});
  const auto bundled = jobs::load_jobs_config(PROGCAP_SOURCE_DIR "/pipelines/jobs/jobs.yaml");
  jobs::Queue q(db.dsn(), bundled);
  jobs::JobRequest hist;
  hist.job_type = "historical-pr-sync";
  hist.repository = "acme/widgets";
  hist.time_range_days = 90;
  auto h = q.enqueue(hist);
  jobs::JobRequest many = mark(0, "pr-details");
  many.pr_numbers.clear();
  for (int i = 1; i <= 12; ++i) many.pr_numbers.push_back(i);
  auto p = q.enqueue(many);
  jobs::JobRequest bulk;
  bulk.job_type = "bulk-capture";
  bulk.repository = "acme/widgets";
  bulk.time_range_days = 30;
  bulk.shards = 2;
  auto b = q.enqueue(bulk);
  jobs::JobRequest quick = mark(5, "pr-details");
  auto rt = q.enqueue(quick);
  ASSERT_EQ(rt.route.lane, "realtime");

  auto o = env(db);
  o.env["GITHUB_API_URL"] = gh.url();
  o.env["GITHUB_TOKEN"] = FakeGitHub::kToken;
  const std::string bundled_file = PROGCAP_SOURCE_DIR "/pipelines/jobs/jobs.yaml";
  auto d = progcap::testing::run({PROGCAP_BINARY, "dispatch", "--repository", "acme/widgets", "--json", "--jobs-config", bundled_file}, o);
  ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
  const json runs = gh.control("GET", "/_fake/runs");
  std::map<std::string, json> by_job;
  for (const auto& run : runs.is_array() ? runs : runs.value("runs", json::array())) by_job[run["inputs"].value("job_id", "")] = run;
  ASSERT_EQ(by_job.size(), 3u) << runs.dump() << "\n" << d.out;
  EXPECT_EQ(by_job.count(rt.id), 0u) << "real-time jobs are not dispatched";
  EXPECT_EQ(by_job.count(b.children[0]), 0u) << "bulk children run in their parent's matrix";
  const json& hr = by_job.at(h.id);
  EXPECT_EQ(hr["inputs"]["repository_name"], "acme/widgets");
  EXPECT_EQ(hr["inputs"]["time_range"], "90");
  EXPECT_EQ(hr["inputs"]["pr_numbers"], "");
  EXPECT_EQ(by_job.at(p.id)["inputs"]["pr_numbers"], "1,2,3,4,5,6,7,8,9,10,11,12");
  EXPECT_EQ(by_job.at(b.id)["inputs"]["shards"], "2");
  EXPECT_EQ(by_job.at(b.id)["inputs"]["capture_types"], "pr-details,reviews,comments");
  for (const auto& [id, run] : by_job) {
    std::set<std::string> sent;
    for (const auto& [k, v] : run["inputs"].items()) sent.insert(k);
    const std::string type = q.get(id)->job_type;
    const auto& declared = bundled.type(type)->inputs;
    EXPECT_EQ(sent, std::set<std::string>(declared.begin(), declared.end())) << type;
  }
  auto hj = q.get(h.id);
  EXPECT_EQ(hj->metadata["dispatch"]["workflow"], "historical-pr-sync.yml");
  EXPECT_EQ(hj->locked_by, "dispatch:historical-pr-sync.yml");
  // A second dispatch does not send the same jobs again while they wait for their runs.
  d = progcap::testing::run({PROGCAP_BINARY, "dispatch", "--repository", "acme/widgets", "--jobs-config", bundled_file}, o);
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_CONTAINS(d.out, "nothing to dispatch");
  // Generic workers leave a dispatched job to its run.
  auto w = progcap::testing::run({PROGCAP_BINARY, "work", "--lane", "bulk", "--once", "--jobs-config", bundled_file}, o);
  EXPECT_EQ(q.get(h.id)->status, "pending");
  // The run claims its job and reports its run id back.
  o.env["GITHUB_RUN_ID"] = std::to_string(by_job.at(h.id)["id"].get<int64_t>());
  o.env["GITHUB_RUN_ATTEMPT"] = "1";
  o.env["GITHUB_REPOSITORY"] = "acme/widgets";
  o.env["GITHUB_SERVER_URL"] = "https://github.com";
  o.env["PROGCAP_TARGET"] = "ndjson";
  o.env["PROGCAP_OUT_DIR"] = (dir_ / "out").string();
  o.env["PROGCAP_PIPELINE_PATH"] = PROGCAP_SOURCE_DIR "/pipelines";
  w = progcap::testing::run(
      {PROGCAP_BINARY, "work", "--job", h.id, "--report", (dir_ / "report.json").string(), "--jobs-config", bundled_file}, o);
  ASSERT_EQ(w.exit_code, 0) << w.err;
  hj = q.get(h.id);
  EXPECT_EQ(hj->status, "completed");
  EXPECT_EQ(hj->workflow_run_id, by_job.at(h.id)["id"].get<int64_t>());
  EXPECT_EQ(hj->workflow_run_url, "https://github.com/acme/widgets/actions/runs/" + o.env["GITHUB_RUN_ID"]);
  EXPECT_GT(hj->items_processed, 0);
  EXPECT_TRUE(fs::exists(dir_ / "out" / "historical-pr-sync" / "pull_requests.ndjson"));
  // The matrix of the dispatched bulk job.
  auto pm = progcap::testing::run({PROGCAP_BINARY, "plan-matrix", "--job", b.id, "--jobs-config", bundled_file}, o);
  ASSERT_EQ(pm.exit_code, 0) << pm.err;
  EXPECT_EQ(json::parse(pm.out)["include"].size(), 6u);
}

TEST_F(JobQueueTest, RefusedDispatchesFailTheJobWithGitHubsMessage) {
  TestDatabase db;
  add_repository(db);
  FakeGitHub gh({"--workflows-dir", PROGCAP_SOURCE_DIR "/packaging/github-actions"});
  write_config("100ms", "2s",
               "  extra-input: {pipeline: queue-mark, workflow: historical-pr-sync.yml, inputs: [repository_name, job_id, surprise]}\n"
               "  no-such-workflow: {pipeline: queue-mark, workflow: does-not-exist.yml, inputs: [repository_name, job_id]}\n");
  jobs::Queue q(db.dsn(), config());
  jobs::JobRequest a = mark(0, "extra-input");
  a.pr_numbers.clear();
  a.time_range_days = 90;
  jobs::JobRequest b = a;
  b.job_type = "no-such-workflow";
  const std::string ida = q.enqueue(a).id;
  const std::string idb = q.enqueue(b).id;
  auto o = env(db);
  o.env["GITHUB_API_URL"] = gh.url();
  o.env["GITHUB_TOKEN"] = FakeGitHub::kToken;
  auto d = progcap({"dispatch", "--repository", "acme/widgets"}, o);
  EXPECT_EQ(d.exit_code, 1) << d.out << d.err;
  auto ja = q.get(ida);
  EXPECT_EQ(ja->status, "failed");
  EXPECT_CONTAINS(ja->error, "refused (422)");
  EXPECT_CONTAINS(ja->error, "Unexpected inputs provided");
  EXPECT_CONTAINS(ja->error, "surprise");
  auto jb = q.get(idb);
  EXPECT_EQ(jb->status, "failed");
  EXPECT_CONTAINS(jb->error, "refused (404)");
  EXPECT_CONTAINS(jb->error, "does the workflow file exist");
  EXPECT_EQ(d.err.find(FakeGitHub::kToken), std::string::npos);
  EXPECT_EQ(d.out.find(FakeGitHub::kToken), std::string::npos);
}

TEST_F(JobQueueTest, BadInputGetsClearErrors) {
  TestDatabase db;
  add_repository(db);
  auto o = env(db);
  auto r = progcap({"enqueue", "nope", "--repository", "acme/widgets"}, o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "unknown job type 'nope'");
  r = progcap({"enqueue", "mark", "--repository", "acme/missing", "--time-range", "3"}, o);
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_CONTAINS(r.err, "repository acme/missing is not in the database");
  r = progcap({"enqueue", "mark", "--repository", "acme/widgets", "--pr-numbers", "1,2", "--time-range", "3"}, o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--pr-numbers and --time-range conflict");
  r = progcap({"enqueue", "mark", "--repository", "acme/widgets", "--pr-numbers", "1,x"}, o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "'x' is not a number");
  // Routing is shown, and stored with the rule.
  r = progcap({"enqueue", "mark", "--repository", "acme/widgets", "--pr-numbers", "4", "--json"}, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json e = json::parse(r.out);
  EXPECT_EQ(e["lane"], "realtime");
  EXPECT_EQ(db.scalar("SELECT metadata->'routing'->>'rule' FROM progressive_capture_jobs WHERE id = '" + e["id"].get<std::string>() + "'"),
            "1 PR number(s) <= 10");
  // Workers pointed at a database without the queue.
  TestDatabase bare(false);
  auto ob = env(bare);
  r = progcap({"work", "--lane", "bulk", "--once"}, ob);
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_CONTAINS(r.err, "run `progcap db migrate`");
  r = progcap({"jobs", "stats"}, ob);
  EXPECT_EQ(r.exit_code, 78) << r.err;
  // Unknown job: show/retry/cancel say so.
  r = progcap({"jobs", "cancel", "00000000-0000-0000-0000-000000000000"}, o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "does not exist");
  // Dispatch without a token.
  auto nt = o;
  nt.unset_env.push_back("GITHUB_TOKEN");
  r = progcap({"dispatch"}, nt);
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_CONTAINS(r.err, "dispatch needs GITHUB_TOKEN");
}

TEST_F(JobQueueTest, StatsCountPerLaneAndStatus) {
  TestDatabase db;
  add_repository(db);
  jobs::Queue q(db.dsn(), config());
  for (int i = 1; i <= 3; ++i) q.enqueue(mark(i, "noop"));
  jobs::JobRequest old = mark(0, "noop");
  old.pr_numbers.clear();
  old.time_range_days = 400;
  q.enqueue(old);
  auto w = progcap({"work", "--lane", "realtime", "--max-jobs", "2"}, env(db));
  ASSERT_EQ(w.exit_code, 0) << w.err;
  auto s = progcap({"jobs", "stats", "--json"}, env(db));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const json st = json::parse(s.out);
  EXPECT_EQ(st["realtime"]["by_status"]["completed"], 2);
  EXPECT_EQ(st["realtime"]["by_status"]["pending"], 1);
  EXPECT_EQ(st["bulk"]["by_status"]["pending"], 1);
  EXPECT_FALSE(st["bulk"]["oldest_pending_age_s"].is_null());
  EXPECT_EQ(st["realtime"]["failure_rate"], 0.0);
  auto text = progcap({"stats"}, env(db));
  EXPECT_CONTAINS(text.out, "realtime: completed=2 pending=1");
}

}  // namespace
