// GitHub capture end to end: the progcap binary, the GitHub source plugins
// and a private fake GitHub per test (REST + GraphQL executed against
// GitHub's schema, rate limits, ETags, App auth, faults). Captured records
// are compared field by field with the fake's ground truth.
#include "services.hpp"
#include "subprocess.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using progcap::testing::FakeGitHub;
using progcap::testing::ProcessOptions;
using progcap::testing::ProcessResult;

namespace {

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "expected '" << (needle) << "' in:\n" << (haystack)

/// Rows of one NDJSON stream, keyed.
using Rows = std::map<std::string, json>;

class GitHubCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("progcap-gh-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  ProcessOptions env(const FakeGitHub& gh) const {
    ProcessOptions o;
    o.cwd = dir_.string();
    o.timeout = std::chrono::minutes(5);
    o.env["GITHUB_API_URL"] = gh.url();
    o.env["GITHUB_TOKEN"] = FakeGitHub::kToken;
    o.env["PROGCAP_PIPELINE_PATH"] = PROGCAP_SOURCE_DIR "/pipelines";
    o.env["PROGCAP_OUT_DIR"] = (dir_ / "out").string();
    o.env["PROGCAP_TARGET"] = "ndjson";  // these tests compare NDJSON with the truth
    o.unset_env = {"PROGCAP_PLUGIN_PATH", "CONTRIBUTOR_APP_ID", "CONTRIBUTOR_APP_PRIVATE_KEY", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"};
    return o;
  }
  ProcessResult progcap(std::vector<std::string> args, const ProcessOptions& o) const {
    args.insert(args.begin(), PROGCAP_BINARY);
    return progcap::testing::run(args, o);
  }
  /// Runs a pipeline with a private state dir and a JSON report.
  ProcessResult run_pipeline(const FakeGitHub& gh, const std::string& name, std::vector<std::string> extra,
                             const std::string& state = "state") {
    std::vector<std::string> args = {"run", name, "--no-progress", "--state-dir", (dir_ / state).string(), "--report",
                                     (dir_ / "report.json").string(), "--dead-letter-dir", (dir_ / "dead").string()};
    for (auto& e : extra) args.push_back(std::move(e));
    return progcap(args, env(gh));
  }
  json report() const {
    std::ifstream in(dir_ / "report.json");
    return json::parse(in);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  /// `progcap run` arguments of a github-historical sync of acme/widgets appending to out/ with
  /// one state directory, so that each run is incremental on the previous one.
  std::vector<std::string> incremental_sync(const std::string& mode = "graphql") const {
    const fs::path p = write("p.yaml", R"(name: inc
steps:
  - name: s
    source:
      type: github-historical
      options: {repository: acme/widgets, mode: )" + mode + R"(, time_range: 0, api_url: "${env.GITHUB_API_URL}", token: "${env.GITHUB_TOKEN}"}
    sinks: [{type: ndjson, options: {directory: out, mode: append}}]
)");
    return {"run", p.string(), "--no-progress", "--state-dir", (dir_ / "state").string()};
  }
  /// The last pull_requests row written to out/ for `number` (null when there is none).
  json last_pr_row(int64_t number) const {
    std::ifstream in(dir_ / "out" / "pull_requests.ndjson");
    json last;
    for (std::string line; std::getline(in, line);) {
      json row = json::parse(line);
      if (row.value("number", int64_t{0}) == number) last = std::move(row);
    }
    return last;
  }

  /// Loads NDJSON rows of `stream` from every file under `sub`, keyed by `key`
  /// (the stream's natural key); duplicates must be identical (at-least-once).
  Rows load(const std::string& sub, const std::string& stream, const std::function<std::string(const json&)>& key) {
    Rows rows;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / sub)) {
      if (e.path().filename() != stream + ".ndjson") continue;
      std::ifstream in(e.path());
      std::string line;
      while (std::getline(in, line)) {
        json j = json::parse(line);
        const std::string k = key(j);
        auto [it, inserted] = rows.emplace(k, j);
        if (!inserted) {

          EXPECT_EQ(it->second, j) << "a repeated " << stream << " row differs: " << k;

        }
      }
    }
    return rows;
  }
  static std::string id_key(const json& j) { return std::to_string(j.at("github_id").get<int64_t>()); }
  static std::string file_key(const json& j) {
    return std::to_string(j.at("pull_request_github_id").get<int64_t>()) + "/" + j.at("filename").get<std::string>();
  }

  fs::path dir_;
};

json user_id(const json& u) { return u.is_null() ? json() : u.at("id"); }
json text_or_null(const json& v) { return v.is_null() || (v.is_string() && v.get<std::string>().empty()) ? json() : v; }

struct Compare {
  bool graphql = false;         // body "" == null; no mergeable_state; REST-only fields
  bool previous_names = true;   // previous_filename expected
  bool file_cap = false;        // REST file listings stop at 3,000
};

/// Compares captured rows with the fake's truth, field by field.
void expect_matches_truth(const json& truth, const Rows& prs, const Rows& files, const Rows& reviews, const Rows& comments,
                          const Compare& cmp, const std::set<int64_t>* only = nullptr, bool children = true) {
  size_t n_prs = 0, n_files = 0, n_reviews = 0, n_comments = 0;
  const json repo_id = truth.contains("repository") ? truth["repository"]["id"] : json();
  for (const auto& pr : truth.at("pull_requests")) {
    const int64_t number = pr.at("number").get<int64_t>();
    if (only != nullptr && only->count(number) == 0) continue;
    ++n_prs;
    const std::string id = std::to_string(pr.at("id").get<int64_t>());
    auto it = prs.find(id);
    ASSERT_NE(it, prs.end()) << "pull request #" << number << " was not captured";
    const json& row = it->second;
    SCOPED_TRACE("PR #" + std::to_string(number));
    EXPECT_EQ(row["number"], pr["number"]);
    EXPECT_EQ(row["title"], pr["title"]);
    EXPECT_EQ(text_or_null(row["body"]), text_or_null(pr["body"]));
    EXPECT_EQ(row["state"], pr["state"]);
    EXPECT_EQ(row["draft"], pr["draft"]);
    EXPECT_EQ(row["merged"], pr["merged"]);
    EXPECT_EQ(row["merged_at"], pr["merged_at"]);
    EXPECT_EQ(row["merged_by_github_id"], user_id(pr["merged_by"]));
    EXPECT_EQ(row["author_github_id"], user_id(pr["user"]));
    EXPECT_EQ(row["base_branch"], pr["base"]["ref"]);
    EXPECT_EQ(row["head_branch"], pr["head"]["ref"]);
    EXPECT_EQ(row["head_sha"], pr["head"]["sha"]);
    EXPECT_EQ(row["additions"], pr["additions"]);
    EXPECT_EQ(row["deletions"], pr["deletions"]);
    EXPECT_EQ(row["changed_files"], pr["changed_files"]);
    EXPECT_EQ(row["commits"], pr["commits"]);
    EXPECT_EQ(row["created_at"], pr["created_at"]);
    EXPECT_EQ(row["updated_at"], pr["updated_at"]);
    EXPECT_EQ(row["closed_at"], pr["closed_at"]);
    EXPECT_EQ(row["html_url"], pr["html_url"]);
    if (!repo_id.is_null()) {
      EXPECT_EQ(row["repository_github_id"], repo_id) << "every row carries its repository, also after a resume";
    }
    const std::string num = std::to_string(number);
    for (const auto& f : truth["files"].value(num, json::array())) {
      if (cmp.file_cap && f.value("_fake_beyond_cap", false)) continue;
      ++n_files;
      auto fit = files.find(id + "/" + f.at("filename").get<std::string>());
      ASSERT_NE(fit, files.end()) << "file " << f["filename"] << " of #" << number << " was not captured";
      EXPECT_EQ(fit->second["status"], f["status"]);
      EXPECT_EQ(fit->second["additions"], f["additions"]);
      EXPECT_EQ(fit->second["deletions"], f["deletions"]);
      EXPECT_EQ(fit->second["changes"], f["changes"]);
      if (cmp.previous_names) {

        EXPECT_EQ(fit->second["previous_filename"], f.value("previous_filename", json()));

      }
    }
    if (!children) continue;
    for (const auto& r : truth["reviews"].value(num, json::array())) {
      if (!r.contains("submitted_at")) continue;  // PENDING reviews are skipped by design
      ++n_reviews;
      auto rit = reviews.find(std::to_string(r.at("id").get<int64_t>()));
      ASSERT_NE(rit, reviews.end()) << "review " << r["id"] << " of #" << number << " was not captured";
      EXPECT_EQ(rit->second["state"], r["state"]);
      EXPECT_EQ(text_or_null(rit->second["body"]), text_or_null(r["body"]));
      EXPECT_EQ(rit->second["submitted_at"], r["submitted_at"]);
      EXPECT_EQ(rit->second["commit_id"], r["commit_id"]);
      EXPECT_EQ(rit->second["author_github_id"], user_id(r["user"]));
      EXPECT_EQ(rit->second["pull_request_number"], number);
    }
    for (const auto& c : truth["review_comments"].value(num, json::array())) {
      ++n_comments;
      auto cit = comments.find(std::to_string(c.at("id").get<int64_t>()));
      ASSERT_NE(cit, comments.end()) << "review comment " << c["id"] << " of #" << number << " was not captured";
      const json& row2 = cit->second;
      EXPECT_EQ(row2["comment_type"], "review_comment");
      EXPECT_EQ(row2["body"], c["body"]);
      EXPECT_EQ(row2["path"], c["path"]);
      EXPECT_EQ(row2["position"], c.value("position", json()));
      EXPECT_EQ(row2["original_position"], c.value("original_position", json()));
      EXPECT_EQ(row2["diff_hunk"], c["diff_hunk"]);
      EXPECT_EQ(row2["commit_id"], c["commit_id"]);
      EXPECT_EQ(row2["original_commit_id"], c["original_commit_id"]);
      EXPECT_EQ(row2["in_reply_to_github_id"], c.value("in_reply_to_id", json()));
      EXPECT_EQ(row2["review_github_id"], c["pull_request_review_id"]);
      EXPECT_EQ(row2["commenter_github_id"], user_id(c["user"]));
      EXPECT_EQ(row2["created_at"], c["created_at"]);
      EXPECT_EQ(row2["updated_at"], c["updated_at"]);
      EXPECT_EQ(row2["pull_request_number"], number);
    }
    for (const auto& c : truth["issue_comments"].value(num, json::array())) {
      ++n_comments;
      auto cit = comments.find(std::to_string(c.at("id").get<int64_t>()));
      ASSERT_NE(cit, comments.end()) << "issue comment " << c["id"] << " of #" << number << " was not captured";
      EXPECT_EQ(cit->second["comment_type"], "issue_comment");
      EXPECT_EQ(cit->second["body"], c["body"]);
      EXPECT_EQ(cit->second["commenter_github_id"], user_id(c["user"]));
      EXPECT_EQ(cit->second["created_at"], c["created_at"]);
      EXPECT_EQ(cit->second["updated_at"], c["updated_at"]);
      EXPECT_EQ(cit->second["html_url"], c["html_url"]);
      EXPECT_EQ(cit->second["pull_request_number"], number);
    }
  }
  // Nothing captured that is not in the truth.
  EXPECT_EQ(prs.size(), n_prs);
  EXPECT_EQ(files.size(), n_files);
  if (children) {
    EXPECT_EQ(reviews.size(), n_reviews);
    EXPECT_EQ(comments.size(), n_comments);
  }
}

TEST_F(GitHubCaptureTest, HistoricalGraphqlCapturesTheRepositoryFieldForField) {
  FakeGitHub gh;
  auto r = run_pipeline(gh, "historical-pr-sync", {"--set", "repository_name=acme/widgets", "--set", "time_range=0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json truth = gh.truth("acme/widgets");
  const std::string out = "out/historical-pr-sync";
  expect_matches_truth(truth, load(out, "pull_requests", id_key), load(out, "pull_request_files", file_key), load(out, "reviews", id_key),
                       load(out, "comments", id_key), Compare{true, false, false});
  // Contributors: every author appears with their current login.
  Rows users = load(out, "contributors", id_key);
  for (const auto& u : truth["users"]) {
    auto it = users.find(std::to_string(u["id"].get<int64_t>()));
    if (it != users.end()) {

      EXPECT_EQ(it->second["username"], u["login"]);

    }
  }
  EXPECT_GT(users.size(), 50u);
  Rows repos = load(out, "repositories", id_key);
  ASSERT_EQ(repos.size(), 1u);
  EXPECT_EQ(repos.begin()->second["full_name"], "acme/widgets");
  EXPECT_EQ(repos.begin()->second["github_id"], truth["repository"]["id"]);
  // Cost: quota units per captured PR.
  const json rep = report();
  const json& gauges = rep["steps"][0]["source"]["gauges"];
  EXPECT_EQ(gauges["prs_captured"], 300);
  const json st = gh.stats();
  const double units = st["requests_total"].get<double>() - st.value("graphql_queries", 0.0) +
                       st["graphql_points"][std::string("token:") + FakeGitHub::kToken].get<double>();
  EXPECT_LE(units / 300.0, 0.1) << "quota units per PR: " << units / 300.0;
  EXPECT_FALSE(rep["http"]["quota"].empty());
}

TEST_F(GitHubCaptureTest, PathologicalRepositoryInGraphqlAndRestModes) {
  FakeGitHub gh;
  const json truth = gh.truth("acme/pathological");
  for (const std::string mode : {"graphql", "rest"}) {
    SCOPED_TRACE("mode " + mode);
    fs::remove_all(dir_ / "out");
    auto r = run_pipeline(gh, "historical-pr-sync",
                          {"--set", "repository_name=acme/pathological", "--set", "time_range=0", "--set", "mode=" + mode}, "state-" + mode);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string out = "out/historical-pr-sync";
    Compare cmp{mode == "graphql", mode == "rest", mode == "rest"};
    expect_matches_truth(truth, load(out, "pull_requests", id_key), load(out, "pull_request_files", file_key), load(out, "reviews", id_key),
                         load(out, "comments", id_key), cmp);
    Rows prs = load(out, "pull_requests", id_key);
    for (const auto& [k, pr] : prs) {
      if (pr["number"] == 4) {

        EXPECT_TRUE(pr["author_github_id"].is_null()) << "ghost author";

      }
      if (pr["number"] == 5) {
        EXPECT_EQ(pr["author_login"], "dependabot[bot]");
      }
      if (pr["number"] == 8) {

        EXPECT_GT(pr["body"].get<std::string>().size(), 900000u);

      }
      if (pr["number"] == 14) {
        EXPECT_CONTAINS(pr["title"].get<std::string>(), "'; DROP TABLE pull_requests; --");
      }
    }
    if (mode == "rest") {

      EXPECT_CONTAINS(r.err, "GitHub lists only the first 3000");

    }
  }
}

TEST_F(GitHubCaptureTest, PerPullRequestPipelinesAndMissingNumbers) {
  FakeGitHub gh;
  const json truth = gh.truth("acme/pathological");
  std::set<int64_t> numbers = {1, 3, 4, 5, 7, 13, 15};
  for (const std::string p : {"capture-pr-details", "capture-pr-reviews", "capture-pr-comments"}) {
    auto r = run_pipeline(gh, p, {"--set", "repository_name=acme/pathological", "--set", "pr_numbers=1,3,4,5,7,13,15,999"});
    EXPECT_EQ(r.exit_code, 3) << p << ": a missing PR is dead-lettered, the rest lands\n" << r.err;
    EXPECT_CONTAINS(r.err, "dead-lettered");
  }
  Rows prs = load("out", "pull_requests", id_key);
  Rows files = load("out/capture-pr-details", "pull_request_files", file_key);
  Rows reviews = load("out/capture-pr-reviews", "reviews", id_key);
  Rows comments = load("out", "comments", id_key);
  expect_matches_truth(truth, prs, files, reviews, comments, Compare{false, true, true}, &numbers);
  std::ifstream dead(fs::directory_iterator(dir_ / "dead")->path());
  std::string line;
  std::getline(dead, line);
  EXPECT_CONTAINS(line, "pull request #999 not found in acme/pathological (GitHub answered 404)");
}

TEST_F(GitHubCaptureTest, AppAuthRenewsInstallationTokensMidRun) {
  FakeGitHub gh({"--dataset", "small", "--installation-token-ttl", "4", "--latency-ms", "40"});
  auto o = env(gh);
  o.unset_env.push_back("GITHUB_TOKEN");
  std::ifstream key(PROGCAP_SOURCE_DIR "/tests/fake-github/keys/test-app.pem");
  std::stringstream ss;
  ss << key.rdbuf();
  o.env["CONTRIBUTOR_APP_ID"] = "12345";
  o.env["CONTRIBUTOR_APP_PRIVATE_KEY"] = ss.str();
  auto p = write("p.yaml", R"(name: app
steps:
  - name: s
    source:
      type: github-historical
      options:
        repository: acme/widgets
        time_range: 0
        mode: per-pr
        api_url: ${env.GITHUB_API_URL}
        app_id: ${env.CONTRIBUTOR_APP_ID}
        app_private_key: ${env.CONTRIBUTOR_APP_PRIVATE_KEY}
        token_refresh_margin: 1s
    sinks: [{type: ndjson, options: {directory: out}}]
)");
  auto r = progcap({"run", p.string(), "--no-progress", "--state-dir", (dir_ / "st").string(), "--report", (dir_ / "report.json").string(),
                    "--log-file", (dir_ / "run.log").string()},
                   o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json rep = report();
  EXPECT_GE(rep["steps"][0]["source"]["metrics"]["installation_tokens"].get<int>(), 2) << "the token must be renewed during the run";
  EXPECT_EQ(load("out", "pull_requests", id_key).size(), 25u);
  // The private key never shows up in logs or reports.
  std::ifstream log(dir_ / "run.log");
  std::stringstream logtext;
  logtext << log.rdbuf();
  for (const std::string* t : std::vector<const std::string*>{&r.err, &r.out}) EXPECT_EQ(t->find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(logtext.str().find("MII"), std::string::npos);
  EXPECT_EQ(logtext.str().find("ghs_"), std::string::npos) << "installation tokens are secrets too";
}

TEST_F(GitHubCaptureTest, QuotaExhaustionWaitsForTheResetAndCompletes) {
  FakeGitHub gh({"--dataset", "small", "--budget", "15", "--reset-seconds", "2"});
  auto r = run_pipeline(gh, "historical-pr-sync",
                        {"--set", "repository_name=acme/widgets", "--set", "time_range=0", "--set", "mode=rest"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "waiting");
  const json rep = report();
  EXPECT_GT(rep["http"]["wait_ms"].get<int64_t>(), 500);
  const json truth = gh.truth("acme/widgets");
  expect_matches_truth(truth, load("out", "pull_requests", id_key), load("out", "pull_request_files", file_key), load("out", "reviews", id_key),
                       load("out", "comments", id_key), Compare{false, true, true});
  EXPECT_EQ(gh.stats().value("rate_limited", 0), 0) << "the governor waits before exhaustion instead of hitting 403s";
}

TEST_F(GitHubCaptureTest, TransientFaultsLoseNothing) {
  FakeGitHub gh({"--dataset", "small"});
  gh.control("POST", "/_fake/faults",
             json::array({{{"kind", "5xx"}, {"status", 502}, {"probability", 0.05}, {"count", 6}},
                          {{"kind", "secondary"}, {"retryAfter", 1}, {"count", 1}, {"match", "pulls/comments"}},
                          {{"kind", "reset"}, {"probability", 0.04}, {"count", 3}},
                          {{"kind", "truncate"}, {"probability", 0.04}, {"count", 3}},
                          {{"kind", "bad-json"}, {"count", 1}, {"match", "graphql"}},
                          {{"kind", "html"}, {"status", 200}, {"count", 1}, {"match", "/repos/acme/widgets$"}},
                          {{"kind", "slow"}, {"ms", 300}, {"count", 2}}}));
  auto r = run_pipeline(gh, "historical-pr-sync", {"--set", "repository_name=acme/widgets", "--set", "time_range=0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json st = gh.stats();
  EXPECT_GE(st["faults_injected"].size(), 4u) << st.dump();
  const json truth = gh.truth("acme/widgets");
  expect_matches_truth(truth, load("out", "pull_requests", id_key), load("out", "pull_request_files", file_key), load("out", "reviews", id_key),
                       load("out", "comments", id_key), Compare{true, false, false});
}

TEST_F(GitHubCaptureTest, APullRequestRetriedMidwayIsCapturedCompletely) {
  // Garbled answers outlast the client's own retries for PR #3's files: the
  // poll fails with RETRY and the next poll must redo #3, not skip to #4.
  FakeGitHub gh({"--dataset", "small"});
  gh.control("POST", "/_fake/faults", json::array({{{"kind", "bad-json"}, {"count", 4}, {"match", "pulls/3/files"}}}));
  auto r = run_pipeline(gh, "capture-pr-details", {"--set", "repository_name=acme/widgets", "--set", "pr_numbers=2,3,4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "retrying");
  std::set<int64_t> numbers = {2, 3, 4};
  const json truth = gh.truth("acme/widgets");
  expect_matches_truth(truth, load("out", "pull_requests", id_key), load("out", "pull_request_files", file_key), Rows(), Rows(),
                       Compare{false, true, true}, &numbers, /*children=*/false);
}

TEST_F(GitHubCaptureTest, MalformedRecordsAreDeadLetteredAndTheRunGoesOn) {
  FakeGitHub gh({"--dataset", "small"});
  gh.control("POST", "/_fake/faults",
             json::array({{{"kind", "missing-field"}, {"field", "number"}, {"count", 1}, {"match", "pulls/3$"}},
                          {{"kind", "wrong-type"}, {"field", "id"}, {"value", "abc"}, {"count", 1}, {"match", "pulls/4$"}}}));
  auto r = run_pipeline(gh, "capture-pr-details", {"--set", "repository_name=acme/widgets", "--set", "pr_numbers=2,3,4,5"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(load("out", "pull_requests", id_key).size(), 2u);
  std::vector<json> dead;
  std::ifstream in(fs::directory_iterator(dir_ / "dead")->path());
  for (std::string line; std::getline(in, line);) dead.push_back(json::parse(line));
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0]["reason"], "pull request JSON from GitHub: field 'number' is missing");
  EXPECT_EQ(dead[1]["reason"], "pull request JSON from GitHub: field 'id' is not an integer (\"abc\")");
  EXPECT_EQ(dead[1]["record"]["number"], 4);
}

TEST_F(GitHubCaptureTest, KilledSyncResumesAndTheUnionEqualsTheTruth) {
  FakeGitHub gh({"--dataset", "bench", "--prs", "1500", "--latency-ms", "30"});
  auto p = write("p.yaml", R"(name: resume
steps:
  - name: s
    batch_size: 200
    source:
      type: github-historical
      options: {repository: bench/big, time_range: 0, api_url: "${env.GITHUB_API_URL}", token: "${env.GITHUB_TOKEN}"}
    sinks: [{type: ndjson, options: {directory: out, mode: append}}]
)");
  const std::string state = (dir_ / "state").string();
  {
    auto o = env(gh);
    progcap::testing::Process proc({PROGCAP_BINARY, "run", p.string(), "--no-progress", "--state-dir", state}, o);
    // Kill hard once a few pages were checkpointed.
    for (int i = 0; i < 600; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream sf(dir_ / "state" / "resume.state");
      std::string s((std::istreambuf_iterator<char>(sf)), std::istreambuf_iterator<char>());
      if (std::count(s.begin(), s.end(), '\n') >= 4) break;
    }
    proc.signal(SIGKILL);
    auto r = proc.wait();
    ASSERT_EQ(r.signal, SIGKILL) << "the run finished before it could be killed; make the dataset bigger";
  }
  auto r = progcap({"run", p.string(), "--no-progress", "--state-dir", state, "--report", (dir_ / "report.json").string()}, env(gh));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "resuming an interrupted graphql sync");
  EXPECT_LT(report()["steps"][0]["source"]["gauges"]["prs_captured"].get<int>(), 1500) << "the rerun must not start over";
  const json truth = gh.truth("bench/big", "&include=repository,pull_requests,files,reviews,review_comments,issue_comments");
  expect_matches_truth(truth, load("out", "pull_requests", id_key), load("out", "pull_request_files", file_key), load("out", "reviews", id_key),
                       load("out", "comments", id_key), Compare{true, false, false});
}

TEST_F(GitHubCaptureTest, UnchangedRepollIsFreeAndChangesAreRecaptured) {
  FakeGitHub gh({"--dataset", "small"});
  const std::vector<std::string> run = incremental_sync();
  ASSERT_EQ(progcap(run, env(gh)).exit_code, 0);
  gh.control("POST", "/_fake/reset-stats");
  ASSERT_EQ(progcap(run, env(gh)).exit_code, 0);
  json st = gh.stats();
  EXPECT_EQ(st["requests_total"], st["not_modified"]) << "an unchanged repository answers only 304s: " << st.dump();
  EXPECT_TRUE(st["graphql_points"].empty() || st["graphql_points"].begin().value() == 0);

  gh.control("POST", "/_fake/mutate", {{"op", "touch_pr"}, {"repo", "acme/widgets"}, {"number", 7}, {"fields", {{"title", "renamed title"}}}});
  gh.control("POST", "/_fake/reset-stats");
  ASSERT_EQ(progcap(run, env(gh)).exit_code, 0);
  st = gh.stats();
  EXPECT_LE(st["requests_total"].get<int>(), 6) << st.dump();
  EXPECT_EQ(last_pr_row(7)["title"], "renamed title");
}

TEST_F(GitHubCaptureTest, APullRequestUpdatedInTheSameSecondAsTheNewestIsNotMissed) {
  // The fake's clock is pinned: every mutation lands in the same second, so the second PR
  // touched ties with the first on updated_at and can sort below it.
  FakeGitHub gh({"--dataset", "small"});
  const std::vector<std::string> run = incremental_sync();
  ASSERT_EQ(progcap(run, env(gh)).exit_code, 0);
  std::vector<json> stamps;
  for (const auto& [number, title] : std::vector<std::pair<int, std::string>>{{20, "first touched"}, {5, "second, same second"}}) {
    const json m = gh.control("POST", "/_fake/mutate",
                              {{"op", "touch_pr"}, {"repo", "acme/widgets"}, {"number", number}, {"fields", {{"title", title}}}});
    stamps.push_back(m["results"]["updated_at"]);
    ASSERT_EQ(progcap(run, env(gh)).exit_code, 0);
    EXPECT_EQ(last_pr_row(number)["title"], title) << m.dump();
  }
  ASSERT_EQ(stamps[0], stamps[1]) << "the case needs both PRs updated in the same second";
}

TEST_F(GitHubCaptureTest, RestIncrementalRefetchesFilesOnlyWhenTheHeadCommitChanged) {
  FakeGitHub gh({"--dataset", "small"});
  const std::vector<std::string> run = incremental_sync("rest");
  ASSERT_EQ(progcap(run, env(gh)).exit_code, 0);
  // #11 only gets a comment (files unchanged); #13 gets a new head commit adding one file.
  gh.control("POST", "/_fake/mutate",
             json::array({{{"op", "add_comment"}, {"repo", "acme/widgets"}, {"number", 11}, {"body", "one more thing"}},
                          {{"op", "push_commit"}, {"repo", "acme/widgets"}, {"number", 13}, {"path", "src/pushed_later.cc"}}}));
  gh.control("POST", "/_fake/reset-stats");
  ASSERT_EQ(progcap(run, env(gh)).exit_code, 0);
  const json st = gh.stats();
  const json& by = st["by_endpoint"];
  EXPECT_EQ(by.value("GET /repos/{owner}/{repo}/pulls", 0), 1) << "the probe is the first listing page: " << st.dump();
  EXPECT_EQ(by.value("GET /repos/{owner}/{repo}/pulls/{number}", 0), 2) << st.dump();
  EXPECT_EQ(by.value("GET /repos/{owner}/{repo}/pulls/{number}/reviews", 0), 2) << st.dump();
  EXPECT_EQ(by.value("GET /repos/{owner}/{repo}/pulls/{number}/files", 0), 1) << "only the pushed PR's files: " << st.dump();

  // The pushed file is captured; the commented PR's files were emitted once, by the first run.
  const json truth = gh.truth("acme/widgets", "&numbers=11-13&include=pull_requests,files");
  std::ifstream in(dir_ / "out" / "pull_request_files.ndjson");
  int pushed = 0;
  size_t files11 = 0;
  std::set<std::string> files13;
  for (std::string line; std::getline(in, line);) {
    const json f = json::parse(line);
    pushed += f["filename"] == "src/pushed_later.cc" ? 1 : 0;
    files11 += f["pull_request_number"] == 11 ? 1 : 0;
    if (f["pull_request_number"] == 13) files13.insert(f["filename"].get<std::string>());
  }
  EXPECT_EQ(pushed, 1);
  EXPECT_EQ(files11, truth["files"]["11"].size()) << "#11's files are not fetched again";
  EXPECT_EQ(files13.size(), truth["files"]["13"].size()) << "#13's captured files are the truth's, the pushed one included";
  const json pr13 = last_pr_row(13);
  EXPECT_EQ(pr13["changed_files"], truth["files"]["13"].size());
  for (const auto& t : truth["pull_requests"]) {
    if (t["number"] == 13) {
      EXPECT_EQ(pr13["commits"], t["commits"]);
    }
  }
}

TEST_F(GitHubCaptureTest, BadInputGetsClearErrors) {
  FakeGitHub gh({"--dataset", "small"});
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--set", "repository_name=not a repo"}, 78, "input 'repository_name' 'not a repo' does not match the pattern"},
      {{"--set", "repository_name=acme/widgets", "--set", "pr_numbers=1,x"}, 78, "input 'pr_numbers' item 'x' does not match"},
      {{"--set", "repository_name=acme/widgets", "--set", "pr_numbers=2,2"}, 78, "input 'pr_numbers' lists '2' more than once"},
      {{"--set", "repository_name=acme/widgets", "--set", "time_range=-3"}, 78, "input 'time_range' must be >= 0, found -3"},
      {{"--set", "repository_name=acme/nope"}, 78, "repository acme/nope not found, or not visible to these credentials"},
      {{"--set", "repository_name=acme/secret"}, 78, "repository acme/secret not found, or not visible to these credentials"},
  };
  for (const auto& c : cases) {
    auto r = run_pipeline(gh, "capture-pr-details", c.args);
    EXPECT_EQ(r.exit_code, c.code) << r.err;
    EXPECT_CONTAINS(r.err, c.message);
  }
  auto o = env(gh);
  o.env["GITHUB_TOKEN"] = "ghp_wrong";
  auto r = progcap({"run", "capture-pr-details", "--set", "repository_name=acme/widgets", "--no-progress", "--state-dir",
                    (dir_ / "s2").string()},
                   o);
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_CONTAINS(r.err, "GitHub rejected the credentials");
  EXPECT_EQ(r.err.find("ghp_wrong"), std::string::npos) << "the token is redacted";
  // A GitHub App key that does not match the App.
  std::ifstream key(PROGCAP_SOURCE_DIR "/tests/fake-github/keys/wrong-app.pem");
  std::stringstream ss;
  ss << key.rdbuf();
  o.unset_env.push_back("GITHUB_TOKEN");
  o.env.erase("GITHUB_TOKEN");
  o.env["CONTRIBUTOR_APP_ID"] = "12345";
  o.env["CONTRIBUTOR_APP_PRIVATE_KEY"] = ss.str();
  r = progcap({"run", "capture-pr-details", "--set", "repository_name=acme/widgets", "--no-progress", "--state-dir", (dir_ / "s3").string()}, o);
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_CONTAINS(r.err, "GitHub rejected the App JWT");
  o.env["CONTRIBUTOR_APP_PRIVATE_KEY"] = "not a key";
  r = progcap({"run", "capture-pr-details", "--set", "repository_name=acme/widgets", "--no-progress", "--state-dir", (dir_ / "s4").string()}, o);
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_CONTAINS(r.err, "is not a PEM private key");
  // No App installation on the repository's owner.
  o.env["CONTRIBUTOR_APP_PRIVATE_KEY"] = [] {
    std::ifstream k(PROGCAP_SOURCE_DIR "/tests/fake-github/keys/test-app.pem");
    std::stringstream s;
    s << k.rdbuf();
    return s.str();
  }();
  r = progcap({"run", "capture-pr-details", "--set", "repository_name=solo-dev/dotfiles", "--no-progress", "--state-dir",
               (dir_ / "s5").string()},
              o);
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_CONTAINS(r.err, "the GitHub App 12345 is not installed on solo-dev/dotfiles");
}

}  // namespace
