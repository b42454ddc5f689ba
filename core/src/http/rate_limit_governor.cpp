// The process-wide rate-limit governor for APIs speaking the x-ratelimit-*
// header protocol (GitHub REST and GraphQL). One bucket per (quota key,
// resource) is fed by every response; calls wait for the reset instead of
// failing, slow down before exhaustion, back off on secondary limits, and are
// capped in concurrency per key.
#include <progcap/core/http.hpp>
#include <progcap/core/logging.hpp>
#include <progcap/core/text.hpp>

#include <progcap/sdk/codec.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>

namespace progcap::core::http {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::optional<int64_t> header_int(const Response& r, const char* name) {
  const std::string* v = r.header(name);
  if (v == nullptr) return std::nullopt;
  try {
    return std::stoll(*v);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); });
  return it != hay.end();
}

std::string iso_ms(int64_t ms) { return sdk::format_rfc3339((ms / 1000) * 1000000); }

class Governor final : public QuotaPolicy {
 public:
  explicit Governor(GovernorOptions o) : opts_(o) {}

  Admission admit(const Call& call, const std::function<bool(uint64_t)>& sleep) override {
    Admission adm;
    const std::string& key = call.quota_key;
    const std::string resource = call.graphql ? "graphql" : "core";
    const uint64_t max_wait = call.max_wait_ms != 0 ? call.max_wait_ms : static_cast<uint64_t>(opts_.default_max_wait.count());
    while (true) {
      int64_t wait = 0;
      std::string reason;
      {
        std::unique_lock<std::mutex> lock(mu_);
        KeyState& ks = keys_[key];
        const int64_t now = now_ms();
        if (ks.backoff_until > now) {
          wait = ks.backoff_until - now;
          reason = "secondary rate limit back-off";
        }
        Bucket& b = buckets_[{key, resource}];
        const int64_t reset_ms = b.reset * 1000;
        if (b.remaining >= 0 && reset_ms > now) {
          if (b.remaining <= opts_.reserve) {
            const int64_t w = reset_ms - now + 1000;
            if (w > wait) {
              wait = w;
              reason = resource + " rate limit exhausted (" + std::to_string(b.used) + "/" + std::to_string(b.limit) +
                       " used), resets at " + iso_ms(reset_ms);
            }
          } else if (b.limit > 0 && static_cast<double>(b.remaining) < opts_.pace_below_fraction * static_cast<double>(b.limit)) {
            // Spread what is left evenly over the time until the reset.
            const int64_t interval = (reset_ms - now) / std::max<int64_t>(1, b.remaining - opts_.reserve);
            b.next_slot = std::max(b.next_slot, now);
            const int64_t w = b.next_slot - now;
            if (w > wait) {
              wait = w;
              reason = "pacing: " + std::to_string(b.remaining) + " " + resource + " units left until " + iso_ms(reset_ms);
            }
            if (w <= 0) b.next_slot = now + interval;
          }
        }
        if (call.mutating && ks.last_mutation > 0) {
          const int64_t w = ks.last_mutation + opts_.mutation_spacing.count() - now;
          if (w > wait) {
            wait = w;
            reason = "spacing mutating requests";
          }
        }
        if (wait <= 0) {
          if (ks.inflight >= opts_.max_concurrency) {
            wait = 5;  // wait for a slot
            reason.clear();
          } else {
            ++ks.inflight;
            if (call.mutating) ks.last_mutation = now;
            if (b.remaining > 0) --b.remaining;  // optimistic, corrected by the response
            waits_.erase(key);
            return adm;
          }
        } else {
          if (adm.waited_ms + static_cast<uint64_t>(wait) > max_wait) {
            adm.ok = false;
            adm.error = "quota '" + key + "': " + reason + "; waiting " + text::human_duration(wait) + " exceeds the allowed maximum of " +
                        text::human_duration(static_cast<long long>(max_wait));
            waits_.erase(key);
            return adm;
          }
          waits_[key] = WaitInfo{key, reason, now + wait};
          if (wait >= 2000) {
            logger()->info("waiting {} for quota '{}': {}", text::human_duration(wait), key, reason);
          }
        }
      }
      if (!sleep(static_cast<uint64_t>(wait))) {
        std::lock_guard<std::mutex> g(mu_);
        waits_.erase(key);
        adm.ok = false;
        adm.error = "cancelled";
        return adm;
      }
      if (!reason.empty()) adm.waited_ms += static_cast<uint64_t>(wait);
    }
  }

  int64_t complete(const Call& call, const Response& resp, unsigned attempt) override {
    std::lock_guard<std::mutex> lock(mu_);
    KeyState& ks = keys_[call.quota_key];
    if (ks.inflight > 0) --ks.inflight;
    const int64_t now = now_ms();
    std::string resource = call.graphql ? "graphql" : "core";
    if (const std::string* r = resp.header("x-ratelimit-resource"); r != nullptr && !r->empty()) resource = *r;
    Bucket& b = buckets_[{call.quota_key, resource}];
    if (auto v = header_int(resp, "x-ratelimit-limit")) b.limit = *v;
    if (auto v = header_int(resp, "x-ratelimit-remaining")) b.remaining = *v;
    if (auto v = header_int(resp, "x-ratelimit-used")) b.used = *v;
    if (auto v = header_int(resp, "x-ratelimit-reset")) b.reset = *v;

    const auto retry_after = header_int(resp, "retry-after");
    if (resp.status == 403 || resp.status == 429) {
      const bool primary = header_int(resp, "x-ratelimit-remaining").value_or(1) == 0;
      const bool secondary = icontains(resp.body, "secondary rate limit") || icontains(resp.body, "abuse");
      if (retry_after || secondary) {
        const int64_t backoff =
            retry_after ? *retry_after * 1000 : opts_.secondary_backoff.count() * (int64_t{1} << std::min<unsigned>(ks.strikes, 4));
        ++ks.strikes;
        ks.backoff_until = std::max(ks.backoff_until, now + backoff);
        logger()->warn("quota '{}': {} (HTTP {}); pausing this credential for {}", call.quota_key,
                       secondary ? "secondary rate limit" : "Retry-After", resp.status, text::human_duration(backoff));
        return kRetryAfterAdmission;
      }
      if (primary) {
        b.remaining = 0;
        logger()->warn("quota '{}': {} rate limit exhausted (HTTP {}), resets at {}", call.quota_key, resource, resp.status,
                       iso_ms(b.reset * 1000));
        return kRetryAfterAdmission;
      }
      return -1;  // a plain 403 (permissions): final
    }
    if (call.graphql && resp.status == 200 && resp.body.find("\"RATE_LIMITED\"") != std::string::npos) {
      b.remaining = 0;
      logger()->warn("quota '{}': GraphQL points exhausted, resets at {}", call.quota_key, iso_ms(b.reset * 1000));
      return kRetryAfterAdmission;
    }
    if (resp.status >= 200 && resp.status < 400) ks.strikes = 0;
    const bool transient = resp.status == 0 || resp.status == 408 || resp.status == 500 || resp.status == 502 || resp.status == 503 ||
                           resp.status == 504;
    if (!transient) return -1;
    if (retry_after) return std::max<int64_t>(0, *retry_after * 1000);
    const double base = 500.0 * std::pow(2.0, static_cast<double>(attempt - 1));
    return static_cast<int64_t>(std::min(base, 30000.0));
  }

  std::vector<QuotaSnapshot> snapshot() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<QuotaSnapshot> out;
    for (const auto& [k, b] : buckets_) {
      if (b.limit < 0 && b.remaining < 0) continue;
      out.push_back(QuotaSnapshot{k.first, k.second, b.limit, b.remaining, b.used, b.reset});
    }
    return out;
  }

  std::vector<WaitInfo> waits() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<WaitInfo> out;
    for (const auto& [k, w] : waits_) out.push_back(w);
    return out;
  }

 private:
  struct Bucket {
    int64_t limit = -1;
    int64_t remaining = -1;
    int64_t used = -1;
    int64_t reset = 0;      // epoch seconds
    int64_t next_slot = 0;  // pacing
  };
  struct KeyState {
    unsigned inflight = 0;
    int64_t backoff_until = 0;
    int64_t last_mutation = 0;
    unsigned strikes = 0;
  };

  GovernorOptions opts_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Bucket> buckets_;
  std::map<std::string, KeyState> keys_;
  std::map<std::string, WaitInfo> waits_;
};

}  // namespace

std::shared_ptr<QuotaPolicy> make_rate_limit_governor(GovernorOptions opts) { return std::make_shared<Governor>(opts); }

}  // namespace progcap::core::http
