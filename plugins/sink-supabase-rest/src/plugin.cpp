// sink-supabase-rest: the plugin's components. Nothing else belongs in this file.
#include "supabase_sink.hpp"

#include <progcap/sdk/plugin.hpp>

PROGCAP_DECLARE_PLUGIN("sink-supabase-rest", PROGCAP_PLUGIN_VERSION_STRING, "Supabase REST API (PostgREST)",
                       progcap::plugins::supabase::SupabaseSink)
