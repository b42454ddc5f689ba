// sink-postgres: the plugin's components. Nothing else belongs in this file.
#include "postgres_sink.hpp"

#include <progcap/sdk/plugin.hpp>

PROGCAP_DECLARE_PLUGIN("sink-postgres", PROGCAP_PLUGIN_VERSION_STRING, "PostgreSQL/Supabase over the Postgres protocol",
                       progcap::plugins::postgres::PostgresSink)
