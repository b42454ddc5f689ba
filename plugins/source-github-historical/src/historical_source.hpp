// source-github-historical: a whole repository (or a time window / the
// newest max_items) in bulk, with as few quota units as GitHub's cost rules
// allow.
//
// mode graphql (default): pages of pull requests with files, reviews, issue
//   comments and the commit count nested (page size chosen from the predicted
//   point cost, halved after a timeout), follow-up queries for nested
//   connections that overflow, plus one repository-wide REST listing of review
//   comments (`/pulls/comments?since=`), the cheapest way to get them.
// mode rest: the pulls list sorted by updated (early stop at the window
//   edge), then per PR the full PR, files and reviews; review and issue
//   comments through repository-wide listings with `since`.
// mode per-pr: per PR the five endpoints the original system used (pull,
//   files, reviews, review comments, issue comments), every page — a
//   correct baseline for comparisons, and cheap when few PRs changed.
//
// Incremental: the high-water mark of updated_at of the last complete run
// narrows the next run to what changed (after a free 304 probe when nothing
// did); an interrupted run resumes from its checkpointed page cursor.
#pragma once

#include <progcap/github/source_base.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace progcap::plugins::github_historical {

namespace gh = progcap::github;
namespace sdk = progcap::sdk;

/// PR number -> GitHub id of the pull requests a run captured. A whole-repository
/// sync captures every PR, so this is the one structure that grows with the
/// repository: 16 bytes per PR in a vector (up to twice that while it grows),
/// sorted on lookup, not a tree node (~64 bytes) per PR. A full sync looks up
/// only after the page walk (comments); with max_items each checkpoint sorts
/// it, at most max_items entries.
class PrIds {
 public:
  void add(int64_t number, int64_t id) {
    sorted_ = sorted_ && (ids_.empty() || ids_.back().first < number);
    ids_.emplace_back(number, id);
  }
  [[nodiscard]] std::optional<int64_t> find(int64_t number) const {
    sort();
    const auto it = std::lower_bound(ids_.begin(), ids_.end(), std::pair<int64_t, int64_t>{number, INT64_MIN});
    if (it == ids_.end() || it->first != number) return std::nullopt;
    return it->second;
  }
  [[nodiscard]] const std::vector<std::pair<int64_t, int64_t>>& sorted() const {
    sort();
    return ids_;
  }

 private:
  void sort() const {
    if (sorted_) return;
    // A PR updated during the walk can be listed twice; its id is the same.
    std::sort(ids_.begin(), ids_.end());
    ids_.erase(std::unique(ids_.begin(), ids_.end(), [](const auto& a, const auto& b) { return a.first == b.first; }), ids_.end());
    ids_.shrink_to_fit();
    sorted_ = true;
  }
  mutable std::vector<std::pair<int64_t, int64_t>> ids_;
  mutable bool sorted_ = true;
};

class HistoricalSource final : public gh::SourceBase {
 public:
  static constexpr std::string_view kType = "github-historical";
  static constexpr std::string_view kDescription =
      "Bulk capture of a repository's pull requests with files, reviews, review comments and conversation comments "
      "(mode graphql: nested GraphQL pages sized by predicted point cost + repository-wide REST review comments; mode rest; "
      "mode per-pr). Incremental (a 304 probe makes an unchanged repository free) and resumable page by page.";
  static inline const auto kMode =
      sdk::option<std::string>("mode").default_value("graphql").one_of({"graphql", "rest", "per-pr"}).describe("capture strategy");
  static inline const auto kPageSize = sdk::option<int64_t>("page_size").default_value(0).range(0, 100).describe(
      "GraphQL pull requests per page (0 = choose from the predicted point cost)");
  static inline const auto kIncremental = sdk::option<bool>("incremental").default_value(true).describe(
      "only capture what changed since the last complete run (false: the whole window again)");
  static inline const auto kRenamesOverRest = sdk::option<bool>("renames_over_rest").default_value(false).describe(
      "GitHub's GraphQL API has no previous_filename: in mode graphql it stays null unless this re-reads the files of "
      "PRs with renamed or copied files over REST (one more request per such PR)");
  static sdk::OptionList options() {
    using O = gh::Opt;
    return {O::kRepository, O::kTimeRange, O::kMaxItems, kMode, kPageSize, kIncremental, kRenamesOverRest, O::kIncludePatch,
            O::kApiUrl, O::kToken, O::kAppId, O::kAppPrivateKey, O::kTokenRefreshMargin, O::kMaxRateLimitWait, O::kConditional};
  }
  static std::vector<const sdk::Stream*> streams() {
    return {&gh::repositories_stream(), &gh::contributors_stream(), &gh::pull_requests_stream(), &gh::pull_request_files_stream(),
            &gh::reviews_stream(), &gh::comments_stream()};
  }

  HistoricalSource(sdk::Context ctx, const sdk::Config& cfg);
  void start() override;
  sdk::Status poll(sdk::Emitter& out) override;

  /// Points GitHub charges for a page of `n` PRs with `nested` connections
  /// per PR (requests = 1 + n*nested, /100, rounded, at least 1).
  static int64_t predicted_cost(int64_t n, int64_t nested);
  /// The page size with the most PRs per point, at most `max`.
  static int64_t best_page_size(int64_t max, int64_t nested);

  /// A nested connection that overflowed its first page.
  struct FollowUp {
    std::string kind;  // files | reviews | comments
    int64_t number = 0;
    std::optional<int64_t> pr_id;
    std::string cursor;
  };
  /// One aliased query fetching the next page of every follow-up (each is one
  /// connection request, so up to 149 of them cost a single point).
  static std::string followup_query(const std::vector<FollowUp>& items);
  /// Follow-ups per query. 149 would be the cheapest (one point), but an
  /// answer of 149 connections × 100 reviews or comments is megabytes (3.3 MB
  /// in the benchmark), and the largest answer sets the peak RSS: at 149 it
  /// grew with the repository. 50 bounds an answer to 5,000 nodes (the
  /// largest answer of a sync is then 1.5 MB at 1,000 and 10,000 PRs) for
  /// about 1 % more points on a whole-repository sync (docs/performance.md).
  static constexpr size_t kFollowUpsPerQuery = 50;

 private:
  enum class Phase { Repository, Probe, Pages, ReviewComments, IssueComments, Finish };

  void save_run();
  bool graphql_page();
  bool graphql_page_once();
  bool rest_page();
  [[nodiscard]] std::string first_list_page() const;
  /// "<head sha> <base ref> <changed_files> <additions> <deletions> <patch flag>" of PR details, or "".
  [[nodiscard]] std::string files_fingerprint(const nlohmann::json& pr) const;
  bool rest_list_comments(bool review);
  void capture_gql_pr(const gh::json& node);
  /// Runs pending follow-ups: all of them, or only full batches.
  void run_followups(bool all);
  void capture_rest_children(int64_t number, const gh::PrRef& ref, bool review_and_issue_comments, int64_t changed_files,
                             bool files = true);
  bool in_selection(int64_t number) const;
  bool account(int64_t updated_us);

  std::string mode_;
  int64_t page_size_ = 0;
  bool incremental_ = true;
  bool renames_over_rest_ = true;
  Phase phase_ = Phase::Repository;
  int64_t cutoff_us_ = 0;        // capture PRs updated at or after this
  int64_t max_seen_us_ = 0;      // newest updated_at seen (becomes the next high-water mark)
  int64_t previous_hwm_us_ = 0;
  int64_t selected_ = 0;
  std::string cursor_;           // GraphQL endCursor / REST next-page URL
  std::string comments_next_;    // repository-wide comment listing: next page URL
  bool pages_done_ = false;
  // PR number -> github id captured in this run: the max_items filter, and the PR id of
  // repository-wide comments (checkpointed only with max_items, so after a resumed full
  // sync comments of PRs captured before the interruption carry no PR id: resolve by number).
  PrIds numbers_;
  gh::Page probe_;
  bool probe_reusable_ = false;  // probe_ holds page 1 of the REST listing, not yet walked
  std::vector<FollowUp> followups_;
  size_t followup_batch_ = kFollowUpsPerQuery;  // halved after a follow-up query times out
  std::string scope_;            // state keys are per selection (time_range, max_items, mode)
  bool resuming_ = false;
  Phase resume_phase_ = Phase::Pages;
};

}  // namespace progcap::plugins::github_historical
