// transform-filter: the plugin's components.
#include "filter.hpp"

#include <progcap/sdk/plugin.hpp>

PROGCAP_DECLARE_PLUGIN("transform-filter", PROGCAP_PLUGIN_VERSION_STRING, "Row filter",
                       progcap::plugins::filter::FilterTransform)
