// progcap GitHub plugins — options shared by every GitHub source.
#pragma once

#include <progcap/sdk/options.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace progcap::github {

namespace sdk = progcap::sdk;

/// Option declarations common to the GitHub sources (each plugin lists the
/// ones it uses in its options()).
struct Opt {
  static inline const auto kRepository = sdk::option<std::string>("repository")
                                             .required()
                                             .pattern("[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
                                             .describe("the repository to capture, as owner/name");
  static inline const auto kApiUrl = sdk::option<std::string>("api_url")
                                         .default_value("https://api.github.com")
                                         .pattern("https?://.+")
                                         .describe("GitHub API base URL (GitHub Enterprise: https://HOST/api/v3)");
  static inline const auto kToken =
      sdk::option<std::string>("token").secret().describe("a personal access token or GITHUB_TOKEN; used when no App is configured");
  static inline const auto kAppId = sdk::option<std::string>("app_id").pattern("[0-9]*").describe(
      "GitHub App id (with app_private_key: authenticate as the App's installation on the repository)");
  static inline const auto kAppPrivateKey =
      sdk::option<std::string>("app_private_key").secret().describe("the App's private key (PEM; literal \\n sequences are accepted)");
  static inline const auto kTokenRefreshMargin = sdk::option<std::chrono::milliseconds>("token_refresh_margin")
                                                     .default_value(std::chrono::milliseconds(5 * 60 * 1000))
                                                     .describe("renew an installation token this long before it expires");
  static inline const auto kMaxRateLimitWait = sdk::option<std::chrono::milliseconds>("max_rate_limit_wait")
                                                   .default_value(std::chrono::milliseconds(65 * 60 * 1000))
                                                   .describe("how long to wait for a rate-limit reset before failing (resumably)");
  static inline const auto kConditional = sdk::option<bool>("conditional").default_value(true).describe(
      "use ETags: unchanged resources answer 304, which costs no quota (false re-captures everything)");
  static inline const auto kPrNumbers = sdk::option<std::vector<std::string>>("pr_numbers")
                                            .pattern("[0-9]+")
                                            .describe("capture these pull requests (numbers); empty = select by time_range");
  static inline const auto kTimeRange = sdk::option<int64_t>("time_range").default_value(30).range(0, 36500).describe(
      "days: pull requests updated within this many days (0 = the whole history)");
  static inline const auto kMaxItems =
      sdk::option<int64_t>("max_items").default_value(0).range(0, INT64_MAX).describe("at most this many pull requests (0 = no limit)");
  static inline const auto kShard = sdk::option<std::string>("shard").default_value("").pattern("([0-9]+/[1-9][0-9]*)?").describe(
      "K/N: only the selected pull requests whose number % N == K (bulk capture splits one selection across N workers)");
  static inline const auto kIncludePatch =
      sdk::option<bool>("include_patch").default_value(false).describe("also store each file's diff (patch)");
};

/// Parsed common settings.
struct Settings {
  std::string owner;
  std::string name;
  std::string full_name;  // owner/name
  std::string api_url;    // without trailing slash
  std::string token;
  std::string app_id;
  std::string app_private_key;
  int64_t token_refresh_margin_ms = 300000;
  int64_t max_rate_limit_wait_ms = 3900000;
  bool conditional = true;
  std::vector<int64_t> pr_numbers;
  int64_t time_range_days = 30;
  int64_t max_items = 0;
  int64_t shard_index = 0;  // shard K of shard_count (0 = unsharded)
  int64_t shard_count = 0;
  /// True when pull request `number` belongs to this shard.
  [[nodiscard]] bool in_shard(int64_t number) const noexcept { return shard_count <= 1 || number % shard_count == shard_index; }
  bool include_patch = false;

  /// Reads the options; validates combinations (throws sdk::ConfigError).
  static Settings from(const sdk::Config& cfg);
};

}  // namespace progcap::github
