// source-github-reviews: every review (state, body, submitted_at, commit,
// author) and every review comment (path, positions, diff hunk, commits,
// reply-to, author) of the selected pull requests, all pages.
#pragma once

#include <progcap/github/source_base.hpp>

namespace progcap::plugins::github_reviews {

namespace gh = progcap::github;
namespace sdk = progcap::sdk;

class ReviewsSource final : public gh::SourceBase {
 public:
  static constexpr std::string_view kType = "github-pr-reviews";
  static constexpr std::string_view kDescription =
      "Reviews (state normalised to APPROVED/CHANGES_REQUESTED/COMMENTED/DISMISSED; pending reviews, visible only to their "
      "author, are skipped) and review comments of the selected pull requests, every page. Selects `pr_numbers`, or the PRs "
      "updated within `time_range` days. An unchanged PR costs one free 304.";
  static sdk::OptionList options() {
    using O = gh::Opt;
    return {O::kRepository, O::kPrNumbers, O::kTimeRange, O::kMaxItems, O::kShard, O::kApiUrl, O::kToken, O::kAppId,
            O::kAppPrivateKey, O::kTokenRefreshMargin, O::kMaxRateLimitWait, O::kConditional};
  }
  static std::vector<const sdk::Stream*> streams() {
    return {&gh::repositories_stream(), &gh::contributors_stream(), &gh::pull_requests_stream(), &gh::reviews_stream(),
            &gh::comments_stream()};
  }

  ReviewsSource(sdk::Context ctx, const sdk::Config& cfg);
  sdk::Status poll(sdk::Emitter& out) override;

 private:
  void capture(const gh::PrSelection::Item& item);
  gh::PrSelection selection_;
  std::optional<gh::PrSelection::Item> current_;  // the PR being captured (kept across a RETRY)
  int64_t done_ = 0;
};

}  // namespace progcap::plugins::github_reviews
