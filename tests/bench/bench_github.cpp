// GitHub capture benchmark: quota units (REST requests + GraphQL points) per
// fully captured PR for each historical mode, beside the floor GitHub's cost
// rules give for the dataset; wall time and peak RSS of `progcap`; the
// incremental and unchanged re-poll costs. Runs the real binary against
// private fake GitHub instances with 100 ms latency and a 5,000/h budget.
// Prints one JSON object per line.
//
//   progcap_bench_github [--quick] [--only graphql|rest|per-pr [--prs N]]
//     default: 10,000-PR repository for graphql, 1,000 PRs for rest, 300 for
//     the naive per-PR baseline (1,000 would exceed the 5,000/h budget)
//     --quick: 2,000 / 300 / 300
#include "services.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

extern char** environ;
#include <fcntl.h>
#include <sys/resource.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using progcap::testing::FakeGitHub;

namespace {

struct Run {
  double seconds = 0;
  double peak_rss_mb = 0;
  int exit_code = -1;
};

Run run_progcap(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {PROGCAP_BINARY, "--log-level", "warn"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  // posix_spawn (not fork): the child must not inherit this process's
  // resident memory, or ru_maxrss would measure the benchmark, not progcap.
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    if (env.count(kv.substr(0, kv.find('='))) == 0) envs.push_back(kv);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> cenv;
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data()) != 0) throw std::runtime_error("posix_spawn failed");
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  rusage ru{};
  ::wait4(pid, &status, 0, &ru);
  Run r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.peak_rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// Quota the fake charged: REST requests that cost (not 304s, not refused,
/// not faults) and GraphQL points.
struct Quota {
  double rest = 0;
  double points = 0;
  double rate_limited = 0;
  double requests = 0;
  double largest_answer_kb = 0;  // sets the floor of peak RSS: it is held once while parsed
  [[nodiscard]] double units() const { return rest + points; }
};

Quota quota(const FakeGitHub& gh) {
  const json s = gh.stats();
  Quota q;
  q.requests = s.value("requests_total", 0.0);
  const double gql = s.value("graphql_queries", 0.0);
  q.rate_limited = s.value("rate_limited", 0.0) + s.value("secondary_limited", 0.0);
  q.rest = q.requests - gql - s.value("not_modified", 0.0) - q.rate_limited;
  for (const auto& [k, v] : s["graphql_points"].items()) q.points += v.get<double>();
  q.largest_answer_kb = s.value("max_response_bytes", 0.0) / 1024.0;
  return q;
}

/// The cheapest quota a full capture can cost under GitHub's rules: PR pages
/// of 37 (4 nested connections per PR: commits, files, reviews, comments:
/// 1 + 4*37 = 149 requests = 1 point), overflow pages batched 149 per point,
/// review comments over the repository-wide REST listing (100 per request),
/// and the repository itself.
json floor_for(const FakeGitHub& gh, const std::string& repo, std::vector<int64_t>* numbers) {
  double prs = 0;
  double followups = 0;
  double review_comments = 0;
  auto overflow = [](size_t n) { return n > 100 ? std::ceil(static_cast<double>(n - 100) / 100.0) : 0.0; };
  // In slices: the whole truth of 10,000 PRs exceeds a JavaScript string.
  const json sum = gh.control("GET", "/_fake/truth/summary")["repositories"][repo];
  const int64_t total = sum.value("pull_requests", int64_t{0}) + sum.value("issues", int64_t{0});  // highest number
  for (int64_t lo = 1; lo <= total; lo += 500) {
    const json t = gh.truth(repo, "&numbers=" + std::to_string(lo) + "-" + std::to_string(lo + 499) +
                                      "&include=pull_requests,files,reviews,issue_comments,review_comments");
    prs += static_cast<double>(t["pull_requests"].size());
  for (const auto& pr : t["pull_requests"]) {
    const std::string n = std::to_string(pr["number"].get<int64_t>());
    if (numbers != nullptr) numbers->push_back(pr["number"].get<int64_t>());
    followups += overflow(t["files"].value(n, json::array()).size());
    size_t submitted = 0;
    for (const auto& r : t["reviews"].value(n, json::array())) submitted += r.contains("submitted_at") ? 1 : 0;
    followups += overflow(t["reviews"].value(n, json::array()).size());
    followups += overflow(t["issue_comments"].value(n, json::array()).size());
    review_comments += static_cast<double>(t["review_comments"].value(n, json::array()).size());
  }
  }
  const double units = std::ceil(prs / 37.0) + std::ceil(followups / 149.0) + std::ceil(review_comments / 100.0) + 1.0;
  return {{"prs", prs}, {"floor_units", units}, {"floor_per_pr", units / prs}, {"review_comments", review_comments},
          {"overflow_pages", followups}};
}

json bench_mode(const std::string& mode, int prs, const fs::path& work) {
  FakeGitHub gh({"--dataset", "bench", "--prs", std::to_string(prs), "--latency-ms", "100", "--budget", "5000", "--graphql-budget", "5000",
                 "--reset-seconds", "3600"});
  std::vector<int64_t> numbers;
  const json fl = floor_for(gh, "bench/big", &numbers);
  gh.control("POST", "/_fake/reset-stats");
  const fs::path dir = work / (mode + "-" + std::to_string(prs));
  fs::remove_all(dir);
  const std::map<std::string, std::string> env = {{"GITHUB_API_URL", gh.url()}, {"GITHUB_TOKEN", FakeGitHub::kToken},
                                                  {"PROGCAP_OUT_DIR", (dir / "out").string()},
                                                  {"PROGCAP_PIPELINE_PATH", PROGCAP_SOURCE_DIR "/pipelines"}, {"PROGCAP_TARGET", "ndjson"}};
  const std::vector<std::string> args = {"run", "historical-pr-sync", "--set", "repository_name=bench/big", "--set", "time_range=0",
                                         "--set", "mode=" + mode, "--no-progress", "--state-dir", (dir / "state").string(),
                                         "--report", (dir / "report.json").string()};
  Run r = run_progcap(args, env);
  {
    std::ifstream rin(dir / "report.json");
    if (rin) r.peak_rss_mb = json::parse(rin).value("peak_rss_mb", r.peak_rss_mb);  // progcap's own VmHWM
  }
  const Quota q = quota(gh);
  json out = {{"bench", "github"},
              {"scenario", "historical " + mode + (mode == "per-pr" ? " (naive baseline: 5 endpoints per PR)" : "")},
              {"prs", prs},
              {"exit_code", r.exit_code},
              {"rest_requests", q.rest},
              {"graphql_points", q.points},
              {"quota_units", q.units()},
              {"units_per_pr", q.units() / prs},
              {"floor_units", fl["floor_units"]},
              {"floor_per_pr", fl["floor_per_pr"]},
              {"ratio_to_floor", q.units() / fl["floor_units"].get<double>()},
              {"rate_limited_requests", q.rate_limited},
              {"wall_s", r.seconds},
              {"peak_rss_mb", r.peak_rss_mb},
              {"largest_answer_kb", q.largest_answer_kb}};
  std::cout << out.dump() << std::endl;

  if (mode == "graphql") {
    // Unchanged re-poll: only free 304s.
    gh.control("POST", "/_fake/reset-stats");
    const Run again = run_progcap(args, env);
    const Quota q2 = quota(gh);
    std::cout << json{{"bench", "github"}, {"scenario", "unchanged re-poll (graphql)"}, {"prs", prs}, {"exit_code", again.exit_code},
                      {"requests", q2.requests}, {"quota_units", q2.units()}, {"rate_limited_requests", q2.rate_limited},
                      {"wall_s", again.seconds}}
                     .dump()
              << std::endl;
  }
  if (mode == "rest") {
    // Incremental: 20 PRs change; the rerun captures only them.
    json ops = json::array();
    for (size_t i = 0; i < 20; ++i) ops.push_back({{"op", "touch_pr"}, {"repo", "bench/big"}, {"number", numbers[i * numbers.size() / 20]}});
    const json mutated = gh.control("POST", "/_fake/mutate", ops);
    if (!mutated.value("ok", false) || mutated["results"].size() != 20) throw std::runtime_error("mutate failed: " + mutated.dump());
    gh.control("POST", "/_fake/reset-stats");
    const Run inc = run_progcap(args, env);
    const Quota q3 = quota(gh);
    // Requests include the free 304s (repository, probe); GitHub's target is per changed PR.
    std::cout << json{{"bench", "github"}, {"scenario", "incremental rest (20 changed PRs)"}, {"prs", prs}, {"exit_code", inc.exit_code},
                      {"requests", q3.requests}, {"requests_per_changed_pr", q3.requests / 20.0}, {"quota_units", q3.units()},
                      {"units_per_changed_pr", q3.units() / 20.0}, {"wall_s", inc.seconds}}
                     .dump()
              << std::endl;
  }
  fs::remove_all(dir);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string only;  // --only graphql|rest|per-pr: one scenario, no summary
  int prs = 0;       // --prs N: the repository size of that scenario (default: its size in the full run)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") quick = true;
    if (a == "--only" && i + 1 < argc) only = argv[++i];
    if (a == "--prs" && i + 1 < argc) prs = std::stoi(argv[++i]);
  }
  const int big = quick ? 2000 : 10000;
  const int small = quick ? 300 : 1000;
  // The naive baseline spends ~5 units per PR: 1,000 PRs would exceed the fake's 5,000/h budget
  // and wait an hour for the reset (which is the point of the comparison, but not of a
  // benchmark run). Units per PR do not depend on the repository size.
  const int naive_prs = 300;
  const fs::path work = fs::temp_directory_path() / ("progcap-bench-github-" + std::to_string(::getpid()));
  if (!only.empty()) {
    bench_mode(only, prs > 0 ? prs : only == "graphql" ? big : only == "per-pr" ? naive_prs : small, work);
    fs::remove_all(work);
    return 0;
  }
  const json g_big = bench_mode("graphql", big, work);
  const json g_small = bench_mode("graphql", big / 10, work);
  const json rest = bench_mode("rest", small, work);
  const json naive = bench_mode("per-pr", naive_prs, work);
  fs::remove_all(work);
  const json summary = {
      {"bench", "github"},
      {"scenario", "summary"},
      {"graphql_units_per_pr", g_big["units_per_pr"]},
      {"graphql_ratio_to_floor", g_big["ratio_to_floor"]},
      {"rest_units_per_pr", rest["units_per_pr"]},
      {"naive_units_per_pr", naive["units_per_pr"]},
      {"naive_vs_graphql", naive["units_per_pr"].get<double>() / g_big["units_per_pr"].get<double>()},
      {"rss_ratio_10x_prs", g_big["peak_rss_mb"].get<double>() / g_small["peak_rss_mb"].get<double>()},
      {"target_within_1_5x_floor", g_big["ratio_to_floor"].get<double>() <= 1.5},
      {"target_20x_fewer_than_naive", naive["units_per_pr"].get<double>() / g_big["units_per_pr"].get<double>() >= 20.0},
      {"target_rss_64mib", g_big["peak_rss_mb"].get<double>() <= 64.0},
      // "Flat": 10x the pull requests costs at most 10 % more peak memory.
      {"target_rss_flat", g_big["peak_rss_mb"].get<double>() <= 1.10 * g_small["peak_rss_mb"].get<double>()}};
  std::cout << summary.dump() << std::endl;
  // A missed target (or a failed run) fails the benchmark, so a regression cannot pass unnoticed.
  bool met = g_big["exit_code"] == 0 && g_small["exit_code"] == 0 && rest["exit_code"] == 0 && naive["exit_code"] == 0;
  for (const auto& [k, v] : summary.items()) {
    if (k.rfind("target_", 0) == 0 && !v.get<bool>()) {
      std::cerr << "target not met: " << k << "\n";
      met = false;
    }
  }
  return met ? 0 : 1;
}
