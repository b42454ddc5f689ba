#include <progcap/core/http.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

namespace progcap::core::http {

const std::string* Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::string url_path(const std::string& url) {
  const size_t scheme_end = url.find("://");
  size_t start = scheme_end == std::string::npos ? 0 : url.find('/', scheme_end + 3);
  if (start == std::string::npos) return "/";
  const size_t q = url.find('?', start);
  return url.substr(start, q == std::string::npos ? std::string::npos : q - start);
}

std::string url_host(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  size_t end = url.find_first_of("/:?", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

Service::Service(std::shared_ptr<Transport> transport, ServiceOptions opts) : transport_(std::move(transport)), opts_(opts) {}

void Service::set_quota_policy(std::shared_ptr<QuotaPolicy> policy) {
  std::lock_guard<std::mutex> g(mu_);
  quota_ = std::move(policy);
}

std::shared_ptr<QuotaPolicy> Service::quota_policy() const {
  std::lock_guard<std::mutex> g(mu_);
  return quota_;
}

int64_t Service::default_delay(const Response& resp, unsigned attempt) const {
  const bool retryable = resp.status == 0 || resp.status == 429 || resp.status == 500 || resp.status == 502 ||
                         resp.status == 503 || resp.status == 504 || resp.status == 408;
  if (!retryable) return -1;
  if (const std::string* ra = resp.header("retry-after"); ra != nullptr) {
    try {
      return std::max<int64_t>(0, std::stoll(*ra) * 1000);
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): an HTTP-date Retry-After falls back to backoff
    }
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const double base = static_cast<double>(opts_.initial_backoff.count()) * std::pow(2.0, attempt - 1);
  const double capped = std::min(base, static_cast<double>(opts_.max_backoff.count()));
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return static_cast<int64_t>(capped * jitter(rng));
}

Response Service::execute(const Call& call, const std::atomic<bool>* cancel, const std::function<bool(uint64_t)>& sleep,
                          unsigned* attempts_out) {
  const std::string endpoint = call.endpoint.empty() ? call.request.method + " " + url_path(call.request.url) : call.endpoint;
  const unsigned max_attempts = call.retry ? (call.max_attempts != 0 ? call.max_attempts : opts_.max_attempts) : 1;
  auto policy = call.quota_key.empty() ? nullptr : quota_policy();
  Response resp;
  unsigned attempt = 0;
  unsigned counted = 0;     // attempts that count against max_attempts
  unsigned quota_loops = 0;  // rate-limit retries (bounded separately)
  uint64_t waited = 0;
  while (true) {
    ++attempt;
    ++counted;
    if (policy) {
      const QuotaPolicy::Admission adm = policy->admit(call, sleep);
      waited += adm.waited_ms;
      if (!adm.ok) {
        resp = Response{};
        if (cancel != nullptr && cancel->load()) {
          resp.error = "cancelled";
        } else {
          resp.status = 429;
          resp.error = adm.error;
          resp.headers.emplace_back("x-progcap-quota-exhausted", "true");
          resp.body = "{\"message\":\"" + adm.error + "\"}";
        }
        break;
      }
    }
    const auto t0 = std::chrono::steady_clock::now();
    resp = transport_->send(call.request, cancel);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    {
      std::lock_guard<std::mutex> g(mu_);
      auto& ep = stats_.by_endpoint[endpoint];
      ++ep.requests;
      ++stats_.requests;
      ep.total_ms += ms;
      ep.bytes_in += resp.body.size();
      ++ep.by_status[resp.status];
      if (resp.status == 304) {
        ++ep.not_modified;
        ++stats_.not_modified;
      }
      if (attempt > 1) {
        ++ep.retries;
        ++stats_.retries;
      }
    }
    const int64_t delay = policy ? policy->complete(call, resp, counted) : default_delay(resp, attempt);
    if (cancel != nullptr && cancel->load()) break;
    if (delay == kRetryAfterAdmission) {
      if (++quota_loops > 50) break;
      --counted;  // the admission step waits for the quota; this retry is free
      continue;
    }
    if (delay < 0 || counted >= max_attempts) break;
    waited += static_cast<uint64_t>(delay);
    if (!sleep(static_cast<uint64_t>(delay))) break;
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    stats_.wait_ms += waited;
    if (resp.status == 0 || resp.status >= 400) ++stats_.by_endpoint[endpoint].errors;
  }
  if (attempts_out != nullptr) *attempts_out = attempt;
  return resp;
}

Stats Service::stats() const {
  std::lock_guard<std::mutex> g(mu_);
  return stats_;
}

}  // namespace progcap::core::http
