// source-github-pr-details: pull requests (full details and stats) and their
// changed files, every page up to GitHub's 3,000-file cap.
#pragma once

#include <progcap/github/source_base.hpp>

namespace progcap::plugins::github_pr_details {

namespace gh = progcap::github;
namespace sdk = progcap::sdk;

class PrDetailsSource final : public gh::SourceBase {
 public:
  static constexpr std::string_view kType = "github-pr-details";
  static constexpr std::string_view kDescription =
      "Pull requests with full details (state, draft, merged, merged_by, branches, additions/deletions/changed_files/commits, "
      "timestamps, URLs, author) and every changed file (all pages, up to GitHub's 3,000-file cap, warning when a PR hits it). "
      "Selects `pr_numbers`, or the PRs updated within `time_range` days (newest first, at most `max_items`). Conditional "
      "requests make unchanged PRs free; a missing PR number is dead-lettered and the run goes on.";
  static sdk::OptionList options() {
    using O = gh::Opt;
    return {O::kRepository, O::kPrNumbers, O::kTimeRange, O::kMaxItems, O::kShard, O::kIncludePatch, O::kApiUrl, O::kToken,
            O::kAppId, O::kAppPrivateKey, O::kTokenRefreshMargin, O::kMaxRateLimitWait, O::kConditional};
  }
  static std::vector<const sdk::Stream*> streams() {
    return {&gh::repositories_stream(), &gh::contributors_stream(), &gh::pull_requests_stream(), &gh::pull_request_files_stream()};
  }

  PrDetailsSource(sdk::Context ctx, const sdk::Config& cfg);
  sdk::Status poll(sdk::Emitter& out) override;

 private:
  void capture(const gh::PrSelection::Item& item);
  gh::PrSelection selection_;
  std::optional<gh::PrSelection::Item> current_;  // the PR being captured (kept across a RETRY)
  int64_t done_ = 0;
};

}  // namespace progcap::plugins::github_pr_details
