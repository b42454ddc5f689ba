// progcap — command-line entry point.
#include "cli.hpp"

#include <progcap/core/diagnostics.hpp>
#include <progcap/core/exit_codes.hpp>
#include <progcap/core/host_services.hpp>
#include <progcap/core/logging.hpp>
#include <progcap/core/text.hpp>
#include <progcap/core/version.hpp>

#include <malloc.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace progcap::cli {

std::unique_ptr<core::PluginRegistry> load_plugins(const Globals& g) {
  auto reg = std::make_unique<core::PluginRegistry>(core::host_api());
  std::vector<std::filesystem::path> dirs;
  for (const auto& p : g.plugin_paths) dirs.emplace_back(p);
  for (const auto& d : core::PluginRegistry::default_search_path(g.exe)) dirs.push_back(d);
  reg->discover(dirs);
  return reg;
}

}  // namespace progcap::cli

namespace {

const char* kUsage = R"(progcap — capture GitHub pull-request data through plugin pipelines

usage: progcap [--plugin-path DIR[:DIR...]] [--log-level LEVEL] COMMAND [ARGS]

commands:
  run PIPELINE [options]       run a pipeline (a file, or a name found in PROGCAP_PIPELINE_PATH,
                               the install's pipelines directory or ./pipelines); see `progcap run --help`
  validate FILE...             check pipeline files; exit 0 when valid, 78 with file:line:col lines otherwise
  plugins list [--json]        every discovered plugin with kind, version, ABI and load status
  plugins describe NAME [--json]
                               a plugin's components, options and streams
  plugins docs                 Markdown reference of every loaded component
  pipelines list               pipelines found on the pipeline path
  db migrate|status [--dsn DSN]
                               apply / list the SQL migrations (contributor.info schema + progcap
                               functions) on $DATABASE_URL; see `progcap db --help`

job queue (Postgres, $DATABASE_URL; routing and job types in pipelines/jobs/jobs.yaml):
  enqueue JOB_TYPE --repository OWNER/NAME [--pr-numbers 1,2 | --time-range DAYS] [--max-items N]
          [--trigger manual|automatic|scheduled]
                               queue a job in the real-time or bulk lane (the rule is recorded)
  work --lane realtime|bulk [--concurrency N] [--once] [--max-jobs N]
                               run queued jobs (each job's pipeline in a child process); SIGTERM
                               releases running jobs back to the queue
  work --job ID                run one job (workflow runs and matrix legs)
  jobs list|show|retry|cancel|stats
                               inspect and manage jobs (`stats`: per lane and status)
  plan-matrix --job ID         a bulk job's child jobs as a GitHub Actions matrix (JSON)
  dispatch [--job ID]          start the workflow of each pending bulk-lane job (workflow_dispatch)
  version                      product version and plugin ABI version

exit codes: 0 ok · 1 run failed · 2 usage · 3 records dead-lettered · 70 plugin crashed ·
            75 interrupted or timed out (resumable) · 78 configuration error
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace progcap;
  cli::Globals g;
  g.exe = std::filesystem::path("/proc/self/exe");
  {
    std::error_code ec;
    auto resolved = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) g.exe = resolved;
  }
  if (const char* lvl = std::getenv("PROGCAP_LOG_LEVEL"); lvl != nullptr && *lvl != '\0') g.log_level = lvl;
  // A file-size limit (or a full disk) must surface as a write error, not kill us.
  std::signal(SIGXFSZ, SIG_IGN);
  // glibc gives every thread that allocates its own malloc arena (up to 8 per
  // core), and each keeps its own high-water mark: multi-megabyte GitHub
  // answers passing through HTTP, source and sink threads left the peak RSS
  // ~50 % above the live heap and growing with the repository. Two arenas
  // keep it flat at no measured throughput cost (docs/performance.md).
  // MALLOC_ARENA_MAX in the environment still wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  std::vector<std::string> args(argv + 1, argv + argc);
  // Global options come before the command.
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& name) -> std::string {
      if (a.size() > name.size() && a.compare(0, name.size() + 1, name + "=") == 0) return a.substr(name.size() + 1);
      if (i + 1 >= args.size()) {
        std::cerr << "progcap: " << name << " needs a value\n";
        std::exit(core::kExitUsage);
      }
      return args[++i];
    };
    if (a == "--plugin-path" || a.rfind("--plugin-path=", 0) == 0) {
      for (auto& p : core::text::split(value("--plugin-path"), ':')) {
        if (!p.empty()) g.plugin_paths.push_back(p);
      }
    } else if (a == "--log-level" || a.rfind("--log-level=", 0) == 0) {
      g.log_level = value("--log-level");
    } else if (a == "-h" || a == "--help" || a == "help") {
      std::cout << kUsage;
      return core::kExitOk;
    } else if (a == "--version") {
      args[i] = "version";
      break;
    } else {
      break;
    }
  }
  if (i >= args.size()) {
    std::cerr << kUsage;
    return core::kExitUsage;
  }
  const std::string cmd = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  core::LogOptions lo;
  lo.level = g.log_level;
  core::init_logging(lo);
  core::Redactor::instance().add_from_environment();
  int rc = core::kExitOk;
  try {
    if (cmd == "version") {
      std::cout << "progcap " << core::kVersion << " (plugin ABI " << PROGCAP_ABI_MAJOR << "." << PROGCAP_ABI_MINOR << ")\n";
    } else if (cmd == "plugins") {
      rc = cli::cmd_plugins(g, rest);
    } else if (cmd == "validate") {
      rc = cli::cmd_validate(g, rest);
    } else if (cmd == "run") {
      rc = cli::cmd_run(g, rest);
    } else if (cmd == "pipelines") {
      rc = cli::cmd_pipelines(g, rest);
    } else if (cmd == "db") {
      rc = cli::cmd_db(g, rest);
    } else if (cmd == "enqueue" || cmd == "work" || cmd == "jobs" || cmd == "stats" || cmd == "plan-matrix" || cmd == "dispatch") {
      rc = cli::cmd_job_system(g, cmd, rest);
    } else {
      std::cerr << "progcap: unknown command '" << cmd << "'\n\n" << kUsage;
      rc = core::kExitUsage;
    }
  } catch (const cli::UsageError& e) {
    std::cerr << "progcap " << cmd << ": " << e.what() << "\n(see `progcap " << cmd << " --help`)\n";
    rc = core::kExitUsage;
  } catch (const core::ConfigError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << core::Redactor::instance().redact(d.str()) << "\n";
    rc = core::kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "progcap " << cmd << ": error: " << core::Redactor::instance().redact(e.what()) << "\n";
    rc = core::kExitFailed;
  }
  core::shutdown_logging();
  return rc;
}
