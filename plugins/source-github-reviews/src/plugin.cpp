// source-github-reviews: the plugin's components.
#include "reviews_source.hpp"

#include <progcap/sdk/plugin.hpp>

PROGCAP_DECLARE_PLUGIN("source-github-reviews", PROGCAP_PLUGIN_VERSION_STRING, "GitHub pull request reviews and review comments",
                       progcap::plugins::github_reviews::ReviewsSource)
