// source-synthetic: the plugin's components.
#include "synthetic_source.hpp"

#include <progcap/sdk/plugin.hpp>

PROGCAP_DECLARE_PLUGIN("source-synthetic", PROGCAP_PLUGIN_VERSION_STRING, "Deterministic synthetic records",
                       progcap::plugins::synthetic::SyntheticSource)
