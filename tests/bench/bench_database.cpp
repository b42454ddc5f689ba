// Database sinks benchmark, in one run on a private PostgreSQL cluster:
//   1. sink-postgres upserting N PRs + 5N children (first load, then an
//      all-changed reload), end to end through the progcap binary;
//   2. the local ceiling: raw COPY of the same rows (UUIDs already resolved)
//      into empty copies of the same tables (same indexes, constraints, FKs);
//   3. sink-supabase-rest through the PostgREST-protocol server (first load
//      and all-changed reload);
//   4. RSS flatness: sink-postgres at N/10 PRs.
// Prints one JSON object per line, then the ratios.
//
//   progcap_bench_database [--prs N]     (default 100000)
#include "postgres.hpp"
#include "services.hpp"
#include "subprocess.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using progcap::testing::FakePostgrest;
using progcap::testing::PgServer;
using progcap::testing::TestDatabase;

namespace {

const std::vector<std::string> kTables = {"repositories", "contributors", "pull_requests", "pull_request_files", "reviews",
                                          "comments"};

int64_t rows_in(const TestDatabase& db) {
  int64_t n = 0;
  for (const auto& t : kTables) n += std::stoll(db.scalar("SELECT count(*) FROM " + t));
  return n;
}

struct Run {
  double seconds = 0;
  double peak_rss_mb = 0;
  int exit_code = -1;
  std::string err;
};

Run run_pipeline(const std::string& file, int64_t prs, int variant, const std::map<std::string, std::string>& env,
                 const fs::path& work) {
  const fs::path report = work / ("report-" + std::to_string(::getpid()) + ".json");
  progcap::testing::ProcessOptions o;
  o.env = env;
  o.env["PROGCAP_PLUGIN_PATH"] = PROGCAP_BENCH_PLUGIN_DIR;
  o.timeout = std::chrono::hours(2);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = progcap::testing::run({PROGCAP_BINARY, "--log-level", "warn", "run", std::string(PROGCAP_BENCH_DIR) + "/database/" + file,
                                        "--set", "prs=" + std::to_string(prs), "--set", "variant=" + std::to_string(variant),
                                        "--no-progress", "--state-dir", (work / "state").string(), "--report", report.string()},
                                       o);
  Run out;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.exit_code = r.exit_code;
  out.err = r.err;
  std::ifstream in(report);
  if (in) out.peak_rss_mb = json::parse(in).value("peak_rss_mb", 0.0);
  fs::remove_all(work / "state");
  return out;
}

json line(const std::string& scenario, int64_t rows, const Run& r) {
  json j = {{"bench", "database"}, {"scenario", scenario}, {"rows", rows}, {"seconds", r.seconds},
            {"rows_per_s", r.seconds > 0 ? static_cast<double>(rows) / r.seconds : 0.0}, {"peak_rss_mb", r.peak_rss_mb},
            {"exit_code", r.exit_code}};
  std::cout << j.dump() << std::endl;
  if (r.exit_code != 0) std::cerr << scenario << " failed:\n" << r.err << "\n";
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t prs = 100000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--prs") prs = std::stoll(argv[i + 1]);
  }
  const fs::path work = fs::temp_directory_path() / ("progcap-bench-db-" + std::to_string(::getpid()));
  fs::create_directories(work);
  PgServer server;

  // 1. sink-postgres
  TestDatabase pg(true, server.admin_dsn());
  const std::map<std::string, std::string> pg_env = {{"BENCH_DATABASE_URL", pg.url()}};
  const Run first = run_pipeline("db-postgres.yaml", prs, 0, pg_env, work);
  const int64_t rows = rows_in(pg);
  const json pg_first = line("postgres sink, first load", rows, first);
  const Run reload = run_pipeline("db-postgres.yaml", prs, 1, pg_env, work);
  const json pg_reload = line("postgres sink, all-changed reload", rows, reload);
  const std::string changed = pg.scalar("SELECT count(*) FROM pull_requests WHERE title LIKE '%(v1)'");
  std::cout << json{{"bench", "database"}, {"scenario", "reload check"}, {"prs_changed", std::stoll(changed)}}.dump() << std::endl;

  // 2. the ceiling: COPY the stored rows into empty tables of a fresh database.
  const fs::path dump = fs::path("/tmp") / ("progcap-bench-copy-" + std::to_string(::getpid()));
  fs::create_directories(dump);
  fs::permissions(dump, fs::perms::all);
  for (const auto& t : kTables) pg.exec("COPY " + t + " TO '" + (dump / (t + ".copy")).string() + "'");
  TestDatabase empty(true, server.admin_dsn());
  const auto c0 = std::chrono::steady_clock::now();
  for (const auto& t : kTables) empty.exec("COPY " + t + " FROM '" + (dump / (t + ".copy")).string() + "'");
  Run ceiling;
  ceiling.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
  ceiling.exit_code = rows_in(empty) == rows ? 0 : 1;
  const json copy = line("raw COPY into empty tables (ceiling)", rows, ceiling);
  fs::remove_all(dump);

  // 3. sink-supabase-rest through the PostgREST-protocol server.
  TestDatabase rest(true, server.admin_dsn());
  FakePostgrest api(rest.dsn(), {"--pool-size", "4"});
  const std::map<std::string, std::string> rest_env = {{"BENCH_SUPABASE_URL", api.url()}, {"BENCH_SUPABASE_KEY", api.service_key()}};
  const json rest_first = line("supabase-rest sink, first load", rows, run_pipeline("db-rest.yaml", prs, 0, rest_env, work));
  const json rest_reload = line("supabase-rest sink, all-changed reload", rows, run_pipeline("db-rest.yaml", prs, 1, rest_env, work));

  // 4. RSS at a tenth of the volume.
  TestDatabase small(true, server.admin_dsn());
  const Run tenth = run_pipeline("db-postgres.yaml", prs / 10, 0, {{"BENCH_DATABASE_URL", small.url()}}, work);
  const json pg_small = line("postgres sink, first load, N/10", rows_in(small), tenth);

  const double ceil_rps = copy["rows_per_s"].get<double>();
  json summary = {{"bench", "database"},
                  {"scenario", "summary"},
                  {"prs", prs},
                  {"rows", rows},
                  {"copy_ceiling_rows_per_s", ceil_rps},
                  {"postgres_first_rows_per_s", pg_first["rows_per_s"]},
                  {"postgres_reload_rows_per_s", pg_reload["rows_per_s"]},
                  {"postgres_first_vs_ceiling", pg_first["rows_per_s"].get<double>() / ceil_rps},
                  {"postgres_reload_vs_ceiling", pg_reload["rows_per_s"].get<double>() / ceil_rps},
                  {"rest_first_rows_per_s", rest_first["rows_per_s"]},
                  {"rest_reload_rows_per_s", rest_reload["rows_per_s"]},
                  {"rest_vs_postgres", rest_first["rows_per_s"].get<double>() / pg_first["rows_per_s"].get<double>()},
                  {"rss_ratio_10x_rows", pg_first["peak_rss_mb"].get<double>() / std::max(1.0, pg_small["peak_rss_mb"].get<double>())},
                  {"target_postgres_150k", pg_first["rows_per_s"].get<double>() >= 150000},
                  {"target_postgres_60pct_ceiling", pg_first["rows_per_s"].get<double>() >= 0.6 * ceil_rps},
                  {"target_rest_50k", rest_first["rows_per_s"].get<double>() >= 50000}};
  std::cout << summary.dump() << std::endl;
  fs::remove_all(work);
  const bool ok = first.exit_code == 0 && reload.exit_code == 0 && ceiling.exit_code == 0 && rest_first["exit_code"] == 0 &&
                  rest_reload["exit_code"] == 0 && tenth.exit_code == 0 && std::stoll(changed) == prs;
  return ok ? 0 : 1;
}
