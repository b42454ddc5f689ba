// progcap — the host's HTTP service. cpprestsdk is confined to one
// translation unit (src/http/transport_cpprest.cpp) behind Transport.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
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
};

/// Decides whether a response is retryable and how long to wait; the default
/// policy retries transport errors, 429, 502, 503, 504 (and 500) honouring
/// Retry-After. A quota governor (added per API family) can wrap it.
class RetryPolicy {
 public:
  virtual ~RetryPolicy() = default;
  /// Milliseconds to wait before sending (0 = go). May block callers that
  /// share a quota; implementations must return promptly on cancellation.
  virtual uint64_t before_send(const Call& call) = 0;
  /// Observe a response; return the delay before a retry, or -1 not to retry.
  virtual int64_t after_response(const Call& call, const Response& resp, unsigned attempt) = 0;
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
  /// failure) together with the number of attempts.
  Response execute(const Call& call, const std::atomic<bool>* cancel,
                   const std::function<bool(uint64_t ms)>& sleep, unsigned* attempts_out = nullptr);

  /// Installs a policy (e.g. the GitHub quota governor) for URLs whose
  /// host matches `host_suffix`; the default policy applies elsewhere.
  void add_policy(std::string host_suffix, std::shared_ptr<RetryPolicy> policy);

  [[nodiscard]] Stats stats() const;

 private:
  int64_t default_delay(const Response& resp, unsigned attempt) const;
  std::shared_ptr<RetryPolicy> policy_for(const std::string& url) const;

  std::shared_ptr<Transport> transport_;
  ServiceOptions opts_;
  mutable std::mutex mu_;
  Stats stats_;
  std::vector<std::pair<std::string, std::shared_ptr<RetryPolicy>>> policies_;
};

/// "https://api.github.com/repos/a/b?x=1" -> "/repos/a/b"
std::string url_path(const std::string& url);
/// "https://api.github.com:443/x" -> "api.github.com"
std::string url_host(const std::string& url);

}  // namespace progcap::core::http
