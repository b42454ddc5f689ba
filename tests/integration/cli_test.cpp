// The progcap binary as users run it: exit codes, messages, files, signals.
#include "subprocess.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using progcap::testing::ProcessOptions;
using progcap::testing::ProcessResult;

namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("progcap-cli-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_ / "ro", fs::perms::owner_all, ec);
    fs::remove_all(dir_);
  }

  ProcessOptions opts() const {
    ProcessOptions o;
    o.cwd = dir_.string();
    o.env["PROGCAP_PLUGIN_PATH"] = PROGCAP_TESTKIT_DIR;
    o.env["PROGCAP_PIPELINE_PATH"] = PROGCAP_SOURCE_DIR "/pipelines";
    o.unset_env = {"GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"};
    return o;
  }
  ProcessResult progcap(std::vector<std::string> args, ProcessOptions o) const {
    args.insert(args.begin(), PROGCAP_BINARY);
    return progcap::testing::run(args, o);
  }
  ProcessResult progcap(std::vector<std::string> args) const { return progcap(std::move(args), opts()); }

  fs::path write(const std::string& name, std::string text) const {
    for (size_t p; (p = text.find("@DIR@")) != std::string::npos;) text.replace(p, 5, dir_.string());
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  std::string read(const fs::path& p) const {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::vector<int64_t> ids(const std::string& file) const {
    std::vector<int64_t> out;
    std::ifstream in(dir_ / file);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] != '#') out.push_back(std::stoll(line));
    }
    return out;
  }

  fs::path dir_;
};

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "expected '" << (needle) << "' in:\n" << (haystack)

const char* kCounterToRecorder = R"(name: t
inputs:
  records: {type: int, default: 100}
steps:
  - name: s
    batch_size: 10
    source: {type: counter, options: {records: "${inputs.records}", rows_per_poll: 10, checkpoint_every: 10}}
    sinks: [{type: recorder, options: {path: "@DIR@/rec"}}]
)";

TEST_F(CliTest, VersionPrintsProductAndAbi) {
  auto r = progcap({"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_CONTAINS(r.out, "progcap 0.1.0 (plugin ABI 1.0)");
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(progcap({}).exit_code, 2);
  auto r = progcap({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "unknown command 'frobnicate'");
  r = progcap({"run", "sample-synthetic", "--set", "records"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--set expects NAME=VALUE, got 'records'");
  r = progcap({"run", "sample-synthetic", "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(CliTest, PluginsListShowsLoadedAndRefused) {
  auto o = opts();
  o.env["PROGCAP_PLUGIN_PATH"] = std::string(PROGCAP_TESTKIT_DIR) + ":" + PROGCAP_ABI_FIXTURES "/newer_minor:/nonexistent/dir";
  auto r = progcap({"plugins", "list"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "sink-ndjson");
  EXPECT_CONTAINS(r.out, "bundle-testkit");
  EXPECT_CONTAINS(r.out, "refused");
  EXPECT_CONTAINS(r.out, "was built for plugin ABI 1.1 (manifest); this host supports 1.0");
  EXPECT_CONTAINS(r.out, "warning: plugin directory /nonexistent/dir does not exist");
  r = progcap({"plugins", "list", "--json"}, o);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["host_abi"], "1.0");
  bool saw_refused = false;
  for (const auto& p : j["plugins"]) {
    if (p["status"] == "refused") {
      saw_refused = true;
      EXPECT_TRUE(p["reason"].is_string());
    }
  }
  EXPECT_TRUE(saw_refused);
}

TEST_F(CliTest, PluginsDescribeShowsOptionsAndStreams) {
  auto r = progcap({"plugins", "describe", "ndjson"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_CONTAINS(r.out, "sink ndjson");
  EXPECT_CONTAINS(r.out, "mode (string) default \"replace\"");
  r = progcap({"plugins", "describe", "source-synthetic", "--json"});
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["components"][0]["streams"][0]["name"], "events");
  EXPECT_EQ(j["components"][0]["streams"][0]["primary_key"][0], "id");
  r = progcap({"plugins", "describe", "ndjsno"});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_CONTAINS(r.err, "did you mean 'ndjson'?");
}

TEST_F(CliTest, ValidateReportsFileLineColumn) {
  auto ok = write("ok.yaml", kCounterToRecorder);
  auto bad = write("bad.yaml", R"(name: t
steps:
  - name: s
    source: {type: counter, options: {recrods: 5, rows_per_poll: lots}}
    sinks: [{type: recorder}]
)");
  auto broken = write("broken.yaml", "name: t\nsteps: [\n");
  auto r = progcap({"validate", ok.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_CONTAINS(r.out, "ok.yaml: OK");
  r = progcap({"validate", ok.string(), bad.string(), broken.string()});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_CONTAINS(r.out, bad.string() + ":4:39: source 'counter' has no option 'recrods' (did you mean 'records'?)");
  EXPECT_CONTAINS(r.out, bad.string() + ":4:66: option 'rows_per_poll' expects an integer, found 'lots'");
  EXPECT_CONTAINS(r.out, bad.string() + ":5:20: sink 'recorder' needs option 'path'");
  EXPECT_CONTAINS(r.out, broken.string() + ":3:1: YAML syntax error");
}

TEST_F(CliTest, ConfigErrorsExitSeventyEight) {
  auto r = progcap({"run", "no-such-pipeline"});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_CONTAINS(r.err, "pipeline 'no-such-pipeline' not found");

  auto p = write("env.yaml", R"(name: t
steps:
  - name: s
    source: counter
    sinks: [{type: recorder, options: {path: "${env.PROGCAP_CLI_TEST_MISSING}"}}]
)");
  auto o = opts();
  o.unset_env.push_back("PROGCAP_CLI_TEST_MISSING");
  r = progcap({"run", p.string()}, o);
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_CONTAINS(r.err, "environment variable PROGCAP_CLI_TEST_MISSING is not set");

  auto q = write("req.yaml", R"(name: t
inputs:
  repository_name: {required: true, pattern: '^[^/]+/[^/]+$', description: owner/repo}
steps:
  - name: s
    source: counter
    sinks: [{type: recorder, options: {path: "@DIR@/x"}}]
)");
  r = progcap({"run", q.string()});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_CONTAINS(r.err, "missing required input 'repository_name' (owner/repo); pass --set repository_name=VALUE");
  r = progcap({"run", q.string(), "--set", "repository_name=nope"});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_CONTAINS(r.err, "'nope' does not match the pattern");

  auto u = write("unknown.yaml", R"(name: t
steps:
  - name: s
    source: counter
    sinks: [{type: bigquery}]
)");
  auto o2 = opts();
  o2.env["PROGCAP_PLUGIN_PATH"] = "/nonexistent/plugins";
  r = progcap({"run", u.string()}, o2);
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_CONTAINS(r.err, "unknown source type 'counter'");
  EXPECT_CONTAINS(r.err, "unknown sink type 'bigquery'");
}

TEST_F(CliTest, RunWritesReportLogAndRedactsSecrets) {
  auto p = write("p.yaml", R"(name: t
steps:
  - name: s
    source: {type: counter, options: {records: 20, log_secret: PROGCAP_TEST_TOKEN}}
    sinks: [{type: recorder, options: {path: "@DIR@/rec"}}]
)");
  auto o = opts();
  o.env["PROGCAP_TEST_TOKEN"] = "ghp_sup3rs3cretvalue";
  auto r = progcap({"run", p.string(), "--report", (dir_ / "report.json").string(), "--log-file", (dir_ / "run.log").string(),
                    "--state-dir", (dir_ / "state").string()},
                   o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ids("rec").size(), 20u);
  const std::string log = read(dir_ / "run.log");
  const std::string report = read(dir_ / "report.json");
  EXPECT_CONTAINS(log, "the secret PROGCAP_TEST_TOKEN is ***");
  for (const std::string* text : std::vector<const std::string*>{&log, &report, &r.err, &r.out}) {
    EXPECT_EQ(text->find("ghp_sup3rs3cretvalue"), std::string::npos) << *text;
  }
  auto j = nlohmann::json::parse(report);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["steps"][0]["sinks"][0]["records"]["items"], 20);
  EXPECT_TRUE(fs::exists(dir_ / "state" / "t.state"));
}

TEST_F(CliTest, GithubActionsGroupsAnnotationsAndSummary) {
  auto p = write("p.yaml", R"(name: t
steps:
  - name: first
    source: {type: counter, options: {records: 5}}
    sinks: [{type: recorder, options: {path: "@DIR@/rec"}}]
  - name: second
    source: {type: counter, options: {records: 5, throw_at: 2}}
    sinks: [{type: recorder, options: {path: "@DIR@/rec2"}}]
)");
  auto o = opts();
  o.env["GITHUB_ACTIONS"] = "true";
  o.env["GITHUB_STEP_SUMMARY"] = (dir_ / "summary.md").string();
  o.unset_env.clear();
  auto r = progcap({"run", p.string(), "--state-dir", (dir_ / "state").string()}, o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.out, "::group::progcap step first");
  EXPECT_CONTAINS(r.out, "::endgroup::");
  EXPECT_CONTAINS(r.out, "::error title=progcap step second failed::source 'counter' failed (FATAL): counter exploded at row 2");
  const std::string md = read(dir_ / "summary.md");
  EXPECT_CONTAINS(md, "progcap `t` — failed");
  EXPECT_CONTAINS(md, "| first | ok | 5 | 5 |");
}

TEST_F(CliTest, PluginFailuresAndCrashesHaveDistinctExitCodes) {
  auto crash = write("crash.yaml", R"(name: t
steps:
  - name: s
    source: {type: counter, options: {records: 100, crash_at: 50}}
    sinks: [{type: recorder, options: {path: "@DIR@/rec"}}]
)");
  auto r = progcap({"run", crash.string(), "--state-dir", (dir_ / "state").string()});
  EXPECT_EQ(r.exit_code, 70) << r.err;
  EXPECT_CONTAINS(r.err, "fatal: SIGSEGV in plugin call poll of s/counter (bundle-testkit)");

  auto create = write("create.yaml", R"(name: t
steps:
  - name: s
    source: counter
    sinks: [{type: recorder, options: {path: "@DIR@/rec", fail_create: true}}]
)");
  r = progcap({"run", create.string(), "--state-dir", (dir_ / "state").string()});
  EXPECT_EQ(r.exit_code, 78) << "a sink that rejects its configuration is a configuration error\n" << r.err;
  EXPECT_CONTAINS(r.err, "sink 'recorder' (plugin bundle-testkit) failed to start: recorder cannot open");

  auto write_throw = write("write.yaml", R"(name: t
steps:
  - name: s
    source: counter
    sinks: [{type: recorder, options: {path: "@DIR@/rec", throw_at_batch: 1}}]
)");
  r = progcap({"run", write_throw.string(), "--state-dir", (dir_ / "state").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "recorder threw in write");
}

TEST_F(CliTest, SigtermDrainsSavesCheckpointAndRerunResumes) {
  auto p = write("p.yaml", R"(name: t
steps:
  - name: s
    batch_size: 10
    source: {type: counter, options: {records: 1000000, rows_per_poll: 10, checkpoint_every: 20, delay: 1ms}}
    sinks: [{type: recorder, options: {path: "@DIR@/rec"}}]
)");
  const std::string state = (dir_ / "state").string();
  {
    std::vector<std::string> argv = {PROGCAP_BINARY, "run", p.string(), "--state-dir", state};
    progcap::testing::Process proc(argv, opts());
    for (int i = 0; i < 500 && ids("rec").size() < 200; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    proc.signal(SIGTERM);
    auto r = proc.wait();
    EXPECT_EQ(r.exit_code, 75) << r.err;
    EXPECT_CONTAINS(r.err, "received SIGTERM: stopping sources, draining sinks, saving checkpoints");
  }
  const size_t first = ids("rec").size();
  ASSERT_GE(first, 200u);
  // Resume with fewer total records so the rerun finishes quickly.
  auto q = write("q.yaml", R"(name: t
steps:
  - name: s
    batch_size: 10
    source: {type: counter, options: {records: 5000, rows_per_poll: 10, checkpoint_every: 20}}
    sinks: [{type: recorder, options: {path: "@DIR@/rec"}}]
)");
  auto r = progcap({"run", q.string(), "--state-dir", state});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto all = ids("rec");
  std::set<int64_t> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), 5000u) << "nothing lost across the interruption";
  EXPECT_LT(all.size() - unique.size(), 30u) << "only rows after the last checkpoint are repeated";
}

TEST_F(CliTest, NdjsonOutputIsAtomicAndDryRunLeavesStateAlone) {
  auto r = progcap({"run", "sample-synthetic", "--set", "records=2000", "--set", "out_dir=" + (dir_ / "nd").string(), "--state-dir",
                    (dir_ / "state").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string out = read(dir_ / "nd" / "events.ndjson");
  size_t lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_EQ(lines, 1333u);  // the filter keeps active rows
  auto first = nlohmann::json::parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(first["id"], 1);
  EXPECT_EQ(first["created_at"], "2024-01-01T00:00:01Z");
  EXPECT_TRUE(first["payload"].is_object());
  for (const auto& e : fs::directory_iterator(dir_ / "nd")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "temporary file left behind: " << e.path();
  }

  // A dry run of a pipeline whose sink is a recorder writes NDJSON instead
  // and never advances the saved cursor.
  auto p = write("p.yaml", kCounterToRecorder);
  r = progcap({"run", p.string(), "--dry-run", "--out", (dir_ / "dry").string(), "--state-dir", (dir_ / "state").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "rec"));
  EXPECT_TRUE(fs::exists(dir_ / "dry" / "items.ndjson"));
  EXPECT_EQ(read(dir_ / "state" / "t.state"), "") << "dry runs must not move checkpoints";
}

TEST_F(CliTest, UnwritableOutputDirectoryIsAClearError) {
  fs::create_directories(dir_ / "ro");
  fs::permissions(dir_ / "ro", fs::perms::owner_read | fs::perms::owner_exec);
  if (::geteuid() == 0) {
    // root ignores permission bits; use a path under a regular file instead
    std::ofstream(dir_ / "file") << "x";
  }
  const std::string target = ::geteuid() == 0 ? (dir_ / "file" / "sub").string() : (dir_ / "ro" / "sub").string();
  auto r = progcap({"run", "sample-synthetic", "--set", "out_dir=" + target, "--state-dir", (dir_ / "state").string()});
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_CONTAINS(r.err, "sink 'ndjson' (plugin sink-ndjson) failed to start: cannot create directory " + target);
}

TEST_F(CliTest, DiskFullLeavesNoHalfFile) {
  // RLIMIT_FSIZE makes writes fail with EFBIG, as a full disk would.
  const std::string cmd = std::string("ulimit -f 64; exec ") + PROGCAP_BINARY + " run sample-synthetic --set records=200000 --set out_dir=" +
                          (dir_ / "nd").string() + " --state-dir " + (dir_ / "state").string();
  auto r = progcap::testing::run({"/bin/bash", "-c", cmd}, opts());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_CONTAINS(r.err, "no space left");
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir_ / "nd")) left.push_back(e.path().filename().string());
  EXPECT_TRUE(left.empty()) << "left behind: " << (left.empty() ? "" : left[0]);
}

}  // namespace
