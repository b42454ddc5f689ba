// source-github-comments: every conversation (issue) comment of the selected
// pull requests, all pages.
#pragma once

#include <progcap/github/source_base.hpp>

namespace progcap::plugins::github_comments {

namespace gh = progcap::github;
namespace sdk = progcap::sdk;

class CommentsSource final : public gh::SourceBase {
 public:
  static constexpr std::string_view kType = "github-pr-comments";
  static constexpr std::string_view kDescription =
      "Conversation comments (issue comments) of the selected pull requests, every page, as comments with comment_type "
      "issue_comment. Selects `pr_numbers`, or the PRs updated within `time_range` days. An unchanged PR costs one free 304.";
  static sdk::OptionList options() {
    using O = gh::Opt;
    return {O::kRepository, O::kPrNumbers, O::kTimeRange, O::kMaxItems, O::kShard, O::kApiUrl, O::kToken, O::kAppId,
            O::kAppPrivateKey, O::kTokenRefreshMargin, O::kMaxRateLimitWait, O::kConditional};
  }
  static std::vector<const sdk::Stream*> streams() {
    return {&gh::repositories_stream(), &gh::contributors_stream(), &gh::pull_requests_stream(), &gh::comments_stream()};
  }

  CommentsSource(sdk::Context ctx, const sdk::Config& cfg);
  sdk::Status poll(sdk::Emitter& out) override;

 private:
  void capture(const gh::PrSelection::Item& item);
  gh::PrSelection selection_;
  std::optional<gh::PrSelection::Item> current_;  // the PR being captured (kept across a RETRY)
  int64_t done_ = 0;
};

}  // namespace progcap::plugins::github_comments
