// progcap GitHub plugins — the GitHub API client: authentication (token or
// GitHub App installation tokens, renewed before expiry), conditional
// requests with ETags kept in the state store, Link pagination, GraphQL, and
// GitHub's error semantics mapped to clear errors. All traffic goes through
// the host's HTTP service, whose governor shares one quota per credential
// across every step of the process.
#pragma once

#include <progcap/github/settings.hpp>
#include <progcap/sdk/context.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace progcap::github {

/// One GitHub response, parsed.
struct Page {
  int status = 0;
  std::string url;
  nlohmann::json json;               // null for 304/404
  std::optional<std::string> next;   // Link rel="next"
  std::optional<std::string> last;   // Link rel="last"
  std::string etag;                  // to commit once the page's rows are durable
  std::string etag_key;              // state key the ETag is kept under
  bool not_modified = false;         // 304: unchanged since the ETag we sent
};

struct GetOptions {
  GetOptions(std::string ep = {}, bool cond = false, bool allow = false, std::string scope = {})  // NOLINT(google-explicit-constructor)
      : endpoint(std::move(ep)), conditional(cond), allow_404(allow), etag_scope(std::move(scope)) {}
  std::string endpoint;      // metrics label, e.g. "GET /repos/{owner}/{repo}/pulls"
  bool conditional = false;  // send If-None-Match with the ETag stored for this URL
  bool allow_404 = false;    // return a 404 instead of throwing
  /// Distinguishes ETags of one URL used under different selections (e.g. a
  /// listing walked with another time window must not answer 304).
  std::string etag_scope;
};

/// GraphQL bookkeeping from `rateLimit { cost remaining resetAt }`.
struct GraphqlCost {
  int64_t cost = 0;
  int64_t remaining = -1;
  std::string reset_at;
};

/// Array elements handed over while a JSON answer is parsed, so that a large
/// answer is never held as one document: `wants(path)` says whether the
/// elements of the array at `path` (the keys from the root, e.g. `data`,
/// `repository`, `pullRequests`, `nodes`; an element of an enclosing array is
/// the key `[]`) are streamed; `visit(path, element)` receives each one in
/// document order, as soon as it is complete, and may move from it. Streamed
/// elements are left out of the parsed document; nested arrays inside a
/// streamed element stay in it.
struct JsonStream {
  std::function<bool(std::span<const std::string> path)> wants;
  std::function<void(std::span<const std::string> path, nlohmann::json& element)> visit;
};

/// Parses `text` like nlohmann::json::parse, streaming the elements `stream`
/// selects. Throws nlohmann::json::parse_error on invalid JSON, before any
/// element is visited (the text is validated first).
nlohmann::json parse_streaming(std::string_view text, const JsonStream& stream);

/// Thrown when GitHub times out a GraphQL query (502/504): shrink the page.
struct GraphqlTimeout : sdk::Error {
  explicit GraphqlTimeout(const std::string& m) : sdk::Error(sdk::Status::Retry, m) {}
};

/// "owner/repo" -> "owner%2Frepo"-safe path segments etc.
std::string url_encode(std::string_view s);
/// Parses the `Link` header into rel -> URL.
std::optional<std::string> link_rel(std::string_view link_header, std::string_view rel);
/// base64url without padding (JWT).
std::string base64url(std::string_view data);
/// A GitHub App JWT (RS256) for `app_id`, valid from now-60 s for `ttl_s`.
std::string make_app_jwt(const std::string& app_id, const std::string& pem, int64_t now_s, int64_t ttl_s = 540);

class Client {
 public:
  Client(const sdk::Context& ctx, Settings settings);

  /// api_url + path (path starts with '/').
  [[nodiscard]] std::string url(std::string_view path) const;
  /// GET a JSON resource. Retries truncated or invalid JSON; maps 401/403 to
  /// AuthError, a repository 404 to ConfigError, exhausted quota to a clear
  /// FatalError (the run is resumable), 5xx/transport failures to RetryError.
  Page get(const std::string& url, const GetOptions& opts);
  /// Commits the page's ETag (ordered after everything emitted so far).
  void commit_etag(const Page& page) const;
  /// Runs a GraphQL query; returns `data`. Throws GraphqlTimeout on 502/504.
  /// With `stream`, the selected arrays' elements (paths start at the root:
  /// `data`, …) go to its visitor while the answer is parsed and are not in the
  /// returned `data`; they are visited only for an answer that is valid JSON
  /// with a 200 status, once (never for an attempt that is retried).
  nlohmann::json graphql(const std::string& query, const nlohmann::json& variables, GraphqlCost* cost = nullptr,
                         const JsonStream* stream = nullptr);

  /// The quota key of the current credential ("github:token:<hash>" or
  /// "github:installation:<id>").
  [[nodiscard]] const std::string& quota_key();
  [[nodiscard]] const Settings& settings() const noexcept { return s_; }
  [[nodiscard]] const sdk::Context& ctx() const noexcept { return ctx_; }

  // Counters (also reported as plugin metrics).
  [[nodiscard]] int64_t requests() const noexcept { return requests_; }
  [[nodiscard]] int64_t not_modified() const noexcept { return not_modified_; }
  [[nodiscard]] int64_t graphql_points() const noexcept { return graphql_points_; }

 private:
  /// Body handler for send(): gets each response's head and a view of the host's body buffer.
  using BodyConsumer = std::function<void(sdk::HttpResponse& head, std::string_view body)>;
  sdk::HttpResponse send(sdk::HttpRequest req, bool graphql, const BodyConsumer* consume = nullptr);
  std::string authorization();
  void refresh_installation_token();
  [[noreturn]] void throw_for(const sdk::HttpResponse& r, const std::string& what) const;

  sdk::Context ctx_;
  Settings s_;
  std::string quota_key_;
  std::string token_;          // current installation or personal token
  int64_t token_expires_ms_ = 0;
  int64_t installation_id_ = 0;
  int64_t requests_ = 0;
  int64_t not_modified_ = 0;
  int64_t graphql_points_ = 0;
};

}  // namespace progcap::github
