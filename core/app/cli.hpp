// progcap CLI — shared pieces of the subcommands.
#pragma once

#include <progcap/core/plugin_registry.hpp>

#include <boost/program_options.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace progcap::cli {

struct Globals {
  std::filesystem::path exe;              // argv[0] resolved
  std::vector<std::string> plugin_paths;  // --plugin-path (searched before the defaults)
  std::string log_level = "info";
};

/// Thrown for command-line mistakes: exit 2 with the message and a hint.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Loads every plugin from --plugin-path, PROGCAP_PLUGIN_PATH and the
/// install/build directories.
std::unique_ptr<core::PluginRegistry> load_plugins(const Globals& g);

/// Parses subcommand options; po errors become UsageError.
boost::program_options::variables_map parse(const std::vector<std::string>& args,
                                            const boost::program_options::options_description& desc,
                                            const boost::program_options::positional_options_description& pos);

int cmd_plugins(const Globals& g, const std::vector<std::string>& args);
int cmd_validate(const Globals& g, const std::vector<std::string>& args);
int cmd_run(const Globals& g, const std::vector<std::string>& args);
int cmd_pipelines(const Globals& g, const std::vector<std::string>& args);
int cmd_db(const Globals& g, const std::vector<std::string>& args);
/// enqueue | work | jobs | stats | plan-matrix | dispatch
int cmd_job_system(const Globals& g, const std::string& cmd, const std::vector<std::string>& args);

}  // namespace progcap::cli
