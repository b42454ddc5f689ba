#include <progcap/github/settings.hpp>

#include <progcap/sdk/status.hpp>

#include <algorithm>
#include <set>

namespace progcap::github {

Settings Settings::from(const sdk::Config& cfg) {
  Settings s;
  s.full_name = cfg.get(Opt::kRepository);
  const size_t slash = s.full_name.find('/');
  s.owner = s.full_name.substr(0, slash);
  s.name = s.full_name.substr(slash + 1);
  s.api_url = cfg.get(Opt::kApiUrl);
  while (!s.api_url.empty() && s.api_url.back() == '/') s.api_url.pop_back();
  s.token = cfg.get_optional(Opt::kToken).value_or("");
  s.app_id = cfg.get_optional(Opt::kAppId).value_or("");
  s.app_private_key = cfg.get_optional(Opt::kAppPrivateKey).value_or("");
  if (cfg.has(Opt::kTokenRefreshMargin.name())) s.token_refresh_margin_ms = cfg.get(Opt::kTokenRefreshMargin).count();
  if (cfg.has(Opt::kMaxRateLimitWait.name())) s.max_rate_limit_wait_ms = cfg.get(Opt::kMaxRateLimitWait).count();
  if (cfg.has(Opt::kConditional.name())) s.conditional = cfg.get(Opt::kConditional);
  if (cfg.has(Opt::kTimeRange.name())) s.time_range_days = cfg.get(Opt::kTimeRange);
  if (cfg.has(Opt::kMaxItems.name())) s.max_items = cfg.get(Opt::kMaxItems);
  if (cfg.has(Opt::kIncludePatch.name())) s.include_patch = cfg.get(Opt::kIncludePatch);
  if (cfg.has(Opt::kShard.name())) {
    const std::string sh = cfg.get(Opt::kShard);
    if (!sh.empty()) {
      const size_t sep = sh.find('/');
      s.shard_index = std::stoll(sh.substr(0, sep));
      s.shard_count = std::stoll(sh.substr(sep + 1));
      if (s.shard_index >= s.shard_count) {
        throw sdk::ConfigError("shard " + sh + ": K must be smaller than N (shards are 0/N .. " + std::to_string(s.shard_count - 1) +
                               "/N)");
      }
    }
  }
  if (cfg.has(Opt::kPrNumbers.name())) {
    std::set<int64_t> seen;
    for (const auto& n : cfg.get(Opt::kPrNumbers)) {
      int64_t v = 0;
      try {
        v = std::stoll(n);
      } catch (const std::exception&) {
        throw sdk::ConfigError("pr_numbers: '" + n + "' is not a pull request number");
      }
      if (v <= 0) throw sdk::ConfigError("pr_numbers: '" + n + "' is not a pull request number");
      if (!seen.insert(v).second) throw sdk::ConfigError("pr_numbers lists #" + n + " more than once");
      s.pr_numbers.push_back(v);
    }
  }
  if (!s.app_id.empty() && s.app_private_key.empty()) {
    throw sdk::ConfigError("app_id is set but app_private_key is empty (the bundled pipelines read CONTRIBUTOR_APP_PRIVATE_KEY)");
  }
  if (s.app_id.empty() && !s.app_private_key.empty()) {
    throw sdk::ConfigError("app_private_key is set but app_id is empty (the bundled pipelines read CONTRIBUTOR_APP_ID)");
  }
  if (s.app_id.empty() && s.token.empty()) {
    throw sdk::ConfigError("no GitHub credentials: give `token`, or `app_id` and `app_private_key` "
                           "(the bundled pipelines read GITHUB_TOKEN, or CONTRIBUTOR_APP_ID and CONTRIBUTOR_APP_PRIVATE_KEY)");
  }
  return s;
}

}  // namespace progcap::github
