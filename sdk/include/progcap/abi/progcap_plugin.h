/*
 * progcap plugin ABI — the stable C boundary between the progcap host and its
 * plugins. Pure C99, fixed-width types only. Normative rules are repeated in
 * docs/plugin-abi.md; this header is the source of truth for layouts.
 *
 * VERSIONING
 *   PROGCAP_ABI_MAJOR.PROGCAP_ABI_MINOR is independent of the product version.
 *   A host accepts a plugin when plugin.major == host.major and
 *   plugin.minor <= host.minor. Within a major version:
 *     - structs only grow at the end (new fields are appended);
 *     - functions are only appended to progcap_host_api;
 *     - status codes, value types, option types and flags may be added.
 *   Anything else is a new major version.
 *
 * EXTENSIBLE STRUCTS
 *   Every struct that can grow starts with `uint32_t struct_size`, which the
 *   producer sets to sizeof(struct) as compiled. A reader copies
 *   min(struct_size, sizeof(its own view)) into a zeroed struct, so fields
 *   added later read as 0/NULL for older producers. The host refuses plugin
 *   structs larger than it knows (the plugin was built against a newer SDK).
 *   Plugins must check host->struct_size before calling host functions that
 *   were appended after the minor version they require (see
 *   PROGCAP_HOST_HAS()).
 *   Arrays of extensible structs are arrays of POINTERS, so each element
 *   carries its own size.
 *
 * FROZEN STRUCTS
 *   progcap_str, progcap_value and progcap_http_header are plain value types
 *   laid out in arrays; their layout is frozen for the whole major version and
 *   they carry no size field.
 *
 * OWNERSHIP AND LIFETIME (see docs/plugin-abi.md "Ownership")
 *   1. Whoever allocates frees. A plugin instance's state is created by
 *      `create` and freed by `destroy`; everything else (batches, strings,
 *      errors, responses) belongs to the host.
 *   2. PROGCAP_BORROWED pointers are valid only until the call returns. Copy
 *      what you need to keep.
 *   3. Strings handed out by the host arrive through callbacks; no ownership is
 *      ever transferred across the boundary.
 *   4. Nothing C++ crosses: no exceptions, no std:: types, no RTTI.
 *   5. The plugin library stays loaded until every instance is destroyed and
 *      the descriptor's deinit has run.
 *
 * THREADING
 *   Plugin loading happens on one thread. A component without
 *   PROGCAP_COMPONENT_THREAD_SAFE gets its calls serialized per instance.
 *   Host API functions are thread-safe unless noted.
 */
#ifndef PROGCAP_ABI_PROGCAP_PLUGIN_H
#define PROGCAP_ABI_PROGCAP_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

#define PROGCAP_ABI_MAJOR 1
#define PROGCAP_ABI_MINOR 0
/* Cast-free so the macros are warning-free in C++ (-Wold-style-cast). */
#define PROGCAP_ABI_MAKE(major, minor) ((((major)*65536u) | ((minor)&0xFFFFu)))
#define PROGCAP_ABI_VERSION PROGCAP_ABI_MAKE(PROGCAP_ABI_MAJOR, PROGCAP_ABI_MINOR)
#define PROGCAP_ABI_MAJOR_OF(v) (((v)+0u) >> 16)
#define PROGCAP_ABI_MINOR_OF(v) (((v)+0u) & 0xFFFFu)

/* Exported symbol names (exactly two per plugin). */
#define PROGCAP_SYMBOL_ABI_VERSION "progcap_plugin_abi_version"
#define PROGCAP_SYMBOL_ENTRY "progcap_plugin_entry"

#if defined(_WIN32)
#define PROGCAP_EXPORT __declspec(dllexport)
#else
#define PROGCAP_EXPORT __attribute__((visibility("default")))
#endif

/* Documentation markers; they expand to nothing. */
#define PROGCAP_BORROWED /* valid for the duration of the call only */
#define PROGCAP_OWNED    /* owned by the side that allocated it */
#define PROGCAP_NULLABLE /* may be NULL */

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

typedef int32_t progcap_status;

#define PROGCAP_OK 0              /* success */
#define PROGCAP_RETRY 1           /* transient failure: the host backs off and calls again */
#define PROGCAP_DONE 2            /* source: no more data */
#define PROGCAP_PENDING 3         /* sink: accepted, but durable only after flush(END_OF_STREAM);
                                     checkpoints wait for that flush */
#define PROGCAP_ERR_CONFIG (-1)   /* bad configuration: the step fails, not retried */
#define PROGCAP_ERR_DATA (-2)     /* bad records: the batch goes to the dead-letter file */
#define PROGCAP_ERR_IO (-3)       /* I/O failure: retried like RETRY, then fails the step */
#define PROGCAP_ERR_FATAL (-4)    /* unrecoverable: the pipeline stops */
#define PROGCAP_ERR_NOT_FOUND (-5) /* lookup miss (state_get, secret_get, info_get) */
#define PROGCAP_ERR_AUTH (-6)     /* credentials rejected: the step stops, not retried */
#define PROGCAP_ERR_CANCELLED (-7) /* the run is stopping (signal or timeout) */
/* Unknown codes are treated as PROGCAP_ERR_FATAL by both sides. */

/* ------------------------------------------------------------------------ */
/* Frozen value types                                                       */
/* ------------------------------------------------------------------------ */

/* A non-owning string view. Not NUL-terminated. data may be NULL iff len==0. */
typedef struct progcap_str {
  const char* data;
  uint64_t len;
} progcap_str;

typedef int32_t progcap_type;
#define PROGCAP_TYPE_NULL 0
#define PROGCAP_TYPE_BOOL 1
#define PROGCAP_TYPE_INT64 2
#define PROGCAP_TYPE_DOUBLE 3
#define PROGCAP_TYPE_STRING 4
#define PROGCAP_TYPE_TIMESTAMP 5 /* int64 microseconds since 1970-01-01T00:00:00Z (UTC) */
#define PROGCAP_TYPE_JSON 6      /* JSON text in .v.str, for nested data */

/* A tagged value. 24 bytes, layout frozen for ABI major 1. */
typedef struct progcap_value {
  progcap_type type;
  uint32_t reserved; /* must be 0 */
  union {
    uint8_t b;    /* PROGCAP_TYPE_BOOL: 0 or 1 */
    int64_t i64;  /* PROGCAP_TYPE_INT64, PROGCAP_TYPE_TIMESTAMP */
    double f64;   /* PROGCAP_TYPE_DOUBLE */
    progcap_str str; /* PROGCAP_TYPE_STRING, PROGCAP_TYPE_JSON */
  } v;
} progcap_value;

/* ------------------------------------------------------------------------ */
/* Opaque host handles                                                      */
/* ------------------------------------------------------------------------ */

typedef struct progcap_host_ctx progcap_host_ctx;     /* one per component instance */
typedef struct progcap_error progcap_error;           /* out-of-band error detail */
typedef struct progcap_emitter progcap_emitter;       /* where sources/transforms put rows */
typedef struct progcap_batch_ctx progcap_batch_ctx;   /* per-delivery handle for row rejection */

/* ------------------------------------------------------------------------ */
/* Schemas                                                                  */
/* ------------------------------------------------------------------------ */

#define PROGCAP_FIELD_NULLABLE 0x1u
#define PROGCAP_FIELD_PRIMARY_KEY 0x2u /* part of the stream's natural key */

typedef struct progcap_field {
  uint32_t struct_size;
  progcap_type type;
  progcap_str name;
  uint32_t flags; /* PROGCAP_FIELD_* */
  uint32_t reserved;
  progcap_str description;
} progcap_field;

/* A stream: a named sequence of rows that share one schema. */
typedef struct progcap_schema {
  uint32_t struct_size;
  uint32_t field_count;
  progcap_str stream; /* stream name, e.g. "pull_requests" */
  const progcap_field* const* fields;
  progcap_str description;
} progcap_schema;

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

typedef int32_t progcap_option_type;
#define PROGCAP_OPTION_STRING 1
#define PROGCAP_OPTION_INT 2
#define PROGCAP_OPTION_DOUBLE 3
#define PROGCAP_OPTION_BOOL 4
#define PROGCAP_OPTION_STRING_LIST 5 /* delivered as JSON array text */
#define PROGCAP_OPTION_DURATION 6    /* "250ms", "30s", "5m", "2h" or integer ms; delivered as INT64 ms */
#define PROGCAP_OPTION_JSON 7        /* any YAML value; delivered as JSON text */

#define PROGCAP_OPTION_REQUIRED 0x1u
#define PROGCAP_OPTION_SECRET 0x2u /* value is redacted in logs, reports and `plugins describe` */

typedef struct progcap_option_def {
  uint32_t struct_size;
  progcap_option_type type;
  progcap_str name;
  progcap_str description;
  uint32_t flags; /* PROGCAP_OPTION_* */
  uint32_t reserved;
  progcap_str default_value; /* YAML/JSON text; empty = no default */
  progcap_str pattern;       /* ECMAScript regex a string value must match fully; empty = any */
  progcap_str allowed;       /* '|'-separated list of allowed string values; empty = any */
  int64_t min_value;         /* INT/DURATION bounds, used when has_range != 0 */
  int64_t max_value;
  uint8_t has_range;
  uint8_t padding[7];
} progcap_option_def;

/* Validated option values handed to `create`: defaults applied, types
   converted. Valid for the duration of the `create` call. */
typedef struct progcap_config {
  uint32_t struct_size;
  uint32_t count;
  const progcap_str* names;
  const progcap_value* values;
} progcap_config;

/* ------------------------------------------------------------------------ */
/* Batches (host-owned; what sinks and transforms receive)                  */
/* ------------------------------------------------------------------------ */

#define PROGCAP_BATCH_FORMAT_ROWS 0
#define PROGCAP_BATCH_FORMAT_ARROW 1 /* reserved for a later minor version */

typedef struct progcap_batch {
  uint32_t struct_size;
  uint32_t format; /* PROGCAP_BATCH_FORMAT_ROWS */
  const progcap_schema* schema;
  uint64_t row_count;
  uint32_t field_count; /* == schema->field_count */
  uint32_t reserved;
  const progcap_value* values; /* row-major: row r, field f at values[r * field_count + f] */
  uint64_t sequence;           /* position of this batch in its step, from 1 */
  progcap_batch_ctx* ctx;      /* pass to host->reject_row */
} progcap_batch;

/* ------------------------------------------------------------------------ */
/* HTTP through the host (one shared quota governor per process)           */
/* ------------------------------------------------------------------------ */

typedef struct progcap_http_header {
  progcap_str name;
  progcap_str value;
} progcap_http_header;

#define PROGCAP_HTTP_MUTATING 0x1u /* POST/PATCH/PUT/DELETE that creates content: spaced by the governor */
#define PROGCAP_HTTP_NO_RETRY 0x2u /* the caller handles retries itself */
#define PROGCAP_HTTP_GRAPHQL 0x4u  /* count against the GraphQL budget of quota_key */

typedef struct progcap_http_request {
  uint32_t struct_size;
  uint32_t flags;       /* PROGCAP_HTTP_* */
  progcap_str method;   /* "GET", "POST", ... */
  progcap_str url;      /* absolute URL */
  uint32_t header_count;
  uint32_t timeout_ms;  /* 0 = host default */
  const progcap_http_header* headers;
  progcap_str body;
  progcap_str quota_key; /* who pays, e.g. "github:installation:42"; empty = no governance */
  progcap_str endpoint;  /* metrics label, e.g. "GET /repos/{owner}/{repo}/pulls" */
  uint32_t max_attempts; /* 0 = host default */
  uint32_t reserved;
  uint64_t max_wait_ms;  /* longest the host may wait for quota (rate-limit reset) before
                            answering 429 with x-progcap-quota-exhausted; 0 = host default */
} progcap_http_request;

typedef struct progcap_http_response {
  uint32_t struct_size;
  int32_t status; /* HTTP status; 0 when no response was received */
  uint32_t header_count;
  uint32_t attempts; /* how many times the host sent the request */
  const progcap_http_header* headers; /* names lower-case */
  progcap_str body;
  progcap_str error; /* transport error text when status == 0 */
} progcap_http_response;

typedef void (*progcap_http_response_cb)(void* user, const progcap_http_response* PROGCAP_BORROWED response);
typedef void (*progcap_str_cb)(void* user, progcap_str PROGCAP_BORROWED value);

/* ------------------------------------------------------------------------ */
/* Host services                                                            */
/* ------------------------------------------------------------------------ */

typedef int32_t progcap_log_level;
#define PROGCAP_LOG_TRACE 0
#define PROGCAP_LOG_DEBUG 1
#define PROGCAP_LOG_INFO 2
#define PROGCAP_LOG_WARN 3
#define PROGCAP_LOG_ERROR 4

typedef struct progcap_host_api {
  uint32_t struct_size;
  uint32_t abi_version; /* the host's PROGCAP_ABI_VERSION */

  /* Logging (spdlog stays in the host). Messages are redacted of secrets. */
  void (*log)(progcap_host_ctx* ctx, progcap_log_level level, progcap_str message);
  uint8_t (*log_enabled)(progcap_host_ctx* ctx, progcap_log_level level);

  /* Error detail: the host copies the message. */
  void (*error_set)(progcap_error* err, progcap_status code, progcap_str message);

  /* Emit one row into `stream_index` of the component's declared streams
     (transforms with no declared streams pass PROGCAP_STREAM_INPUT). The host
     copies every value; strings need only live for the call. May block when
     downstream is slow (backpressure). Returns PROGCAP_ERR_CANCELLED when the
     run is stopping, PROGCAP_ERR_DATA when the row does not match the
     schema (wrong count or type). */
  progcap_status (*emit_row)(progcap_emitter* out, uint32_t stream_index, const progcap_value* values,
                             uint32_t value_count, progcap_error* err);

  /* Record a checkpoint: `value` is committed to the state store under `key`
     only after every sink has acknowledged every row emitted before this call
     (at-least-once). Called from the source's thread. */
  progcap_status (*checkpoint)(progcap_host_ctx* ctx, progcap_str key, progcap_str value);

  /* Durable key-value state, namespaced per pipeline step and component.
     state_get calls cb with the value and returns PROGCAP_OK, or returns
     PROGCAP_ERR_NOT_FOUND. state_put/state_delete are immediate. */
  progcap_status (*state_get)(progcap_host_ctx* ctx, progcap_str key, progcap_str_cb cb, void* user);
  progcap_status (*state_put)(progcap_host_ctx* ctx, progcap_str key, progcap_str value);
  progcap_status (*state_delete)(progcap_host_ctx* ctx, progcap_str key);

  /* Metrics: monotonically increasing counters and last-value gauges,
     reported per step in the run report. */
  void (*metric_add)(progcap_host_ctx* ctx, progcap_str name, int64_t delta);
  void (*metric_set)(progcap_host_ctx* ctx, progcap_str name, double value);

  /* Secrets from the environment. The value is registered for redaction. */
  progcap_status (*secret_get)(progcap_host_ctx* ctx, progcap_str name, progcap_str_cb cb, void* user);

  /* Run information: "run_id", "pipeline", "step", "component", "instance",
     "dry_run" ("true"/"false"), "state_dir", "host_version". */
  progcap_status (*info_get)(progcap_host_ctx* ctx, progcap_str key, progcap_str_cb cb, void* user);

  /* Blocking HTTP request through the host's HTTP service. `cb` is called
     exactly once (also for transport failures, with status 0) before the
     function returns, on the calling thread and with no host lock held: it
     may call other host functions (e.g. emit rows parsed from the body). Returns PROGCAP_OK when a response (any status) was
     delivered, PROGCAP_ERR_CANCELLED when the run is stopping. */
  progcap_status (*http_request)(progcap_host_ctx* ctx, const progcap_http_request* request,
                                 progcap_http_response_cb cb, void* user, progcap_error* err);

  /* Sinks: reject one row of the batch being written; it goes to the
     dead-letter file with `reason`, the rest of the batch counts as written. */
  void (*reject_row)(progcap_batch_ctx* batch, uint64_t row, progcap_str reason);

  /* Sources: send one record that could not be turned into a row (e.g. a
     malformed API object) to the dead-letter file. `record` is JSON text. */
  void (*dead_letter)(progcap_host_ctx* ctx, progcap_str stream, progcap_str record, progcap_str reason);

  /* Progress of the current work for the progress line and job tracking.
     total < 0 means unknown. */
  void (*progress)(progcap_host_ctx* ctx, progcap_str current_item, int64_t done, int64_t total);

  /* 1 when the run is stopping (signal, timeout, fatal error elsewhere). */
  uint8_t (*cancelled)(progcap_host_ctx* ctx);

  /* Sleep up to `ms` milliseconds; returns 1 early if the run is stopping. */
  uint8_t (*wait)(progcap_host_ctx* ctx, uint64_t ms);
} progcap_host_api;

/* True when the host table contains `field` (use before calling functions
   appended after the minor version a plugin requires). */
#define PROGCAP_HOST_HAS(host, field) \
  ((host) != NULL && (host)->struct_size >= offsetof(progcap_host_api, field) + sizeof((host)->field) && (host)->field != NULL)

#define PROGCAP_STREAM_INPUT 0xFFFFFFFFu /* transforms: emit into the input batch's stream */

/* ------------------------------------------------------------------------ */
/* Components                                                               */
/* ------------------------------------------------------------------------ */

typedef int32_t progcap_component_kind;
#define PROGCAP_KIND_SOURCE 1
#define PROGCAP_KIND_SINK 2
#define PROGCAP_KIND_TRANSFORM 3

#define PROGCAP_COMPONENT_THREAD_SAFE 0x1u /* the host may call one instance from several threads */
#define PROGCAP_COMPONENT_OBSOLETE 0x2u    /* kept for old pipelines; hidden from listings */

#define PROGCAP_FLUSH_END_OF_STREAM 0x1u /* the step completed: make output final */
#define PROGCAP_FLUSH_INTERRUPTED 0x2u   /* the run is stopping early: make acknowledged output durable */

typedef struct progcap_component_def {
  uint32_t struct_size;
  progcap_component_kind kind;
  progcap_str type_name; /* used in pipelines: `type: ndjson` */
  uint32_t type_version;
  uint32_t flags; /* PROGCAP_COMPONENT_* */
  progcap_str description;
  uint32_t option_count;
  uint32_t stream_count;
  const progcap_option_def* const* options;
  const progcap_schema* const* streams; /* streams a source or transform emits */

  /* All kinds. create returns the instance or NULL with `err` set. */
  void* (*create)(progcap_host_ctx* ctx, const progcap_config* config, progcap_error* err);
  void (*destroy)(void* instance);
  progcap_status (*start)(void* instance, progcap_error* err);   /* optional */
  void (*stop)(void* instance);                                  /* optional: asynchronous stop request */

  /* Sources: emit zero or more rows; return OK (call again), DONE, RETRY or an error. */
  progcap_status (*poll)(void* instance, progcap_emitter* out, progcap_error* err);

  /* Sinks: called once per stream before its first batch, to check the target. */
  progcap_status (*prepare)(void* instance, const progcap_schema* schema, progcap_error* err);
  /* Sinks: write one batch. OK = durable (rows rejected through reject_row are
     dead-lettered), PENDING = accepted but durable only once flush(END_OF_STREAM)
     succeeds (e.g. a file renamed into place at the end), RETRY/ERR_IO =
     redeliver later, ERR_DATA = dead-letter the whole batch, others stop the step. */
  progcap_status (*write)(void* instance, const progcap_batch* batch, progcap_error* err);
  /* Sinks: make output durable/final; flags = PROGCAP_FLUSH_*. */
  progcap_status (*flush)(void* instance, uint32_t flags, progcap_error* err);

  /* Transforms: read a batch, emit rows through `out`. */
  progcap_status (*process)(void* instance, const progcap_batch* batch, progcap_emitter* out, progcap_error* err);
} progcap_component_def;

/* ------------------------------------------------------------------------ */
/* Plugin descriptor and entry points                                       */
/* ------------------------------------------------------------------------ */

typedef struct progcap_plugin_descriptor {
  uint32_t struct_size;
  uint32_t abi_version; /* must equal progcap_plugin_abi_version */
  progcap_str name;     /* e.g. "sink-ndjson"; must match the manifest */
  progcap_str version;  /* the plugin's own version, e.g. "1.2.0" */
  progcap_str description;
  uint32_t component_count;
  uint32_t reserved;
  const progcap_component_def* const* components;
  void (*deinit)(void* user_data); /* optional, called before unload */
  void* user_data;
} progcap_plugin_descriptor;

/* Every plugin exports exactly these two symbols (PROGCAP_DECLARE_PLUGIN in
   the C++ SDK generates them):
     PROGCAP_EXPORT extern const uint32_t progcap_plugin_abi_version;
     PROGCAP_EXPORT const progcap_plugin_descriptor* progcap_plugin_entry(const progcap_host_api* host);
   The entry returns a descriptor that stays valid until deinit, or NULL. */
typedef const progcap_plugin_descriptor* (*progcap_plugin_entry_fn)(const progcap_host_api* host);

/* Declarations of the two exports (defined by each plugin, never by the host). */
PROGCAP_EXPORT extern const uint32_t progcap_plugin_abi_version;
PROGCAP_EXPORT const progcap_plugin_descriptor* progcap_plugin_entry(const progcap_host_api* host);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PROGCAP_ABI_PROGCAP_PLUGIN_H */
