// sink-supabase-rest: writes the contributor.info streams through Supabase's
// REST API (PostgREST) with the service key: one
// POST /rest/v1/rpc/progcap_upsert_<table> per chunk; see README.md.
#pragma once

#include <progcap/cinfo/model.hpp>
#include <progcap/sdk/component.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace progcap::plugins::supabase {

/// A PostgREST answer reduced to what the sink acts on.
struct ApiError {
  int status = 0;
  std::string code;     // PostgREST / SQLSTATE code, e.g. "PGRST202", "23505"
  std::string message;  // "code: message (details; hint)"
  bool json = false;    // the body was JSON
};
/// Parses `{code, message, details, hint}` (or a gateway's `{message}`).
[[nodiscard]] ApiError parse_api_error(int status, const std::string& body);

/// What to do with an answer.
enum class Verdict { Ok, Retry, Split, Reject, Auth, Config, Fatal };
[[nodiscard]] Verdict classify(const ApiError& e);

class SupabaseSink final : public sdk::Sink {
 public:
  static constexpr std::string_view kType = "supabase-rest";
  static constexpr std::string_view kDescription =
      "Upserts the contributor.info streams through Supabase's REST API (PostgREST) with the service key: each chunk is one "
      "POST /rest/v1/rpc/progcap_upsert_<table> carrying a JSON array; the SQL function resolves natural keys to UUID "
      "foreign keys and writes with ON CONFLICT … WHERE … IS DISTINCT FROM. Chunks are bounded by rows and bytes and "
      "adapt to the statement timeout; 408/429/5xx are retried honouring Retry-After, 413 and statement timeouts split the "
      "chunk, rows the database refuses are dead-lettered with its message. Needs `progcap db migrate`.";

  static inline const auto kUrl = sdk::option<std::string>("url").required().describe(
      "Supabase project URL, e.g. ${env.SUPABASE_URL} (https://<ref>.supabase.co); the REST API is under /rest/v1");
  static inline const auto kServiceKey = sdk::option<std::string>("service_key").required().secret().describe(
      "service_role key (apikey and Bearer token), e.g. ${env.SUPABASE_SERVICE_KEY}");
  static inline const auto kSchema =
      sdk::option<std::string>("schema").default_value("public").describe("exposed schema (Content-Profile when not public)");
  static inline const auto kMaxRows =
      sdk::option<int64_t>("max_rows").default_value(1000).range(1, 100000).describe("rows per request at most");
  static inline const auto kMaxBytes = sdk::option<int64_t>("max_bytes").default_value(1000000).range(1024, 100000000).describe(
      "request body bytes at most (Supabase's gateway refuses large bodies with 413)");
  static inline const auto kTargetSeconds = sdk::option<int64_t>("target_seconds").default_value(3).range(1, 60).describe(
      "aim each request at this duration: chunks shrink when slower (Supabase's statement timeout is 8 s) and grow back");
  static inline const auto kTimeout =
      sdk::option<int64_t>("timeout_s").default_value(60).range(1, 600).describe("HTTP timeout per request");
  static inline const auto kMaxAttempts = sdk::option<int64_t>("max_attempts").default_value(6).range(1, 50).describe(
      "tries per request on 408/429/5xx/network errors before the batch is handed back to the runtime's retry");

  static sdk::OptionList options() {
    return {kUrl, kServiceKey, kSchema, kMaxRows, kMaxBytes, kTargetSeconds, kTimeout, kMaxAttempts};
  }

  SupabaseSink(sdk::Context ctx, const sdk::Config& cfg);

  void prepare(const progcap_schema& schema) override;
  sdk::Status write(const sdk::BatchView& batch) override;

  /// The REST base for a project URL ("…/rest/v1"); throws ConfigError for a
  /// URL without http(s) scheme or host.
  [[nodiscard]] static std::string rest_base(const std::string& url);

 private:
  struct Stats;
  struct Answer {
    ApiError error;  // status 200: error.status == 200
    std::string body;
  };
  /// POSTs `body` to `path` with retries for transient failures.
  Answer post(const std::string& path, const std::string& body);
  void check_schema(const cinfo::Table& t);
  void send(const cinfo::Binding& b, const std::vector<uint64_t>& rows, const std::vector<std::string>& objects, size_t begin,
            size_t end, Stats& stats);

  std::string base_;
  std::string key_;
  std::string schema_;
  size_t max_rows_ = 1000;
  size_t rows_now_ = 1000;  // adaptive chunk size
  size_t max_bytes_ = 1000000;
  std::chrono::milliseconds target_{3000};
  uint32_t timeout_ms_ = 60000;
  int max_attempts_ = 6;
  std::map<std::string, std::unique_ptr<cinfo::Binding>, std::less<>> bindings_;
  std::map<std::string, bool, std::less<>> checked_;
};

}  // namespace progcap::plugins::supabase
