// `progcap run` and `progcap validate`.
#include "cli.hpp"

#include <progcap/core/exit_codes.hpp>
#include <progcap/core/http.hpp>
#include <progcap/core/logging.hpp>
#include <progcap/core/pipeline.hpp>
#include <progcap/core/runtime.hpp>
#include <progcap/core/state_store.hpp>
#include <progcap/core/text.hpp>
#include <progcap/core/version.hpp>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <pthread.h>
#include <thread>
#include <unistd.h>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace progcap::cli {

po::variables_map parse(const std::vector<std::string>& args, const po::options_description& desc,
                        const po::positional_options_description& pos) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return vm;
}

namespace {

/// Writes `text` to `path` atomically (temp file + rename).
void write_file_atomic(const fs::path& path, const std::string& text) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
  }
  fs::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot write " + path.string() + ": " + ec.message());
}

core::InputOverrides parse_sets(const std::vector<std::string>& sets) {
  core::InputOverrides out;
  for (const auto& s : sets) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("--set expects NAME=VALUE, got '" + s + "'");
    }
    out.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  return out;
}

fs::path locate(const Globals& g, const std::string& name_or_path) {
  std::vector<fs::path> searched;
  auto found = core::find_pipeline(name_or_path, g.exe, &searched);
  if (!found) {
    std::vector<std::string> dirs;
    for (const auto& d : searched) dirs.push_back(d.string());
    throw core::ConfigError(core::Location{}, "pipeline '" + name_or_path + "' not found: no such file, and no " + name_or_path +
                                                  ".yaml in " + core::text::join(dirs, ":") + " (set PROGCAP_PIPELINE_PATH)");
  }
  return *found;
}

}  // namespace

int cmd_validate(const Globals& g, const std::vector<std::string>& args) {
  po::options_description desc("progcap validate FILE... [options]");
  desc.add_options()("help,h", "show this help")("set", po::value<std::vector<std::string>>()->composing(),
                                                 "NAME=VALUE input values to validate with")(
      "file", po::value<std::vector<std::string>>(), "pipeline files or names");
  po::positional_options_description pos;
  pos.add("file", -1);
  auto vm = parse(args, desc, pos);
  if (vm.count("help") != 0) {
    std::cout << desc << "\nExit 0 when every file is valid, 78 with file:line:col: message lines otherwise.\n";
    return core::kExitOk;
  }
  if (vm.count("file") == 0) throw UsageError("give at least one pipeline file");
  core::ResolveOptions ro;
  ro.mode = core::ResolveMode::Validate;
  if (vm.count("set") != 0) ro.overrides = parse_sets(vm["set"].as<std::vector<std::string>>());
  auto reg = load_plugins(g);
  int rc = core::kExitOk;
  for (const auto& f : vm["file"].as<std::vector<std::string>>()) {
    try {
      const fs::path path = locate(g, f);
      auto spec = core::load_pipeline_file(path);
      core::resolve_pipeline(spec, *reg, ro);
      std::cout << path.string() << ": OK (pipeline '" << spec.name << "', " << spec.steps.size() << " step(s))\n";
    } catch (const core::ConfigError& e) {
      for (const auto& d : e.diagnostics()) std::cout << d.str() << "\n";
      rc = core::kExitConfig;
    }
  }
  return rc;
}

int cmd_run(const Globals& g, const std::vector<std::string>& args) {
  // Signals: block SIGINT/SIGTERM before any thread exists (threads inherit
  // the mask, e.g. cpprest's pool); one thread below handles them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // wakes the signal thread when the run is over
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  po::options_description desc("progcap run PIPELINE [options]");
  desc.add_options()("help,h", "show this help")("set", po::value<std::vector<std::string>>()->composing(),
                                                 "NAME=VALUE: set a pipeline input (repeatable)")(
      "dry-run", "replace every sink with the NDJSON sink writing one file per stream into --out; state is not advanced")(
      "out", po::value<std::string>()->default_value("out"), "output directory for --dry-run")(
      "log-file", po::value<std::string>(), "also write the full log (debug level) to FILE")(
      "report", po::value<std::string>(), "write the JSON run report to FILE")(
      "state-dir", po::value<std::string>(), "checkpoint directory (default $PROGCAP_STATE_DIR or .progcap/state)")(
      "dead-letter-dir", po::value<std::string>(), "dead-letter directory (default .progcap/dead-letter)")(
      "max-dead-letters", po::value<size_t>(), "tolerate up to N dead-lettered records before exit code 3")(
      "run-id", po::value<std::string>(), "run identifier for logs and reports (default: generated)")(
      "no-progress", "no live progress line even on a terminal")(
      "status-file", po::value<std::string>(), "rewrite FILE every second with progress JSON (records, dead letters, step)")("pipeline", po::value<std::string>(), "pipeline file or name");
  po::positional_options_description pos;
  pos.add("pipeline", 1);
  auto vm = parse(args, desc, pos);
  if (vm.count("help") != 0) {
    std::cout << desc;
    return core::kExitOk;
  }
  if (vm.count("pipeline") == 0) throw UsageError("name the pipeline to run");

  core::ResolveOptions ro;
  ro.mode = core::ResolveMode::Run;
  if (vm.count("set") != 0) ro.overrides = parse_sets(vm["set"].as<std::vector<std::string>>());
  const bool dry = vm.count("dry-run") != 0;
  if (dry) ro.dry_run_out = fs::path(vm["out"].as<std::string>());

  if (vm.count("log-file") != 0) {
    core::LogOptions lo;
    lo.level = g.log_level;
    lo.file = vm["log-file"].as<std::string>();
    core::init_logging(lo);
  }

  const fs::path file = locate(g, vm["pipeline"].as<std::string>());
  auto reg = load_plugins(g);
  const core::PipelineSpec spec = core::load_pipeline_file(file);
  const core::ResolvedPipeline pipeline = core::resolve_pipeline(spec, *reg, ro);

  core::RunOptions opts;
  opts.host_version = core::kVersion;
  opts.dry_run = dry;
  const char* env_state = std::getenv("PROGCAP_STATE_DIR");
  opts.state_dir = vm.count("state-dir") != 0 ? fs::path(vm["state-dir"].as<std::string>())
                   : (env_state != nullptr && *env_state != '\0') ? fs::path(env_state)
                                                                  : fs::path(".progcap/state");
  if (vm.count("dead-letter-dir") != 0) opts.dead_letter_dir = vm["dead-letter-dir"].as<std::string>();
  if (vm.count("max-dead-letters") != 0) opts.max_dead_letters = vm["max-dead-letters"].as<size_t>();
  if (vm.count("run-id") != 0) opts.run_id = vm["run-id"].as<std::string>();
  const char* gha = std::getenv("GITHUB_ACTIONS");
  opts.github_actions = gha != nullptr && std::string(gha) == "true";
  opts.progress = vm.count("no-progress") == 0 && !opts.github_actions && isatty(STDERR_FILENO) != 0;
  if (vm.count("status-file") != 0) opts.status_file = vm["status-file"].as<std::string>();
  opts.http = std::make_shared<core::http::Service>(core::http::make_cpprest_transport());
  opts.http->set_quota_policy(core::http::make_rate_limit_governor());

  std::shared_ptr<core::StateStore> state;
  std::string state_file;
  {
    auto file_store = std::make_shared<core::FileStateStore>(opts.state_dir, pipeline.name);
    state_file = file_store->path().string();
    state = file_store;
    if (dry) state = std::make_shared<core::OverlayStateStore>(file_store);
  }

  core::install_crash_handler();

  core::Runner runner(pipeline, opts, state);
  std::atomic<bool> done{false};
  std::thread sig_thread([&] {
    int count = 0;
    while (!done.load()) {
      timespec ts{0, 100'000'000};
      const int sig = sigtimedwait(&set, nullptr, &ts);
      if (sig <= 0 || sig == SIGUSR1) continue;
      ++count;
      if (count == 1) {
        core::logger()->warn("received {}: stopping sources, draining sinks, saving checkpoints (send again to abort)",
                             sig == SIGINT ? "SIGINT" : "SIGTERM");
        runner.cancel(core::StopReason::Signal);
      } else if (count == 2) {
        core::logger()->error("second signal: aborting without waiting for retries");
        runner.abort();
      } else {
        ::_exit(core::kExitInterrupted);
      }
    }
  });
  core::logger()->info("running pipeline '{}' from {}{}", pipeline.name, file.string(), dry ? " (dry run)" : "");
  core::RunReport report = runner.run();
  done.store(true);
  pthread_kill(sig_thread.native_handle(), SIGUSR1);
  sig_thread.join();
  report.state_file = dry ? std::string() : state_file;

  if (vm.count("report") != 0) write_file_atomic(vm["report"].as<std::string>(), core::report_to_json(report));
  if (const char* summary = std::getenv("GITHUB_STEP_SUMMARY"); opts.github_actions && summary != nullptr && *summary != '\0') {
    std::ofstream out(summary, std::ios::app);
    out << core::report_to_markdown(report) << "\n";
  }
  uint64_t records = 0;
  for (const auto& s : report.steps) {
    for (const auto& [k, v] : s.source.records) records += v;
  }
  core::logger()->info("pipeline '{}' {}: {} records in {}, exit code {}{}", pipeline.name, report.status, records,
                       core::text::human_duration(static_cast<long long>(report.duration_ms)), report.exit_code,
                       dry ? " (dry run: output in " + vm["out"].as<std::string>() + ")" : "");
  return report.exit_code;
}

}  // namespace progcap::cli
