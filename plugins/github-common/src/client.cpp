#include <progcap/github/client.hpp>

#include <progcap/sdk/codec.hpp>

#include <openssl/sha.h>

#include <chrono>
#include <cstdio>
#include <vector>

namespace progcap::github {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string short_hash(const std::string& s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", d[i]);
  return std::string(hex, 16);
}

/// GitHub's error message from a JSON body, or a snippet of a non-JSON body.
std::string gh_message(const sdk::HttpResponse& r) {
  try {
    auto j = nlohmann::json::parse(r.body);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): fall back to the raw text
  }
  std::string snippet = r.body.substr(0, 120);
  for (char& c : snippet) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return snippet.empty() ? (r.error.empty() ? "no body" : r.error) : snippet;
}

bool is_html(const sdk::HttpResponse& r) {
  auto ct = r.header("content-type");
  return (ct && ct->find("text/html") != std::string_view::npos) || r.body.rfind("<!DOCTYPE", 0) == 0 || r.body.rfind("<html", 0) == 0;
}

}  // namespace

std::string url_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    }
  }
  return out;
}

std::optional<std::string> link_rel(std::string_view header, std::string_view rel) {
  // <https://api.github.com/...?page=2>; rel="next", <...>; rel="last"
  size_t pos = 0;
  while (pos < header.size()) {
    const size_t lt = header.find('<', pos);
    if (lt == std::string_view::npos) break;
    const size_t gt = header.find('>', lt);
    if (gt == std::string_view::npos) break;
    const size_t comma = header.find(',', gt);
    const std::string_view params = header.substr(gt + 1, comma == std::string_view::npos ? std::string_view::npos : comma - gt - 1);
    const std::string want = "rel=\"" + std::string(rel) + "\"";
    if (params.find(want) != std::string_view::npos) return std::string(header.substr(lt + 1, gt - lt - 1));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return std::nullopt;
}

Client::Client(const sdk::Context& ctx, Settings settings) : ctx_(ctx), s_(std::move(settings)) {
  if (s_.app_id.empty()) {
    token_ = s_.token;
    quota_key_ = "github:token:" + short_hash(s_.token);
  }
}

std::string Client::url(std::string_view path) const { return s_.api_url + std::string(path); }

const std::string& Client::quota_key() {
  if (quota_key_.empty()) authorization();
  return quota_key_;
}

void Client::refresh_installation_token() {
  const int64_t now = now_ms();
  const std::string jwt = make_app_jwt(s_.app_id, s_.app_private_key, now / 1000);
  auto app_call = [&](const std::string& method, const std::string& path, const std::string& endpoint) {
    sdk::HttpRequest req;
    req.method = method;
    req.url = url(path);
    req.headers = {{"Accept", "application/vnd.github+json"},
                   {"X-GitHub-Api-Version", "2022-11-28"},
                   {"Authorization", "Bearer " + jwt}};
    req.quota_key = "github:app:" + s_.app_id;
    req.endpoint = endpoint;
    req.timeout_ms = 30000;
    req.max_wait_ms = static_cast<uint64_t>(s_.max_rate_limit_wait_ms);
    if (method == "POST") req.flags = PROGCAP_HTTP_MUTATING;
    ++requests_;
    return ctx_.http(req);
  };
  if (installation_id_ == 0) {
    auto r = app_call("GET", "/repos/" + s_.owner + "/" + s_.name + "/installation", "GET /repos/{owner}/{repo}/installation");
    if (r.status == 404) {
      throw sdk::AuthError("the GitHub App " + s_.app_id + " is not installed on " + s_.full_name +
                           " (GET /repos/" + s_.full_name + "/installation answered 404); install the App on the repository's owner");
    }
    if (r.status == 401) {
      throw sdk::AuthError("GitHub rejected the App JWT (401: " + gh_message(r) +
                           "); check CONTRIBUTOR_APP_ID and CONTRIBUTOR_APP_PRIVATE_KEY");
    }
    if (r.status != 200) throw_for(r, "looking up the App installation of " + s_.full_name);
    try {
      installation_id_ = nlohmann::json::parse(r.body).at("id").get<int64_t>();
    } catch (const std::exception& e) {
      throw sdk::RetryError(std::string("unexpected installation response: ") + e.what());
    }
  }
  auto r = app_call("POST", "/app/installations/" + std::to_string(installation_id_) + "/access_tokens",
                    "POST /app/installations/{id}/access_tokens");
  if (r.status == 401) {
    throw sdk::AuthError("GitHub rejected the App JWT (401: " + gh_message(r) + "); check CONTRIBUTOR_APP_ID and CONTRIBUTOR_APP_PRIVATE_KEY");
  }
  if (r.status != 201 && r.status != 200) throw_for(r, "creating an installation access token");
  try {
    auto j = nlohmann::json::parse(r.body);
    token_ = j.at("token").get<std::string>();
    const auto exp = sdk::parse_rfc3339(j.at("expires_at").get<std::string>());
    token_expires_ms_ = exp ? *exp / 1000 : now + 3600 * 1000;
  } catch (const std::exception& e) {
    throw sdk::RetryError(std::string("unexpected access token response: ") + e.what());
  }
  quota_key_ = "github:installation:" + std::to_string(installation_id_);
  ctx_.metric_add("installation_tokens");
  ctx_.info("using an installation token of App {} for {} (installation {}, expires {})", s_.app_id, s_.full_name, installation_id_,
            sdk::format_rfc3339(token_expires_ms_ * 1000));
}

std::string Client::authorization() {
  if (!s_.app_id.empty()) {
    if (token_.empty() || now_ms() + s_.token_refresh_margin_ms >= token_expires_ms_) refresh_installation_token();
  }
  return "token " + token_;
}

sdk::HttpResponse Client::send(sdk::HttpRequest req, bool graphql, const BodyConsumer* consume) {
  bool refreshed = false;
  const std::vector<sdk::HttpHeader> extra = req.headers;  // e.g. If-None-Match
  while (true) {
    req.headers = {{"Accept", "application/vnd.github+json"}, {"X-GitHub-Api-Version", "2022-11-28"}, {"Authorization", authorization()}};
    for (const auto& h : extra) req.headers.push_back(h);
    if (!req.body.empty()) req.headers.push_back({"Content-Type", "application/json"});
    req.quota_key = quota_key_;
    req.max_wait_ms = static_cast<uint64_t>(s_.max_rate_limit_wait_ms);
    if (req.timeout_ms == 0) req.timeout_ms = 60000;
    if (graphql) req.flags |= PROGCAP_HTTP_GRAPHQL;
    ++requests_;
    sdk::HttpResponse r = consume != nullptr ? ctx_.http(req, *consume) : ctx_.http(req);
    if (r.header("x-progcap-quota-exhausted")) {
      throw sdk::FatalError("GitHub rate limit: " + r.error + ". The run can be resumed once the quota resets (or raise max_rate_limit_wait)");
    }
    // An installation token can be revoked early: renew once and retry.
    if (r.status == 401 && !s_.app_id.empty() && !refreshed) {
      ctx_.warn("GitHub answered 401 for {}; renewing the installation token", req.endpoint);
      token_.clear();
      refreshed = true;
      continue;
    }
    return r;
  }
}

void Client::throw_for(const sdk::HttpResponse& r, const std::string& what) const {
  const std::string msg = gh_message(r);
  if (r.status == 0) throw sdk::RetryError("GitHub unreachable while " + what + ": " + r.error);
  if (r.status == 401) {
    throw sdk::AuthError("GitHub rejected the credentials while " + what + " (401 " + msg +
                         "); check GITHUB_TOKEN, or CONTRIBUTOR_APP_ID/CONTRIBUTOR_APP_PRIVATE_KEY");
  }
  if (r.status == 403) {
    throw sdk::AuthError("GitHub refused access while " + what + " (403 " + msg + "); the credentials lack permission");
  }
  if (r.status == 404) {
    throw sdk::ConfigError("repository " + s_.full_name + " not found, or not visible to these credentials (404 while " + what + ")");
  }
  if (r.status == 422) throw sdk::ConfigError("GitHub rejected the request while " + what + " (422 " + msg + ")");
  if (r.status >= 500 || r.status == 429 || r.status == 408) {
    throw sdk::RetryError("GitHub answered " + std::to_string(r.status) + " while " + what + ": " + msg);
  }
  throw sdk::FatalError("unexpected GitHub answer " + std::to_string(r.status) + " while " + what + ": " + msg);
}

Page Client::get(const std::string& page_url, const GetOptions& opts) {
  const std::string etag_key = "etag:" + page_url + opts.etag_scope;
  std::optional<std::string> stored;
  if (opts.conditional && s_.conditional) stored = ctx_.state_get(etag_key);
  constexpr int kJsonAttempts = 4;
  for (int attempt = 1;; ++attempt) {
    sdk::HttpRequest req;
    req.method = "GET";
    req.url = page_url;
    req.endpoint = opts.endpoint;
    req.max_attempts = 6;
    if (stored) req.headers.push_back({"If-None-Match", *stored});
    const sdk::HttpResponse r = send(req, false);
    Page page;
    page.status = r.status;
    page.url = page_url;
    page.etag_key = etag_key;
    if (r.status == 304) {
      ++not_modified_;
      ctx_.metric_add("not_modified");
      page.not_modified = true;
      return page;
    }
    if (r.status == 404 && opts.allow_404) return page;
    if (r.status != 200) throw_for(r, opts.endpoint.empty() ? "GET " + page_url : opts.endpoint);
    try {
      if (is_html(r)) throw std::runtime_error("an HTML page instead of JSON");
      page.json = nlohmann::json::parse(r.body);
    } catch (const std::exception& e) {
      // Truncated or garbled bodies are transient: ask again.
      if (attempt < kJsonAttempts) {
        ctx_.warn("GitHub sent {} for {} (attempt {}); retrying", e.what(), opts.endpoint, attempt);
        ctx_.metric_add("invalid_json_retries");
        if (!ctx_.wait(static_cast<uint64_t>(250 * attempt))) throw sdk::CancelledError();
        continue;
      }
      throw sdk::RetryError("GitHub keeps answering invalid JSON for " + page_url + ": " + e.what());
    }
    if (auto link = r.header("link")) {
      page.next = link_rel(*link, "next");
      page.last = link_rel(*link, "last");
    }
    if (auto et = r.header("etag")) page.etag = std::string(*et);
    return page;
  }
}

namespace {

/// Throws the parse_error describing why `text` is not JSON; builds no document.
void validate_json(std::string_view text) {
  if (!nlohmann::json::accept(text)) {
    [[maybe_unused]] const auto j = nlohmann::json::parse(text);  // throws: only reached for invalid text
  }
}

/// parse_streaming for text known to be valid JSON.
nlohmann::json parse_valid_streaming(std::string_view text, const JsonStream& stream) {
  using json = nlohmann::json;
  // keys[d] names the value at depth d: its object key, or "[]" when it is an
  // array element (element[d], which a key spelled "[]" cannot fake).
  std::vector<std::string> keys(1);
  std::vector<char> element(1, 0);
  static const std::string kElement = "[]";
  auto set_depth = [&](int depth, const std::string& key, bool is_element) {
    const auto d = static_cast<size_t>(depth);
    if (keys.size() <= d) {
      keys.resize(d + 1);
      element.resize(d + 1, 0);
    }
    keys[d] = key;
    element[d] = is_element ? 1 : 0;
  };
  return json::parse(text, [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::key:
        set_depth(depth, parsed.get_ref<const std::string&>(), false);
        return true;
      case json::parse_event_t::array_start:
        set_depth(depth + 1, kElement, true);
        return true;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
      case json::parse_event_t::value: {
        // A complete value; elements of a wanted array are handed over and dropped.
        if (depth < 1 || static_cast<size_t>(depth) >= element.size() || element[static_cast<size_t>(depth)] == 0) return true;
        const std::span<const std::string> path(keys.data() + 1, static_cast<size_t>(depth) - 1);
        if (!stream.wants(path)) return true;
        stream.visit(path, parsed);
        return false;
      }
      case json::parse_event_t::object_start:
        return true;
    }
    return true;
  });
}

}  // namespace

nlohmann::json parse_streaming(std::string_view text, const JsonStream& stream) {
  // Validate first: a truncated answer must not hand half of its elements to the visitor.
  validate_json(text);
  return parse_valid_streaming(text, stream);
}

void Client::commit_etag(const Page& page) const {
  if (!s_.conditional || page.etag.empty() || page.etag_key.empty()) return;
  ctx_.checkpoint(page.etag_key, page.etag);
}

nlohmann::json Client::graphql(const std::string& query, const nlohmann::json& variables, GraphqlCost* cost,
                               const JsonStream* stream) {
  nlohmann::json body = {{"query", query}, {"variables", variables}};
  constexpr int kJsonAttempts = 4;
  for (int attempt = 1;; ++attempt) {
    sdk::HttpRequest req;
    req.method = "POST";
    req.url = url("/graphql");
    req.endpoint = "POST /graphql";
    req.body = body.dump();
    req.max_attempts = 4;
    // 502/504 are GitHub's query timeouts: the caller shrinks the page
    // instead of repeating the same expensive query.
    req.flags = PROGCAP_HTTP_NO_RETRY;
    // With a stream, a good answer is parsed straight from the host's buffer
    // (no copy of a multi-megabyte body); anything else is copied and goes
    // through the checks and retries below.
    nlohmann::json j;
    bool parsed = false;
    const BodyConsumer consume = [&](sdk::HttpResponse& head, std::string_view text) {
      if (head.status == 200 && !is_html(head) && nlohmann::json::accept(text)) {
        // Valid JSON: only the visitor can throw now, and its elements are never visited twice.
        j = parse_valid_streaming(text, *stream);
        parsed = true;
      } else {
        head.body.assign(text);
      }
    };
    sdk::HttpResponse r = send(req, true, stream != nullptr ? &consume : nullptr);
    if (r.status == 502 || r.status == 504) throw GraphqlTimeout("GitHub GraphQL timed out (" + std::to_string(r.status) + ")");
    if (r.status != 200) {
      if (r.status == 0 || r.status >= 500) {
        if (attempt < kJsonAttempts) {
          if (!ctx_.wait(static_cast<uint64_t>(500 * attempt))) throw sdk::CancelledError();
          continue;
        }
      }
      throw_for(r, "running a GraphQL query");
    }
    try {
      if (is_html(r)) throw std::runtime_error("an HTML page instead of JSON");
      if (!parsed) j = nlohmann::json::parse(r.body);
    } catch (const std::exception& e) {
      if (attempt < kJsonAttempts) {
        ctx_.warn("GitHub GraphQL sent {} (attempt {}); retrying", e.what(), attempt);
        ctx_.metric_add("invalid_json_retries");
        if (!ctx_.wait(static_cast<uint64_t>(250 * attempt))) throw sdk::CancelledError();
        continue;
      }
      throw sdk::RetryError(std::string("GitHub GraphQL keeps answering invalid JSON: ") + e.what());
    }
    const nlohmann::json& data = j.contains("data") ? j["data"] : nlohmann::json();
    if (data.is_object() && data.contains("rateLimit") && data["rateLimit"].is_object()) {
      const auto& rl = data["rateLimit"];
      const int64_t c = rl.value("cost", 0);
      graphql_points_ += c;
      ctx_.metric_add("graphql_points", c);
      if (cost != nullptr) {
        cost->cost = c;
        cost->remaining = rl.value("remaining", int64_t{-1});
        cost->reset_at = rl.value("resetAt", std::string());
      }
      ctx_.metric_set("graphql_remaining", static_cast<double>(rl.value("remaining", int64_t{-1})));
    }
    if (j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
      // Partial data (e.g. a 32-bit databaseId overflow elsewhere) is usable;
      // errors without data are not.
      std::string first;
      bool not_found = false;
      for (const auto& e : j["errors"]) {
        if (first.empty() && e.contains("message") && e["message"].is_string()) first = e["message"].get<std::string>();
        if (e.value("type", std::string()) == "NOT_FOUND") not_found = true;
        if (e.value("type", std::string()) == "RATE_LIMITED") {
          throw sdk::FatalError("GitHub GraphQL rate limit exhausted and not restored within max_rate_limit_wait: " + first);
        }
      }
      if (not_found) {
        throw sdk::ConfigError("repository " + s_.full_name + " not found, or not visible to these credentials (GraphQL: " + first + ")");
      }
      if (!data.is_object() || data.empty()) throw sdk::FatalError("GitHub rejected the GraphQL query: " + first);
      ctx_.debug("GraphQL answered with partial errors: {}", first);
    }
    if (!data.is_object()) throw sdk::RetryError("GitHub GraphQL answered without data");
    return data;
  }
}

}  // namespace progcap::github
