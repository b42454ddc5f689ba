// source-github-pr-details: the plugin's components.
#include "pr_details_source.hpp"

#include <progcap/sdk/plugin.hpp>

PROGCAP_DECLARE_PLUGIN("source-github-pr-details", PROGCAP_PLUGIN_VERSION_STRING, "GitHub pull request details and files",
                       progcap::plugins::github_pr_details::PrDetailsSource)
