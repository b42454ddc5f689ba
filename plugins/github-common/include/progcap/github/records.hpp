// progcap GitHub plugins — the streams (shaped for contributor.info's tables,
// keyed by GitHub's natural ids) and the mapping from GitHub's REST and
// GraphQL JSON to rows. A record whose JSON lacks a required field or has the
// wrong type is dead-lettered with the reason; the run goes on.
#pragma once

#include <progcap/sdk/component.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace progcap::github {

namespace sdk = progcap::sdk;
using json = nlohmann::json;

/// Field positions of each stream.
namespace f {
enum Repo : uint32_t {
  kRepoGithubId, kRepoFullName, kRepoOwner, kRepoName, kRepoDescription, kRepoHomepage, kRepoLanguage, kRepoStars,
  kRepoWatchers, kRepoForks, kRepoOpenIssues, kRepoSize, kRepoDefaultBranch, kRepoIsFork, kRepoIsArchived, kRepoIsDisabled,
  kRepoIsPrivate, kRepoHasIssues, kRepoHasProjects, kRepoHasWiki, kRepoHasPages, kRepoHasDownloads, kRepoLicense, kRepoTopics,
  kRepoCreatedAt, kRepoUpdatedAt, kRepoPushedAt, kRepoCount
};
enum User : uint32_t { kUserGithubId, kUserUsername, kUserDisplayName, kUserAvatarUrl, kUserProfileUrl, kUserIsBot, kUserCount };
enum Pr : uint32_t {
  kPrGithubId, kPrRepoGithubId, kPrRepoFullName, kPrNumber, kPrTitle, kPrBody, kPrState, kPrDraft, kPrMerged, kPrMergedAt,
  kPrMergedByGithubId, kPrAuthorGithubId, kPrAuthorLogin, kPrBaseBranch, kPrHeadBranch, kPrHeadSha, kPrAdditions, kPrDeletions,
  kPrChangedFiles, kPrCommits, kPrMergeable, kPrMergeableState, kPrCreatedAt, kPrUpdatedAt, kPrClosedAt, kPrHtmlUrl, kPrDiffUrl,
  kPrPatchUrl, kPrCount
};
enum File : uint32_t {
  kFilePrGithubId, kFileFilename, kFileRepoFullName, kFilePrNumber, kFileStatus, kFileAdditions, kFileDeletions, kFileChanges,
  kFilePreviousFilename, kFilePatch, kFileCount
};
enum Review : uint32_t {
  kReviewGithubId, kReviewPrGithubId, kReviewPrNumber, kReviewRepoFullName, kReviewAuthorGithubId, kReviewState, kReviewBody,
  kReviewSubmittedAt, kReviewCommitId, kReviewHtmlUrl, kReviewCount
};
enum Comment : uint32_t {
  kCommentGithubId, kCommentType, kCommentRepoFullName, kCommentPrNumber, kCommentPrGithubId, kCommentCommenterGithubId,
  kCommentBody, kCommentCreatedAt, kCommentUpdatedAt, kCommentInReplyTo, kCommentReviewGithubId, kCommentPosition,
  kCommentOriginalPosition, kCommentDiffHunk, kCommentPath, kCommentCommitId, kCommentOriginalCommitId, kCommentHtmlUrl, kCommentCount
};
}  // namespace f

/// The stream declarations (shared by every GitHub plugin).
const sdk::Stream& repositories_stream();
const sdk::Stream& contributors_stream();
const sdk::Stream& pull_requests_stream();
const sdk::Stream& pull_request_files_stream();
const sdk::Stream& reviews_stream();
const sdk::Stream& comments_stream();

/// Where each stream sits in a component's streams() (-1: not emitted).
struct StreamIndex {
  int32_t repositories = -1;
  int32_t contributors = -1;
  int32_t pull_requests = -1;
  int32_t files = -1;
  int32_t reviews = -1;
  int32_t comments = -1;
};

/// A JSON record that cannot be mapped (missing field, wrong type).
struct MappingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Identifies the pull request a child record belongs to.
struct PrRef {
  int64_t number = 0;
  std::optional<int64_t> github_id;  // unknown for repository-wide listings
};

/// Maps GitHub JSON to rows and emits them. One per component instance;
/// call bind() at the start of each poll.
class RecordWriter {
 public:
  RecordWriter(const sdk::Context& ctx, StreamIndex idx, std::string full_name);
  void bind(sdk::Emitter& out) noexcept { out_ = &out; }

  // REST representations.
  void repository(const json& repo);
  /// Emits the contributor (once per id and login); nullopt for deleted users.
  std::optional<int64_t> user(const json& user);
  /// Returns the PR's github id, or nullopt when the record was dead-lettered.
  std::optional<int64_t> pull_request(const json& pr, bool full);
  void file(const json& file, const PrRef& pr);
  void review(const json& review, const PrRef& pr);
  void review_comment(const json& comment, const PrRef& pr);
  void issue_comment(const json& comment, const PrRef& pr);

  // GraphQL representations.
  std::optional<int64_t> gql_actor(const json& actor);
  std::optional<int64_t> gql_pull_request(const json& pr);
  void gql_file(const json& file, const PrRef& pr);
  void gql_review(const json& review, const PrRef& pr);
  void gql_issue_comment(const json& comment, const PrRef& pr);

  [[nodiscard]] std::optional<int64_t> repository_id() const noexcept { return repo_id_; }
  void set_repository_id(int64_t id) noexcept { repo_id_ = id; }
  [[nodiscard]] const std::string& full_name() const noexcept { return full_name_; }

  struct Counts {
    int64_t prs = 0, files = 0, reviews = 0, comments = 0, contributors = 0, dead = 0, skipped_pending = 0;
  };
  [[nodiscard]] const Counts& counts() const noexcept { return counts_; }

 private:
  template <class F>
  void guarded(const char* stream, const json& record, const char* what, F&& build);
  void emit(int32_t stream, const sdk::Row& row);

  sdk::Context ctx_;
  StreamIndex idx_;
  std::string full_name_;
  std::optional<int64_t> repo_id_;
  sdk::Emitter* out_ = nullptr;
  std::unordered_map<int64_t, std::string> seen_users_;  // id -> login last emitted
  Counts counts_;
  sdk::Row row_;
};

// JSON helpers (exposed for tests).
int64_t req_int(const json& j, const char* key);
std::optional<int64_t> opt_int(const json& j, const char* key);
const std::string& req_str(const json& j, const char* key);
std::optional<std::string_view> opt_str(const json& j, const char* key);
int64_t req_time(const json& j, const char* key);
std::optional<int64_t> opt_time(const json& j, const char* key);
/// GraphQL `fullDatabaseId` (a BigInt string) or `databaseId`.
int64_t gql_id(const json& node);

}  // namespace progcap::github
