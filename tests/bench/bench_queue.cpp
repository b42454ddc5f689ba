// Job queue benchmark: empty (noop) jobs claimed and completed per second
// with 1, 4 and 16 workers (threads, one connection each) on a private
// PostgreSQL cluster; claim latency p50/p99; every job must end completed
// exactly once. Prints one JSON object per line, then the summary.
//
//   progcap_bench_queue [--jobs N]     (default 5000 per scenario)
#include "postgres.hpp"

#include <progcap/core/jobs.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>

using nlohmann::json;
using progcap::testing::PgServer;
using progcap::testing::TestDatabase;
namespace jobs = progcap::core::jobs;

int main(int argc, char** argv) {
  int64_t n = 5000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--jobs") n = std::stoll(argv[i + 1]);
  }
  const jobs::JobsConfig cfg = jobs::load_jobs_config_text(
      "lanes: {realtime: {lease: 60s}}\njob_types: {noop: {builtin: noop}}\n", "bench-jobs.yaml");
  PgServer server;
  json summary = {{"bench", "queue"}, {"scenario", "summary"}, {"jobs_per_scenario", n}};
  bool ok = true;
  for (int workers : {1, 4, 16}) {
    TestDatabase db(true, server.admin_dsn());
    db.exec("INSERT INTO repositories (github_id, full_name, owner, name) VALUES (1, 'bench/queue', 'bench', 'queue')");
    // N distinct pending jobs (distinct inputs, so no idempotency collapse).
    db.exec("INSERT INTO progressive_capture_jobs (job_type, repository_id, processor_type, status, lane, inputs, idempotency_key) "
            "SELECT 'noop', (SELECT id FROM repositories), 'progcap', 'pending', 'realtime', jsonb_build_object('n', g), 'bench:' || g "
            "FROM generate_series(1, " + std::to_string(n) + ") g");
    db.exec("ANALYZE progressive_capture_jobs");
    std::atomic<int64_t> done{0};
    std::mutex mu;
    std::vector<double> latencies;
    latencies.reserve(static_cast<size_t>(n));
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        jobs::Queue q(db.dsn(), cfg);
        std::vector<double> mine;
        const std::string me = "bench/" + std::to_string(w);
        while (true) {
          const auto c0 = std::chrono::steady_clock::now();
          auto job = q.claim("realtime", me);
          mine.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - c0).count());
          if (!job) break;
          jobs::Outcome out;
          q.finish(*job, me, out);
          ++done;
        }
        mine.pop_back();  // the final empty claim
        std::lock_guard<std::mutex> g(mu);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
      });
    }
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) { return latencies.empty() ? 0.0 : latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * static_cast<double>(latencies.size())))]; };
    const std::string completed = db.scalar("SELECT count(*) FROM progressive_capture_jobs WHERE status = 'completed' AND attempts = 1");
    const std::string other = db.scalar("SELECT count(*) FROM progressive_capture_jobs WHERE status <> 'completed' OR attempts <> 1");
    const bool exact = completed == std::to_string(n) && other == "0" && done.load() == n;
    ok = ok && exact;
    json line = {{"bench", "queue"},
                 {"scenario", std::to_string(workers) + " worker(s)"},
                 {"workers", workers},
                 {"jobs", n},
                 {"seconds", secs},
                 {"jobs_per_s", static_cast<double>(n) / secs},
                 {"claim_p50_ms", pct(0.50)},
                 {"claim_p99_ms", pct(0.99)},
                 {"every_job_exactly_once", exact}};
    std::cout << line.dump() << std::endl;
    summary["jobs_per_s_" + std::to_string(workers)] = line["jobs_per_s"];
    summary["claim_p99_ms_" + std::to_string(workers)] = line["claim_p99_ms"];
  }
  summary["target_500_per_s_with_4"] = summary["jobs_per_s_4"].get<double>() >= 500;
  summary["no_lost_or_doubled_job"] = ok;
  std::cout << summary.dump() << std::endl;
  return ok ? 0 : 1;
}
