// progcap — the host's HTTP service. cpprestsdk is confined to one
// translation unit (src/http/transport_cpprest.cpp) behind Transport.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace progcap::core::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};
};

struct Response {
  int status = 0;      // 0: no response (error says why)
  Headers headers;     // names lower-case
  std::string body;
  std::string error;

  [[nodiscard]] const std::string* header(std::string_view name) const;
};

/// One HTTP exchange, no retries. Implementations must be thread-safe.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Sends the request; returns early with status 0 when `cancel` becomes true.
  virtual Response send(const Request& req, const std::atomic<bool>* cancel) = 0;
};

struct TransportOptions {
  unsigned threads = 4;  // cpprest/pplx worker threads (capped: pplx defaults to 40)
};
std::unique_ptr<Transport> make_cpprest_transport(const TransportOptions& opts = {});

/// Per-endpoint counters for the run report.
struct EndpointStats {
  uint64_t requests = 0;
  uint64_t retries = 0;
  uint64_t errors = 0;       // no response, or final status >= 400
  uint64_t not_modified = 0; // 304
  uint64_t bytes_in = 0;
  double total_ms = 0;
  std::map<int, uint64_t> by_status;
};

struct Stats {
  std::map<std::string, EndpointStats> by_endpoint;
  uint64_t requests = 0;
  uint64_t retries = 0;
  uint64_t not_modified = 0;
  uint64_t wait_ms = 0;  // time spent waiting for quota/backoff
};

/// What a caller wants from one logical request.
struct Call {
  Request request;
  std::string endpoint;     // metrics label (defaults to METHOD + path)
  std::string quota_key;    // shared governor key; empty = ungoverned
  bool mutating = false;
  bool graphql = false;
  bool retry = true;
  unsigned max_attempts = 0;  // 0 = service default
  uint64_t max_wait_ms = 0;   // quota waits longer than this fail the call (0 = governor default)
};

/// A quota bucket as last reported by the server (x-ratelimit-* headers).
struct QuotaSnapshot {
  std::string key;       // quota key, e.g. "github:installation:42"
  std::string resource;  // "core", "graphql", "search", ...
  int64_t limit = -1;
  int64_t remaining = -1;
  int64_t used = -1;
  int64_t reset_epoch = 0;  // seconds since the epoch
};

/// A wait in progress (for the progress line and logs).
struct WaitInfo {
  std::string key;
  std::string reason;
  int64_t until_epoch_ms = 0;
};

/// QuotaPolicy::complete() result: retry once admission allows it (a rate
/// limit); such retries do not count against the call's max attempts.
inline constexpr int64_t kRetryAfterAdmission = -2;

/// Admission and retry decisions for calls that carry a quota key (one
/// policy instance serves the whole process, so every step shares it).
class QuotaPolicy {
 public:
  struct Admission {
    bool ok = true;        // false: give up (quota exhausted beyond max wait, or cancelled)
    std::string error;     // why not
    uint64_t waited_ms = 0;
  };
  virtual ~QuotaPolicy() = default;
  /// Called before every attempt. May block (sleeping through `sleep`, which
  /// returns false when cancelled) until the call may go.
  virtual Admission admit(const Call& call, const std::function<bool(uint64_t)>& sleep) = 0;
  /// Called after every attempt, also failed ones; learns from the response.
  /// Returns the delay before a retry, or -1 when the response is final.
  virtual int64_t complete(const Call& call, const Response& resp, unsigned attempt) = 0;
  virtual std::vector<QuotaSnapshot> snapshot() const = 0;
  virtual std::vector<WaitInfo> waits() const = 0;
};

struct ServiceOptions {
  unsigned max_attempts = 5;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
};

/// Shared by every plugin instance of the process.
class Service {
 public:
  Service(std::shared_ptr<Transport> transport, ServiceOptions opts = {});

  /// Sends with retries/backoff. `sleep` waits (cancellable); it returns
  /// false if cancelled. The final response is returned (status 0 on transport
  /// failure) together with the number of attempts. A call refused by the
  /// quota policy comes back as a synthetic 429 with the header
  /// `x-progcap-quota-exhausted: true` and the reason in `error`.
  Response execute(const Call& call, const std::atomic<bool>* cancel,
                   const std::function<bool(uint64_t ms)>& sleep, unsigned* attempts_out = nullptr);

  /// Governs calls that carry a quota key (e.g. the GitHub governor).
  void set_quota_policy(std::shared_ptr<QuotaPolicy> policy);
  [[nodiscard]] std::shared_ptr<QuotaPolicy> quota_policy() const;

  [[nodiscard]] Stats stats() const;

 private:
  int64_t default_delay(const Response& resp, unsigned attempt) const;

  std::shared_ptr<Transport> transport_;
  ServiceOptions opts_;
  mutable std::mutex mu_;
  Stats stats_;
  std::shared_ptr<QuotaPolicy> quota_;
};

/// The x-ratelimit-* header protocol (GitHub's): one bucket per (quota key,
/// resource), updated from every response; waits for the reset instead of
/// failing, slows down before exhaustion, honours Retry-After and secondary
/// limits, caps concurrency per key and spaces mutating calls.
struct GovernorOptions {
  unsigned max_concurrency = 4;                        // in-flight requests per quota key
  double pace_below_fraction = 0.10;                   // start pacing below this share of the limit
  int64_t reserve = 0;                                 // never spend the last N units
  std::chrono::milliseconds default_max_wait{65 * 60 * 1000};  // when a call has no max_wait_ms
  std::chrono::milliseconds mutation_spacing{1000};   // between mutating calls of one key
  std::chrono::milliseconds secondary_backoff{60000};  // without Retry-After
};
std::shared_ptr<QuotaPolicy> make_rate_limit_governor(GovernorOptions opts = {});

/// "https://api.github.com/repos/a/b?x=1" -> "/repos/a/b"
std::string url_path(const std::string& url);
/// "https://api.github.com:443/x" -> "api.github.com"
std::string url_host(const std::string& url);

}  // namespace progcap::core::http
