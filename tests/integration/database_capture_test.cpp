// Capture into the database end to end: the progcap binary runs the bundled
// pipelines against a private fake GitHub and writes through sink-postgres
// (a real PostgreSQL) and sink-supabase-rest (the PostgREST-protocol server
// over another real database). The two databases must be identical, equal to
// the NDJSON export of the same capture and to the fake's truth; reruns change
// nothing; faults (server restart, PostgREST bursts, auth, kill -9) lose and
// duplicate nothing.
#include "postgres.hpp"
#include "services.hpp"
#include "subprocess.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using progcap::testing::FakeGitHub;
using progcap::testing::FakePostgrest;
using progcap::testing::PgServer;
using progcap::testing::ProcessOptions;
using progcap::testing::ProcessResult;
using progcap::testing::TestDatabase;

namespace {

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "expected '" << (needle) << "' in:\n" << (haystack)

/// Every table as natural keys (UUID foreign keys mapped back to GitHub ids),
/// without the columns that record *when* progcap wrote (last_synced_at, …).
json canonical(const TestDatabase& db) {
  json out;
  out["repositories"] = db.query(
      "SELECT github_id, full_name, owner, name, description, homepage, language, stargazers_count, watchers_count, "
      "forks_count, open_issues_count, size, default_branch, is_fork, is_archived, is_private, has_issues, has_wiki, license, "
      "topics, github_created_at, github_updated_at, github_pushed_at FROM repositories ORDER BY github_id");
  out["contributors"] = db.query(
      "SELECT github_id, username, display_name, avatar_url, profile_url, is_bot FROM contributors ORDER BY github_id");
  out["pull_requests"] = db.query(
      "SELECT p.github_id, r.github_id AS repo, p.repository_github_id, p.repository_full_name, p.number, p.title, p.body, "
      "p.state, a.github_id AS author, p.author_github_id, p.base_branch, p.head_branch, p.draft, p.mergeable, "
      "p.mergeable_state, p.merged, m.github_id AS merged_by, p.created_at, p.updated_at, p.merged_at, p.closed_at, "
      "p.additions, p.deletions, p.changed_files, p.commits, p.html_url, p.diff_url, p.patch_url "
      "FROM pull_requests p LEFT JOIN repositories r ON r.id = p.repository_id LEFT JOIN contributors a ON a.id = p.author_id "
      "LEFT JOIN contributors m ON m.id = p.merged_by_id ORDER BY p.github_id");
  out["pull_request_files"] = db.query(
      "SELECT p.github_id AS pr, f.filename, r.github_id AS repo, f.status, f.additions, f.deletions, f.changes, "
      "f.previous_filename, f.patch FROM pull_request_files f JOIN pull_requests p ON p.id = f.pull_request_id "
      "LEFT JOIN repositories r ON r.id = f.repository_id ORDER BY 1, 2");
  out["reviews"] = db.query(
      "SELECT rv.github_id, p.github_id AS pr, r.github_id AS repo, a.github_id AS author, rv.state, rv.body, rv.submitted_at, "
      "rv.commit_id FROM reviews rv JOIN pull_requests p ON p.id = rv.pull_request_id LEFT JOIN repositories r ON "
      "r.id = rv.repository_id LEFT JOIN contributors a ON a.id = rv.author_id ORDER BY rv.github_id");
  out["comments"] = db.query(
      "SELECT c.github_id, p.github_id AS pr, r.github_id AS repo, u.github_id AS commenter, c.comment_type, c.body, "
      "c.created_at, c.updated_at, parent.github_id AS in_reply_to, c.position, c.original_position, c.diff_hunk, c.path, "
      "c.commit_id, c.original_commit_id FROM comments c LEFT JOIN pull_requests p ON p.id = c.pull_request_id "
      "LEFT JOIN repositories r ON r.id = c.repository_id LEFT JOIN contributors u ON u.id = c.commenter_id "
      "LEFT JOIN comments parent ON parent.id = c.in_reply_to_id ORDER BY c.github_id");
  return out;
}

/// "2026-11-28T10:00:00+00:00" (PostgreSQL) and "2026-11-28T10:00:00Z" (NDJSON) are the same instant.
json norm_time(const json& v) {
  if (!v.is_string()) return v;
  std::string s = v.get<std::string>();
  if (s.size() > 6 && s.compare(s.size() - 6, 6, "+00:00") == 0) s = s.substr(0, s.size() - 6) + "Z";
  return s;
}

/// Compares two canonical dumps table by table, reporting the first differing row only.
::testing::AssertionResult same_tables(const json& a, const json& b) {
  for (const auto& [table, rows] : a.items()) {
    const json& other = b.contains(table) ? b[table] : json::array();
    if (rows.size() != other.size()) {
      return ::testing::AssertionFailure() << "table " << table << ": " << rows.size() << " vs " << other.size() << " rows";
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] != other[i]) {
        return ::testing::AssertionFailure() << "table " << table << " row " << i << ":\n  " << rows[i].dump().substr(0, 600)
                                             << "\n  " << other[i].dump().substr(0, 600);
      }
    }
  }
  return ::testing::AssertionSuccess();
}

class DatabaseCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("progcap-db-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  ProcessOptions env(const FakeGitHub& gh, const std::string& target) const {
    ProcessOptions o;
    o.cwd = dir_.string();
    o.timeout = std::chrono::minutes(10);
    o.env["GITHUB_API_URL"] = gh.url();
    o.env["GITHUB_TOKEN"] = FakeGitHub::kToken;
    o.env["PROGCAP_PIPELINE_PATH"] = PROGCAP_SOURCE_DIR "/pipelines";
    o.env["PROGCAP_OUT_DIR"] = (dir_ / "out").string();
    o.env["PROGCAP_TARGET"] = target;
    o.unset_env = {"PROGCAP_PLUGIN_PATH", "CONTRIBUTOR_APP_ID", "CONTRIBUTOR_APP_PRIVATE_KEY", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY",
                   "DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_KEY"};
    return o;
  }
  ProcessResult run(const std::string& pipeline, std::vector<std::string> extra, const ProcessOptions& o,
                    const std::string& state) const {
    std::vector<std::string> args = {PROGCAP_BINARY, "run", pipeline, "--no-progress", "--state-dir", (dir_ / state).string(),
                                     "--report", (dir_ / (state + "-report.json")).string(), "--dead-letter-dir",
                                     (dir_ / (state + "-dead")).string()};
    for (auto& e : extra) args.push_back(std::move(e));
    return progcap::testing::run(args, o);
  }
  ProcessResult sync_to_postgres(const FakeGitHub& gh, const TestDatabase& db, const std::string& state,
                                 std::vector<std::string> extra = {}) const {
    auto o = env(gh, "postgres");
    o.env["DATABASE_URL"] = db.url();
    extra.insert(extra.begin(), {"--set", "repository_name=acme/widgets", "--set", "time_range=0"});
    return run("historical-pr-sync", extra, o, state);
  }
  ProcessResult sync_to_rest(const FakeGitHub& gh, const FakePostgrest& api, const std::string& state,
                             const std::string& key = "") const {
    auto o = env(gh, "supabase");
    o.env["SUPABASE_URL"] = api.url();
    o.env["SUPABASE_SERVICE_KEY"] = key.empty() ? api.service_key() : key;
    return run("historical-pr-sync", {"--set", "repository_name=acme/widgets", "--set", "time_range=0"}, o, state);
  }
  json report(const std::string& state) const {
    std::ifstream in(dir_ / (state + "-report.json"));
    return json::parse(in);
  }
  /// NDJSON rows of a stream from the ndjson-target export, last occurrence per key.
  std::map<std::string, json> ndjson(const std::string& stream, const std::function<std::string(const json&)>& key) const {
    std::map<std::string, json> rows;
    std::ifstream in(dir_ / "out" / "historical-pr-sync" / (stream + ".ndjson"));
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line);
      rows[key(j)] = j;
    }
    return rows;
  }

  fs::path dir_;
};

std::string gid(const json& j) { return std::to_string(j.at("github_id").get<int64_t>()); }

TEST_F(DatabaseCaptureTest, PostgresAndRestSinksAgreeWithEachOtherTheNdjsonExportAndTheTruth) {
  FakeGitHub gh;
  TestDatabase pg_db;
  TestDatabase rest_db;
  FakePostgrest api(rest_db.dsn());

  auto r = sync_to_postgres(gh, pg_db, "pg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = sync_to_rest(gh, api, "rest");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run("historical-pr-sync", {"--set", "repository_name=acme/widgets", "--set", "time_range=0"}, env(gh, "ndjson"), "nd");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const json a = canonical(pg_db);
  const json b = canonical(rest_db);
  for (const auto& [table, rows] : a.items()) EXPECT_FALSE(rows.empty()) << table;
  EXPECT_TRUE(same_tables(a, b)) << "the Postgres and the REST sink disagree";
  EXPECT_EQ(api.stats()["by_status"].value("201", 0) + api.stats()["by_status"].value("200", 0) > 0, true);

  // Field-equal to the NDJSON export of the same capture.
  const auto prs = ndjson("pull_requests", gid);
  ASSERT_EQ(prs.size(), a["pull_requests"].size());
  for (const auto& row : a["pull_requests"]) {
    const json& n = prs.at(gid(row));
    for (const char* f : {"number", "title", "body", "state", "draft", "merged", "base_branch", "head_branch", "additions",
                          "deletions", "changed_files", "commits", "html_url", "repository_full_name", "author_github_id"}) {
      EXPECT_EQ(row[f], n[f]) << "pull request " << gid(row) << " field " << f;
    }
    for (const char* f : {"created_at", "updated_at", "closed_at", "merged_at"}) EXPECT_EQ(norm_time(row[f]), n[f]) << f;
    EXPECT_EQ(row["merged_by"], n["merged_by_github_id"]) << gid(row);
    EXPECT_EQ(row["author"], n["author_github_id"]) << gid(row);
  }
  const auto reviews = ndjson("reviews", gid);
  ASSERT_EQ(reviews.size(), a["reviews"].size());
  for (const auto& row : a["reviews"]) {
    const json& n = reviews.at(gid(row));
    EXPECT_EQ(row["pr"], n["pull_request_github_id"]);
    // reviews.author_id is NOT NULL: a deleted account is the shared ghost (10137).
    EXPECT_EQ(row["author"], n["author_github_id"].is_null() ? json(10137) : n["author_github_id"]);
    EXPECT_EQ(row["state"], n["state"]);
    EXPECT_EQ(row["body"], n["body"]);
    EXPECT_EQ(norm_time(row["submitted_at"]), n["submitted_at"]);
  }
  const auto comments = ndjson("comments", gid);
  ASSERT_EQ(comments.size(), a["comments"].size());
  size_t replies = 0;
  for (const auto& row : a["comments"]) {
    const json& n = comments.at(gid(row));
    EXPECT_EQ(row["body"], n["body"]);
    EXPECT_EQ(row["comment_type"], n["comment_type"]);
    EXPECT_EQ(row["commenter"], n["commenter_github_id"]);
    EXPECT_EQ(row["in_reply_to"], n["in_reply_to_github_id"]) << gid(row);
    if (!n["pull_request_github_id"].is_null()) {
      EXPECT_EQ(row["pr"], n["pull_request_github_id"]);
    }
    replies += row["in_reply_to"].is_null() ? 0 : 1;
  }
  EXPECT_GT(replies, 0u) << "review-comment replies must be linked to their parents";
  const auto files = ndjson("pull_request_files", [](const json& j) {
    return std::to_string(j.at("pull_request_github_id").get<int64_t>()) + "/" + j.at("filename").get<std::string>();
  });
  ASSERT_EQ(files.size(), a["pull_request_files"].size());
  for (const auto& row : a["pull_request_files"]) {
    const json& n = files.at(std::to_string(row["pr"].get<int64_t>()) + "/" + row["filename"].get<std::string>());
    for (const char* f : {"status", "additions", "deletions", "changes", "previous_filename"}) EXPECT_EQ(row[f], n[f]) << f;
  }
  const auto users = ndjson("contributors", gid);
  size_t stored_users = 0;
  for (const auto& row : a["contributors"]) {
    if (row["github_id"] == 10137 && users.count("10137") == 0) continue;  // the ghost, created for NULL review authors
    ++stored_users;
    EXPECT_EQ(row["username"], users.at(gid(row))["username"]);
  }
  EXPECT_EQ(stored_users, users.size());

  // And to the fake's ground truth.
  const json truth = gh.truth("acme/widgets", "&include=pull_requests,reviews,issue_comments,review_comments");
  ASSERT_EQ(truth["pull_requests"].size(), a["pull_requests"].size());
  std::map<int64_t, json> by_id;
  for (const auto& p : a["pull_requests"]) by_id[p["github_id"].get<int64_t>()] = p;
  for (const auto& t : truth["pull_requests"]) {
    const json& p = by_id.at(t["id"].get<int64_t>());
    EXPECT_EQ(p["title"], t["title"]);
    EXPECT_EQ(p["number"], t["number"]);
    EXPECT_EQ(p["head_branch"], t["head"]["ref"]);
    EXPECT_EQ(p["merged"], t["merged"]);
    EXPECT_EQ(p["author"], t["user"].is_null() ? json() : t["user"]["id"]);
  }
  // The truth's issue comments are keyed by issue number and include plain issues, which a PR
  // capture must not store: count those of pull requests only.
  std::set<std::string> pr_numbers;
  for (const auto& t : truth["pull_requests"]) pr_numbers.insert(std::to_string(t["number"].get<int64_t>()));
  size_t truth_comments = 0;
  size_t issue_only = 0;
  for (const auto& [n, list] : truth["issue_comments"].items()) (pr_numbers.count(n) != 0 ? truth_comments : issue_only) += list.size();
  EXPECT_GT(issue_only, 0u) << "the dataset should have comments on plain issues (they must not be captured)";
  for (const auto& [n, list] : truth["review_comments"].items()) truth_comments += list.size();
  EXPECT_EQ(a["comments"].size(), truth_comments);
}

TEST_F(DatabaseCaptureTest, RerunsChangeNothingAndChangedPullRequestsUpdateInPlace) {
  FakeGitHub gh;
  TestDatabase db;
  auto r = sync_to_postgres(gh, db, "s1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json before = canonical(db);
  const std::string fingerprint_sql =
      "SELECT (SELECT string_agg(xmin::text || ':' || last_synced_at::text, ',' ORDER BY github_id) FROM pull_requests) || '|' ||"
      " (SELECT string_agg(xmin::text, ',' ORDER BY github_id) FROM reviews) || '|' ||"
      " (SELECT string_agg(xmin::text, ',' ORDER BY github_id) FROM comments) || '|' ||"
      " (SELECT string_agg(xmin::text || ':' || last_updated_at::text, ',' ORDER BY github_id) FROM contributors)";
  const std::string fp = db.scalar(fingerprint_sql);

  // A full re-capture (fresh state: every row is sent again) rewrites nothing.
  r = sync_to_postgres(gh, db, "s2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(same_tables(canonical(db), before));
  EXPECT_TRUE(db.scalar(fingerprint_sql) == fp) << "unchanged rows must not be rewritten";
  const std::string rep = report("s2").dump();
  EXPECT_NE(rep.find("\"postgres.pull_requests.unchanged\""), std::string::npos) << rep;
  EXPECT_EQ(rep.find("\"postgres.pull_requests.inserted\":1"), std::string::npos) << rep;

  // A changed PR and a renamed user update in place.
  gh.control("POST", "/_fake/mutate",
             json::array({{{"op", "touch_pr"}, {"repo", "acme/widgets"}, {"number", 3}, {"fields", {{"title", "retitled PR"}}}}}));
  const json pr3 = db.query("SELECT id, author_github_id FROM pull_requests WHERE number = 3");
  ASSERT_EQ(pr3.size(), 1u);
  const int64_t author = pr3[0]["author_github_id"].get<int64_t>();
  gh.control("POST", "/_fake/mutate", {{"op", "rename_user"}, {"id", author}, {"login", "renamed-user-x"}});
  r = sync_to_postgres(gh, db, "s1");  // the incremental state of the first run: only changes are fetched
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json after = db.query("SELECT id, title FROM pull_requests WHERE number = 3");
  EXPECT_EQ(after[0]["id"], pr3[0]["id"]) << "updated in place (same row)";
  EXPECT_EQ(after[0]["title"], "retitled PR");
  EXPECT_EQ(db.scalar("SELECT username FROM contributors WHERE github_id = " + std::to_string(author)), "renamed-user-x");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pull_requests"), std::to_string(before["pull_requests"].size()));
}

TEST_F(DatabaseCaptureTest, APostgresRestartMidRunLosesAndDuplicatesNothing) {
  PgServer server;
  TestDatabase db(true, server.admin_dsn());
  FakeGitHub gh({"--latency-ms", "30"});
  auto o = env(gh, "postgres");
  o.env["DATABASE_URL"] = db.url();
  progcap::testing::Process proc({PROGCAP_BINARY, "run", "historical-pr-sync", "--set", "repository_name=acme/widgets", "--set",
                                  "time_range=0", "--set", "mode=rest", "--no-progress", "--state-dir", (dir_ / "st").string(),
                                  "--set", "target=postgres"},
                                 o);
  // Restart once rows are flowing.
  for (int i = 0; i < 600; ++i) {
    try {
      if (std::stoi(db.scalar("SELECT count(*) FROM pull_requests")) > 0) break;
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): not created/visible yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  server.restart();
  const ProcessResult r = proc.wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "retrying");
  // Complete: the same tables as an undisturbed capture into a fresh database.
  TestDatabase ref(true, server.admin_dsn());
  auto r2 = sync_to_postgres(gh, ref, "ref", {"--set", "mode=rest"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_TRUE(same_tables(canonical(db), canonical(ref)));
}

TEST_F(DatabaseCaptureTest, AKilledRunResumesWithoutLossOrDuplicates) {
  FakeGitHub gh({"--latency-ms", "20"});
  TestDatabase db;
  auto o = env(gh, "postgres");
  o.env["DATABASE_URL"] = db.url();
  const std::vector<std::string> args = {PROGCAP_BINARY, "run", "historical-pr-sync", "--set", "repository_name=acme/widgets",
                                         "--set", "time_range=0", "--set", "mode=rest", "--no-progress", "--state-dir",
                                         (dir_ / "st").string()};
  {
    progcap::testing::Process proc(args, o);
    for (int i = 0; i < 600; ++i) {
      if (db.scalar("SELECT count(*) FROM reviews") != "0") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    proc.signal(SIGKILL);
    const ProcessResult killed = proc.wait();
    EXPECT_EQ(killed.signal, SIGKILL);
  }
  const ProcessResult r = progcap::testing::run(args, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TestDatabase ref;
  ASSERT_EQ(sync_to_postgres(gh, ref, "ref", {"--set", "mode=rest"}).exit_code, 0);
  EXPECT_TRUE(same_tables(canonical(db), canonical(ref)));
}

TEST_F(DatabaseCaptureTest, PostgrestFaultBurstsAreAbsorbedAndAuthFailuresStopResumably) {
  FakeGitHub gh;
  TestDatabase db;
  FakePostgrest api(db.dsn(), {"--max-body-bytes", "60000"});
  api.faults(json::array({{{"kind", "status"}, {"status", 503}, {"count", 3}, {"retry_after", 1}, {"match", "progcap_upsert_pull_requests"}},
                          {{"kind", "status"}, {"status", 500}, {"count", 2}, {"match", "progcap_upsert_reviews"}},
                          {{"kind", "status"}, {"status", 429}, {"count", 2}, {"match", "progcap_upsert_comments"}},
                          {{"kind", "reset"}, {"count", 1}, {"skip", 2}, {"match", "progcap_upsert_pull_request_files"}}}));
  // The wrong key first: a configuration error (78) before anything is written.
  auto bad = sync_to_rest(gh, api, "st", "wrong-key");
  EXPECT_EQ(bad.exit_code, 78) << bad.err;
  EXPECT_CONTAINS(bad.err, "service key was refused");
  EXPECT_EQ(bad.err.find("wrong-key"), std::string::npos) << "the key must be redacted";
  auto r = sync_to_rest(gh, api, "st");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json stats = api.stats();
  EXPECT_GE(stats["by_status"].value("413", 0), 1) << stats.dump();
  int fired = 0;
  for (const auto& [rule, n] : stats["faults_fired"].items()) fired += n.get<int>();
  EXPECT_EQ(fired, 8) << stats.dump();
  TestDatabase ref;
  ASSERT_EQ(sync_to_postgres(gh, ref, "ref").exit_code, 0);
  EXPECT_TRUE(same_tables(canonical(db), canonical(ref)));
}

TEST_F(DatabaseCaptureTest, DbMigrateIsIdempotentAndUpgradesAnExistingSchema) {
  TestDatabase fresh(false);
  auto migrate = [](const std::string& dsn, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {PROGCAP_BINARY, "db", "migrate", "--dsn", dsn};
    for (auto& e : extra) argv.push_back(std::move(e));
    return progcap::testing::run(argv);
  };
  auto r = migrate(fresh.dsn());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "applied 0001_contributor_info_core");
  r = migrate(fresh.dsn());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "schema is up to date");
  r = progcap::testing::run({PROGCAP_BINARY, "db", "status", "--dsn", fresh.dsn(), "--json", "--check"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json status = json::parse(r.out);  // named: a range-for over a temporary's member would dangle
  for (const auto& m : status["migrations"]) EXPECT_EQ(m["state"], "applied") << m;

  // contributor.info's 2024 schema with rows: only the missing parts are added.
  TestDatabase old(false);
  std::ifstream in(PROGCAP_SOURCE_DIR "/tests/fake-postgrest/test/fixtures/contributor_info_2024.sql");
  std::stringstream sql;
  sql << in.rdbuf();
  old.exec(sql.str());
  const std::string rows_before = old.scalar("SELECT count(*) FROM pull_requests");
  r = migrate(old.dsn());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(old.scalar("SELECT count(*) FROM pull_requests"), rows_before);
  EXPECT_EQ(old.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'pull_request_files'"), "1");

  // A changed migration is refused, not silently re-applied.
  fresh.exec("UPDATE progcap_schema_migrations SET checksum = 'x' WHERE version LIKE '0002%'");
  r = migrate(fresh.dsn());
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_CONTAINS(r.err, "was changed after it was applied");
  r = progcap::testing::run({PROGCAP_BINARY, "db", "status", "--dsn", fresh.dsn(), "--check"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.out, "modified");

  // Bad targets.
  r = migrate("host=127.0.0.1 port=1 user=postgres dbname=x connect_timeout=3");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_CONTAINS(r.err, "cannot connect to the database");
  std::string pw = fresh.dsn();
  pw.replace(pw.find("user=postgres"), 13, "user=progcap_pw password=sekrit-wrong");
  r = migrate(pw);
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_CONTAINS(r.err, "password authentication failed");
  EXPECT_EQ(r.err.find("sekrit-wrong"), std::string::npos);
  TestDatabase ro(false);
  ro.exec("ALTER DATABASE " + ro.name() + " SET default_transaction_read_only = on");
  r = migrate(ro.dsn());
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_CONTAINS(r.err, "read-only");
  r = migrate("not a dsn");
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_CONTAINS(r.err, "invalid database DSN");
}

}  // namespace
