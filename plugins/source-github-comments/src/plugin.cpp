// source-github-comments: the plugin's components.
#include "comments_source.hpp"

#include <progcap/sdk/plugin.hpp>

PROGCAP_DECLARE_PLUGIN("source-github-comments", PROGCAP_PLUGIN_VERSION_STRING, "GitHub pull request conversation comments",
                       progcap::plugins::github_comments::CommentsSource)
