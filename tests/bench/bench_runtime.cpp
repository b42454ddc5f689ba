// Runtime benchmark: records/s and peak RSS through the plugin boundary, and
// the latency of `progcap plugins list`. Each scenario runs the real
// `progcap` binary in a child process so peak RSS is per scenario
// (wait4 ru_maxrss). Prints one JSON object per line, then the ratios.
//
//   progcap_bench_runtime [--quick]
#include "subprocess.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <sys/resource.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

struct Sample {
  double seconds = 0;
  double peak_rss_mb = 0;
  int exit_code = -1;
};

/// Runs argv, returns wall time and the child's peak RSS.
Sample measure(const std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  std::vector<std::string> copy = argv;
  for (auto& a : copy) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  // posix_spawn, so ru_maxrss is progcap's own (a fork would carry ours).
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ) != 0) std::exit(1);
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  rusage ru{};
  ::wait4(pid, &status, 0, &ru);
  Sample s;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.peak_rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;
  s.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return s;
}

nlohmann::json pipeline_run(const std::string& name, const std::string& file, long long records) {
  const std::string bench_dir = PROGCAP_BENCH_DIR;
  const std::string state = "/tmp/progcap-bench-state-" + std::to_string(::getpid());
  Sample best;
  best.seconds = 1e9;
  for (int rep = 0; rep < 3; ++rep) {  // best of three
    const std::string report = state + "/report.json";
    Sample s = measure({PROGCAP_BINARY, "--log-level", "warn", "run", bench_dir + "/" + file, "--set", "records=" + std::to_string(records),
                        "--state-dir", state, "--no-progress", "--report", report});
    // progcap's own VmHWM (ru_maxrss of a spawned child can carry ours).
    std::ifstream rin(report);
    if (rin) s.peak_rss_mb = nlohmann::json::parse(rin).value("peak_rss_mb", s.peak_rss_mb);
    if (s.exit_code != 0) {
      std::cerr << "scenario " << name << " failed with exit code " << s.exit_code << "\n";
      std::exit(1);
    }
    if (s.seconds < best.seconds) best = s;
  }
  std::filesystem::remove_all(state);
  static double startup_s = 0;
  if (records == 0) startup_s = best.seconds;
  nlohmann::json j = {{"bench", "runtime"},
                      {"scenario", name},
                      {"records", records},
                      {"seconds", best.seconds},
                      {"records_per_s", records == 0 ? 0.0 : static_cast<double>(records) / best.seconds},
                      {"records_per_s_excluding_startup",
                       records == 0 ? 0.0 : static_cast<double>(records) / std::max(1e-9, best.seconds - startup_s)},
                      {"peak_rss_mb", best.peak_rss_mb}};
  std::cout << j.dump() << std::endl;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const long long small = quick ? 200000 : 1000000;
  const long long large = small * 10;

  // Process start-up, plugin loading and pipeline resolution with no records:
  // subtracted to report the steady-state rate as well.
  auto startup = pipeline_run("startup (0 records)", "boundary-blackhole.yaml", 0);
  auto bh_small = pipeline_run("synthetic->blackhole", "boundary-blackhole.yaml", small);
  auto bh_large = pipeline_run("synthetic->blackhole", "boundary-blackhole.yaml", large);
  auto nd_small = pipeline_run("synthetic->ndjson", "boundary-ndjson.yaml", small);
  std::filesystem::remove_all("/tmp/progcap-bench-ndjson");

  // `progcap plugins list`: 30 runs, median and p90.
  std::vector<double> ms;
  for (int i = 0; i < 30; ++i) ms.push_back(measure({PROGCAP_BINARY, "plugins", "list"}).seconds * 1000.0);
  std::sort(ms.begin(), ms.end());
  nlohmann::json pl = {{"bench", "runtime"}, {"scenario", "plugins list"}, {"runs", ms.size()}, {"median_ms", ms[ms.size() / 2]},
                       {"p90_ms", ms[ms.size() * 9 / 10]}};
  std::cout << pl.dump() << std::endl;

  const double rss_ratio = bh_large["peak_rss_mb"].get<double>() / bh_small["peak_rss_mb"].get<double>();
  nlohmann::json summary = {
      {"bench", "runtime"},
      {"scenario", "summary"},
      {"blackhole_records_per_s", bh_small["records_per_s"]},
      {"ndjson_records_per_s", nd_small["records_per_s"]},
      {"ndjson_vs_blackhole_throughput", nd_small["records_per_s"].get<double>() / bh_small["records_per_s"].get<double>()},
      {"rss_ratio_10x_records", rss_ratio},
      {"plugins_list_median_ms", pl["median_ms"]},
      {"startup_ms", startup["seconds"].get<double>() * 1000.0},
      {"target_boundary_1m_per_s", bh_small["records_per_s"].get<double>() >= 1e6},
      {"target_rss_flat", rss_ratio <= 1.25},
      {"target_plugins_list_50ms", pl["median_ms"].get<double>() < 50.0}};
  std::cout << summary.dump() << std::endl;
  return 0;
}
