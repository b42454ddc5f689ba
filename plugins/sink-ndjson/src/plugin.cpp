// sink-ndjson: the plugin's components. Nothing else belongs in this file.
#include "ndjson_sink.hpp"

#include <progcap/sdk/plugin.hpp>

PROGCAP_DECLARE_PLUGIN("sink-ndjson", PROGCAP_PLUGIN_VERSION_STRING, "Newline-delimited JSON files",
                       progcap::plugins::ndjson::NdjsonSink)
