// source-github-historical: the plugin's components.
#include "historical_source.hpp"

#include <progcap/sdk/plugin.hpp>

PROGCAP_DECLARE_PLUGIN("source-github-historical", PROGCAP_PLUGIN_VERSION_STRING, "GitHub historical pull request sync",
                       progcap::plugins::github_historical::HistoricalSource)
