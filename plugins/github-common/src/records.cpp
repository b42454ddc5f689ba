#include <progcap/github/records.hpp>

#include <progcap/sdk/codec.hpp>

#include <algorithm>
#include <cctype>

namespace progcap::github {

using sdk::Type;
using sdk::kNullable;
using sdk::kPrimaryKey;

// ---------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------

const sdk::Stream& repositories_stream() {
  static const sdk::Stream s = [] {
    sdk::Stream st("repositories", "the repository (contributor.info table repositories)");
    st.field("github_id", Type::Int64, kPrimaryKey, "GitHub repository id")
        .field("full_name", Type::String, 0, "owner/name")
        .field("owner", Type::String, 0, "owner login")
        .field("name", Type::String, 0, "repository name")
        .field("description", Type::String, kNullable)
        .field("homepage", Type::String, kNullable)
        .field("language", Type::String, kNullable)
        .field("stargazers_count", Type::Int64, kNullable)
        .field("watchers_count", Type::Int64, kNullable)
        .field("forks_count", Type::Int64, kNullable)
        .field("open_issues_count", Type::Int64, kNullable)
        .field("size", Type::Int64, kNullable)
        .field("default_branch", Type::String, kNullable)
        .field("is_fork", Type::Bool, kNullable)
        .field("is_archived", Type::Bool, kNullable)
        .field("is_disabled", Type::Bool, kNullable)
        .field("is_private", Type::Bool, kNullable)
        .field("has_issues", Type::Bool, kNullable)
        .field("has_projects", Type::Bool, kNullable)
        .field("has_wiki", Type::Bool, kNullable)
        .field("has_pages", Type::Bool, kNullable)
        .field("has_downloads", Type::Bool, kNullable)
        .field("license", Type::String, kNullable, "SPDX id")
        .field("topics", Type::Json, kNullable, "array of topic names")
        .field("github_created_at", Type::Timestamp, kNullable)
        .field("github_updated_at", Type::Timestamp, kNullable)
        .field("github_pushed_at", Type::Timestamp, kNullable);
    return st;
  }();
  return s;
}

const sdk::Stream& contributors_stream() {
  static const sdk::Stream s = [] {
    sdk::Stream st("contributors", "users seen as authors, reviewers, commenters or mergers (only fields the payload carries)");
    st.field("github_id", Type::Int64, kPrimaryKey, "GitHub user id (stable across renames)")
        .field("username", Type::String, 0, "current login; bots keep GitHub's [bot] suffix")
        .field("display_name", Type::String, kNullable, "null = not in this payload (never overwrite with null)")
        .field("avatar_url", Type::String, kNullable)
        .field("profile_url", Type::String, kNullable)
        .field("is_bot", Type::Bool, 0);
    return st;
  }();
  return s;
}

const sdk::Stream& pull_requests_stream() {
  static const sdk::Stream s = [] {
    sdk::Stream st("pull_requests", "pull requests (contributor.info table pull_requests)");
    st.field("github_id", Type::Int64, kPrimaryKey, "GitHub pull request id (REST id / GraphQL fullDatabaseId)")
        .field("repository_github_id", Type::Int64, kNullable)
        .field("repository_full_name", Type::String, 0)
        .field("number", Type::Int64, 0)
        .field("title", Type::String, 0)
        .field("body", Type::String, kNullable)
        .field("state", Type::String, 0, "open | closed")
        .field("draft", Type::Bool, 0)
        .field("merged", Type::Bool, 0)
        .field("merged_at", Type::Timestamp, kNullable)
        .field("merged_by_github_id", Type::Int64, kNullable, "null = unknown in this payload or not merged")
        .field("author_github_id", Type::Int64, kNullable, "null = deleted account (ghost)")
        .field("author_login", Type::String, kNullable)
        .field("base_branch", Type::String, 0)
        .field("head_branch", Type::String, 0)
        .field("head_sha", Type::String, kNullable)
        .field("additions", Type::Int64, kNullable, "null = unknown (list payloads lack stats; never overwrite with null)")
        .field("deletions", Type::Int64, kNullable, "null = unknown")
        .field("changed_files", Type::Int64, kNullable, "null = unknown")
        .field("commits", Type::Int64, kNullable, "null = unknown")
        .field("mergeable", Type::Bool, kNullable)
        .field("mergeable_state", Type::String, kNullable)
        .field("created_at", Type::Timestamp, 0)
        .field("updated_at", Type::Timestamp, 0)
        .field("closed_at", Type::Timestamp, kNullable)
        .field("html_url", Type::String, kNullable)
        .field("diff_url", Type::String, kNullable)
        .field("patch_url", Type::String, kNullable);
    return st;
  }();
  return s;
}

const sdk::Stream& pull_request_files_stream() {
  static const sdk::Stream s = [] {
    sdk::Stream st("pull_request_files", "files changed by a pull request (new table pull_request_files)");
    st.field("pull_request_github_id", Type::Int64, kPrimaryKey)
        .field("filename", Type::String, kPrimaryKey)
        .field("repository_full_name", Type::String, 0)
        .field("pull_request_number", Type::Int64, 0)
        .field("status", Type::String, 0, "added | removed | modified | renamed | copied | changed | unchanged")
        .field("additions", Type::Int64, 0)
        .field("deletions", Type::Int64, 0)
        .field("changes", Type::Int64, 0)
        .field("previous_filename", Type::String, kNullable)
        .field("patch", Type::String, kNullable, "only with include_patch");
    return st;
  }();
  return s;
}

const sdk::Stream& reviews_stream() {
  static const sdk::Stream s = [] {
    sdk::Stream st("reviews", "pull request reviews (contributor.info table reviews)");
    st.field("github_id", Type::Int64, kPrimaryKey)
        .field("pull_request_github_id", Type::Int64, 0)
        .field("pull_request_number", Type::Int64, 0)
        .field("repository_full_name", Type::String, 0)
        .field("author_github_id", Type::Int64, kNullable, "null = deleted account (ghost)")
        .field("state", Type::String, 0, "APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED (pending reviews are not captured)")
        .field("body", Type::String, kNullable)
        .field("submitted_at", Type::Timestamp, kNullable)
        .field("commit_id", Type::String, kNullable)
        .field("html_url", Type::String, kNullable);
    return st;
  }();
  return s;
}

const sdk::Stream& comments_stream() {
  static const sdk::Stream s = [] {
    sdk::Stream st("comments", "conversation and review comments (contributor.info table comments)");
    st.field("github_id", Type::Int64, kPrimaryKey)
        .field("comment_type", Type::String, 0, "issue_comment | review_comment")
        .field("repository_full_name", Type::String, 0)
        .field("pull_request_number", Type::Int64, 0)
        .field("pull_request_github_id", Type::Int64, kNullable, "null when listed repository-wide (resolve by number)")
        .field("commenter_github_id", Type::Int64, kNullable, "null = deleted account (ghost)")
        .field("body", Type::String, 0)
        .field("created_at", Type::Timestamp, 0)
        .field("updated_at", Type::Timestamp, 0)
        .field("in_reply_to_github_id", Type::Int64, kNullable, "review comments: the comment replied to")
        .field("review_github_id", Type::Int64, kNullable, "review comments: their review")
        .field("position", Type::Int64, kNullable)
        .field("original_position", Type::Int64, kNullable)
        .field("diff_hunk", Type::String, kNullable)
        .field("path", Type::String, kNullable)
        .field("commit_id", Type::String, kNullable)
        .field("original_commit_id", Type::String, kNullable)
        .field("html_url", Type::String, kNullable);
    return st;
  }();
  return s;
}

// ---------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------

namespace {
const json& field(const json& j, const char* key) {
  if (!j.is_object()) throw MappingError(std::string("expected an object around '") + key + "'");
  auto it = j.find(key);
  if (it == j.end()) throw MappingError(std::string("field '") + key + "' is missing");
  return *it;
}
}  // namespace

int64_t req_int(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_number_integer()) throw MappingError(std::string("field '") + key + "' is not an integer (" + v.dump().substr(0, 40) + ")");
  return v.get<int64_t>();
}

std::optional<int64_t> opt_int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) throw MappingError(std::string("field '") + key + "' is not an integer");
  return it->get<int64_t>();
}

const std::string& req_str(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_string()) throw MappingError(std::string("field '") + key + "' is not a string");
  return v.get_ref<const std::string&>();
}

std::optional<std::string_view> opt_str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw MappingError(std::string("field '") + key + "' is not a string");
  return std::string_view(it->get_ref<const std::string&>());
}

int64_t req_time(const json& j, const char* key) {
  const std::string& s = req_str(j, key);
  auto t = sdk::parse_rfc3339(s);
  if (!t) throw MappingError(std::string("field '") + key + "' is not a timestamp ('" + s + "')");
  return *t;
}

std::optional<int64_t> opt_time(const json& j, const char* key) {
  auto s = opt_str(j, key);
  if (!s) return std::nullopt;
  auto t = sdk::parse_rfc3339(*s);
  if (!t) throw MappingError(std::string("field '") + key + "' is not a timestamp");
  return t;
}

namespace {
std::optional<bool> opt_bool(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw MappingError(std::string("field '") + key + "' is not a boolean");
  return it->get<bool>();
}
bool req_bool(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_boolean()) throw MappingError(std::string("field '") + key + "' is not a boolean");
  return v.get<bool>();
}
template <class T>
void set_opt(sdk::Row& row, uint32_t i, const std::optional<T>& v) {
  if (v) {
    row.set(i, *v);
  } else {
    row.set_null(i);
  }
}
void set_opt_time(sdk::Row& row, uint32_t i, const std::optional<int64_t>& t) {
  if (t) {
    row.set(i, sdk::Timestamp{*t});
  } else {
    row.set_null(i);
  }
}
}  // namespace

int64_t gql_id(const json& node) {
  if (node.contains("fullDatabaseId") && node["fullDatabaseId"].is_string()) {
    const std::string& s = node["fullDatabaseId"].get_ref<const std::string&>();
    try {
      size_t used = 0;
      const long long v = std::stoll(s, &used);
      if (used == s.size()) return v;
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): reported below
    }
    throw MappingError("fullDatabaseId '" + s + "' is not an integer");
  }
  if (node.contains("fullDatabaseId") && node["fullDatabaseId"].is_number_integer()) return node["fullDatabaseId"].get<int64_t>();
  return req_int(node, "databaseId");
}

// ---------------------------------------------------------------------------
// RecordWriter
// ---------------------------------------------------------------------------

RecordWriter::RecordWriter(const sdk::Context& ctx, StreamIndex idx, std::string full_name)
    : ctx_(ctx), idx_(idx), full_name_(std::move(full_name)) {}

void RecordWriter::emit(int32_t stream, const sdk::Row& row) {
  if (stream < 0) return;
  out_->emit(static_cast<uint32_t>(stream), row);
}

template <class F>
void RecordWriter::guarded(const char* stream, const json& record, const char* what, F&& build) {
  try {
    build();
  } catch (const MappingError& e) {
    ++counts_.dead;
    ctx_.metric_add("records_dead_lettered");
    ctx_.dead_letter(stream, record.dump(-1, ' ', false, json::error_handler_t::replace), std::string(what) + " JSON from GitHub: " + e.what());
  }
}

void RecordWriter::repository(const json& r) {
  guarded("repositories", r, "repository", [&] {
    row_.resize(f::kRepoCount);
    const int64_t id = req_int(r, "id");
    repo_id_ = id;
    row_.set(f::kRepoGithubId, id)
        .set(f::kRepoFullName, std::string_view(req_str(r, "full_name")))
        .set(f::kRepoOwner, std::string_view(req_str(field(r, "owner"), "login")))
        .set(f::kRepoName, std::string_view(req_str(r, "name")));
    set_opt(row_, f::kRepoDescription, opt_str(r, "description"));
    set_opt(row_, f::kRepoHomepage, opt_str(r, "homepage"));
    set_opt(row_, f::kRepoLanguage, opt_str(r, "language"));
    set_opt(row_, f::kRepoStars, opt_int(r, "stargazers_count"));
    set_opt(row_, f::kRepoWatchers, opt_int(r, "watchers_count"));
    set_opt(row_, f::kRepoForks, opt_int(r, "forks_count"));
    set_opt(row_, f::kRepoOpenIssues, opt_int(r, "open_issues_count"));
    set_opt(row_, f::kRepoSize, opt_int(r, "size"));
    set_opt(row_, f::kRepoDefaultBranch, opt_str(r, "default_branch"));
    set_opt(row_, f::kRepoIsFork, opt_bool(r, "fork"));
    set_opt(row_, f::kRepoIsArchived, opt_bool(r, "archived"));
    set_opt(row_, f::kRepoIsDisabled, opt_bool(r, "disabled"));
    set_opt(row_, f::kRepoIsPrivate, opt_bool(r, "private"));
    set_opt(row_, f::kRepoHasIssues, opt_bool(r, "has_issues"));
    set_opt(row_, f::kRepoHasProjects, opt_bool(r, "has_projects"));
    set_opt(row_, f::kRepoHasWiki, opt_bool(r, "has_wiki"));
    set_opt(row_, f::kRepoHasPages, opt_bool(r, "has_pages"));
    set_opt(row_, f::kRepoHasDownloads, opt_bool(r, "has_downloads"));
    std::optional<std::string_view> license;
    if (auto it = r.find("license"); it != r.end() && it->is_object()) license = opt_str(*it, "spdx_id");
    set_opt(row_, f::kRepoLicense, license);
    std::string topics = "[]";
    if (auto it = r.find("topics"); it != r.end() && it->is_array()) topics = it->dump();
    row_.set_owned_json(f::kRepoTopics, topics);
    set_opt_time(row_, f::kRepoCreatedAt, opt_time(r, "created_at"));
    set_opt_time(row_, f::kRepoUpdatedAt, opt_time(r, "updated_at"));
    set_opt_time(row_, f::kRepoPushedAt, opt_time(r, "pushed_at"));
    emit(idx_.repositories, row_);
    row_.clear();
  });
}

std::optional<int64_t> RecordWriter::user(const json& u) {
  if (u.is_null()) return std::nullopt;  // deleted account: GitHub's "ghost"
  std::optional<int64_t> id;
  guarded("contributors", u, "user", [&] {
    const int64_t uid = req_int(u, "id");
    const std::string& login = req_str(u, "login");
    id = uid;
    auto it = seen_users_.find(uid);
    if (it != seen_users_.end() && it->second == login) return;
    sdk::Row row(f::kUserCount);
    const auto type = opt_str(u, "type");
    const bool bot = (type && *type == "Bot") || (login.size() > 5 && login.compare(login.size() - 5, 5, "[bot]") == 0);
    row.set(f::kUserGithubId, uid).set(f::kUserUsername, std::string_view(login)).set_null(f::kUserDisplayName);
    set_opt(row, f::kUserAvatarUrl, opt_str(u, "avatar_url"));
    set_opt(row, f::kUserProfileUrl, opt_str(u, "html_url"));
    row.set(f::kUserIsBot, bot);
    emit(idx_.contributors, row);
    seen_users_[uid] = login;
    ++counts_.contributors;
  });
  return id;
}

std::optional<int64_t> RecordWriter::pull_request(const json& pr, bool full) {
  std::optional<int64_t> result;
  guarded("pull_requests", pr, "pull request", [&] {
    const int64_t id = req_int(pr, "id");
    const int64_t number = req_int(pr, "number");
    const std::string& state = req_str(pr, "state");
    if (state != "open" && state != "closed") throw MappingError("field 'state' is '" + state + "', expected open or closed");
    const json& head = field(pr, "head");
    const json& base = field(pr, "base");
    const auto author = user(field(pr, "user"));
    std::optional<int64_t> merged_by;
    if (full) {
      if (auto it = pr.find("merged_by"); it != pr.end()) merged_by = user(*it);
    }
    sdk::Row& row = row_;
    row.resize(f::kPrCount);
    row.set(f::kPrGithubId, id)
        .set(f::kPrRepoFullName, std::string_view(full_name_))
        .set(f::kPrNumber, number)
        .set(f::kPrTitle, std::string_view(req_str(pr, "title")))
        .set(f::kPrState, std::string_view(state))
        .set(f::kPrDraft, opt_bool(pr, "draft").value_or(false))
        .set(f::kPrBaseBranch, std::string_view(req_str(base, "ref")))
        .set(f::kPrHeadBranch, std::string_view(req_str(head, "ref")))
        .set(f::kPrCreatedAt, sdk::Timestamp{req_time(pr, "created_at")})
        .set(f::kPrUpdatedAt, sdk::Timestamp{req_time(pr, "updated_at")});
    set_opt(row, f::kPrRepoGithubId, repo_id_);
    set_opt(row, f::kPrBody, opt_str(pr, "body"));
    const auto merged_at = opt_time(pr, "merged_at");
    // List payloads lack `merged`; merged_at is authoritative for both.
    row.set(f::kPrMerged, full ? opt_bool(pr, "merged").value_or(merged_at.has_value()) : merged_at.has_value());
    set_opt_time(row, f::kPrMergedAt, merged_at);
    set_opt(row, f::kPrMergedByGithubId, merged_by);
    set_opt(row, f::kPrAuthorGithubId, author);
    if (auto u = pr.find("user"); u != pr.end() && u->is_object()) {
      set_opt(row, f::kPrAuthorLogin, opt_str(*u, "login"));
    } else {
      row.set_null(f::kPrAuthorLogin);
    }
    set_opt(row, f::kPrHeadSha, opt_str(head, "sha"));
    if (full) {
      set_opt(row, f::kPrAdditions, opt_int(pr, "additions"));
      set_opt(row, f::kPrDeletions, opt_int(pr, "deletions"));
      set_opt(row, f::kPrChangedFiles, opt_int(pr, "changed_files"));
      set_opt(row, f::kPrCommits, opt_int(pr, "commits"));
      set_opt(row, f::kPrMergeable, opt_bool(pr, "mergeable"));
      set_opt(row, f::kPrMergeableState, opt_str(pr, "mergeable_state"));
    } else {
      for (uint32_t i : {f::kPrAdditions, f::kPrDeletions, f::kPrChangedFiles, f::kPrCommits, f::kPrMergeable, f::kPrMergeableState}) {
        row.set_null(i);
      }
    }
    set_opt_time(row, f::kPrClosedAt, opt_time(pr, "closed_at"));
    set_opt(row, f::kPrHtmlUrl, opt_str(pr, "html_url"));
    set_opt(row, f::kPrDiffUrl, opt_str(pr, "diff_url"));
    set_opt(row, f::kPrPatchUrl, opt_str(pr, "patch_url"));
    emit(idx_.pull_requests, row);
    row.clear();
    ++counts_.prs;
    result = id;
  });
  return result;
}

void RecordWriter::file(const json& fl, const PrRef& pr) {
  guarded("pull_request_files", fl, "pull request file", [&] {
    sdk::Row row(f::kFileCount);
    row.set(f::kFilePrGithubId, pr.github_id.value_or(0))
        .set(f::kFileFilename, std::string_view(req_str(fl, "filename")))
        .set(f::kFileRepoFullName, std::string_view(full_name_))
        .set(f::kFilePrNumber, pr.number)
        .set(f::kFileStatus, std::string_view(req_str(fl, "status")))
        .set(f::kFileAdditions, req_int(fl, "additions"))
        .set(f::kFileDeletions, req_int(fl, "deletions"))
        .set(f::kFileChanges, req_int(fl, "changes"));
    set_opt(row, f::kFilePreviousFilename, opt_str(fl, "previous_filename"));
    set_opt(row, f::kFilePatch, opt_str(fl, "patch"));
    emit(idx_.files, row);
    ++counts_.files;
  });
}

void RecordWriter::review(const json& rv, const PrRef& pr) {
  guarded("reviews", rv, "review", [&] {
    const auto submitted = opt_time(rv, "submitted_at");
    if (!submitted) {  // PENDING: visible only to its author, never submitted
      ++counts_.skipped_pending;
      return;
    }
    const auto author = user(field(rv, "user"));
    std::string state = req_str(rv, "state");  // normalised to GitHub's upper-case set
    std::transform(state.begin(), state.end(), state.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    sdk::Row row(f::kReviewCount);
    row.set(f::kReviewGithubId, req_int(rv, "id"))
        .set(f::kReviewPrGithubId, pr.github_id.value_or(0))
        .set(f::kReviewPrNumber, pr.number)
        .set(f::kReviewRepoFullName, std::string_view(full_name_))
        .set_owned(f::kReviewState, state)
        .set(f::kReviewSubmittedAt, sdk::Timestamp{*submitted});
    set_opt(row, f::kReviewAuthorGithubId, author);
    set_opt(row, f::kReviewBody, opt_str(rv, "body"));
    set_opt(row, f::kReviewCommitId, opt_str(rv, "commit_id"));
    set_opt(row, f::kReviewHtmlUrl, opt_str(rv, "html_url"));
    emit(idx_.reviews, row);
    ++counts_.reviews;
  });
}

void RecordWriter::review_comment(const json& c, const PrRef& pr) {
  guarded("comments", c, "review comment", [&] {
    const auto author = user(field(c, "user"));
    sdk::Row row(f::kCommentCount);
    row.set(f::kCommentGithubId, req_int(c, "id"))
        .set(f::kCommentType, "review_comment")
        .set(f::kCommentRepoFullName, std::string_view(full_name_))
        .set(f::kCommentPrNumber, pr.number)
        .set(f::kCommentBody, std::string_view(opt_str(c, "body").value_or("")))
        .set(f::kCommentCreatedAt, sdk::Timestamp{req_time(c, "created_at")})
        .set(f::kCommentUpdatedAt, sdk::Timestamp{req_time(c, "updated_at")});
    set_opt(row, f::kCommentPrGithubId, pr.github_id);
    set_opt(row, f::kCommentCommenterGithubId, author);
    set_opt(row, f::kCommentInReplyTo, opt_int(c, "in_reply_to_id"));
    set_opt(row, f::kCommentReviewGithubId, opt_int(c, "pull_request_review_id"));
    set_opt(row, f::kCommentPosition, opt_int(c, "position"));
    set_opt(row, f::kCommentOriginalPosition, opt_int(c, "original_position"));
    set_opt(row, f::kCommentDiffHunk, opt_str(c, "diff_hunk"));
    set_opt(row, f::kCommentPath, opt_str(c, "path"));
    set_opt(row, f::kCommentCommitId, opt_str(c, "commit_id"));
    set_opt(row, f::kCommentOriginalCommitId, opt_str(c, "original_commit_id"));
    set_opt(row, f::kCommentHtmlUrl, opt_str(c, "html_url"));
    emit(idx_.comments, row);
    ++counts_.comments;
  });
}

void RecordWriter::issue_comment(const json& c, const PrRef& pr) {
  guarded("comments", c, "issue comment", [&] {
    const auto author = user(field(c, "user"));
    sdk::Row row(f::kCommentCount);
    row.set(f::kCommentGithubId, req_int(c, "id"))
        .set(f::kCommentType, "issue_comment")
        .set(f::kCommentRepoFullName, std::string_view(full_name_))
        .set(f::kCommentPrNumber, pr.number)
        .set(f::kCommentBody, std::string_view(opt_str(c, "body").value_or("")))
        .set(f::kCommentCreatedAt, sdk::Timestamp{req_time(c, "created_at")})
        .set(f::kCommentUpdatedAt, sdk::Timestamp{req_time(c, "updated_at")});
    set_opt(row, f::kCommentPrGithubId, pr.github_id);
    set_opt(row, f::kCommentCommenterGithubId, author);
    for (uint32_t i : {f::kCommentInReplyTo, f::kCommentReviewGithubId, f::kCommentPosition, f::kCommentOriginalPosition,
                       f::kCommentDiffHunk, f::kCommentPath, f::kCommentCommitId, f::kCommentOriginalCommitId}) {
      row.set_null(i);
    }
    set_opt(row, f::kCommentHtmlUrl, opt_str(c, "html_url"));
    emit(idx_.comments, row);
    ++counts_.comments;
  });
}

// ---------------------------------------------------------------------------
// GraphQL shapes
// ---------------------------------------------------------------------------

std::optional<int64_t> RecordWriter::gql_actor(const json& a) {
  if (a.is_null()) return std::nullopt;
  std::optional<int64_t> id;
  guarded("contributors", a, "actor", [&] {
    const std::string& typ = req_str(a, "__typename");
    if (typ != "User" && typ != "Bot") return;  // Mannequin, Organization, EnterpriseUserAccount: no user id
    const int64_t uid = req_int(a, "databaseId");
    // GraphQL gives bots without REST's "[bot]" suffix; keep REST's form so
    // both paths write the same username.
    std::string login = req_str(a, "login");
    const bool bot = typ == "Bot";
    if (bot && (login.size() < 5 || login.compare(login.size() - 5, 5, "[bot]") != 0)) login += "[bot]";
    id = uid;
    auto it = seen_users_.find(uid);
    if (it != seen_users_.end() && it->second == login) return;
    sdk::Row row(f::kUserCount);
    row.set(f::kUserGithubId, uid).set_owned(f::kUserUsername, login);
    set_opt(row, f::kUserDisplayName, opt_str(a, "name"));
    set_opt(row, f::kUserAvatarUrl, opt_str(a, "avatarUrl"));
    set_opt(row, f::kUserProfileUrl, opt_str(a, "url"));
    row.set(f::kUserIsBot, bot);
    emit(idx_.contributors, row);
    seen_users_[uid] = login;
    ++counts_.contributors;
  });
  return id;
}

std::optional<int64_t> RecordWriter::gql_pull_request(const json& pr) {
  std::optional<int64_t> result;
  guarded("pull_requests", pr, "pull request", [&] {
    const int64_t id = gql_id(pr);
    const int64_t number = req_int(pr, "number");
    const std::string& st = req_str(pr, "state");
    if (st != "OPEN" && st != "CLOSED" && st != "MERGED") throw MappingError("field 'state' is '" + st + "'");
    const auto author = gql_actor(pr.contains("author") ? pr["author"] : json());
    const auto merged_by = gql_actor(pr.contains("mergedBy") ? pr["mergedBy"] : json());
    std::string url = req_str(pr, "url");
    sdk::Row& row = row_;
    row.resize(f::kPrCount);
    row.set(f::kPrGithubId, id)
        .set(f::kPrRepoFullName, std::string_view(full_name_))
        .set(f::kPrNumber, number)
        .set(f::kPrTitle, std::string_view(req_str(pr, "title")))
        .set(f::kPrState, st == "OPEN" ? "open" : "closed")
        .set(f::kPrDraft, req_bool(pr, "isDraft"))
        .set(f::kPrMerged, req_bool(pr, "merged"))
        .set(f::kPrBaseBranch, std::string_view(req_str(pr, "baseRefName")))
        .set(f::kPrHeadBranch, std::string_view(req_str(pr, "headRefName")))
        .set(f::kPrCreatedAt, sdk::Timestamp{req_time(pr, "createdAt")})
        .set(f::kPrUpdatedAt, sdk::Timestamp{req_time(pr, "updatedAt")})
        .set(f::kPrAdditions, req_int(pr, "additions"))
        .set(f::kPrDeletions, req_int(pr, "deletions"))
        .set(f::kPrChangedFiles, req_int(pr, "changedFiles"))
        .set(f::kPrCommits, req_int(field(pr, "commits"), "totalCount"));
    set_opt(row, f::kPrRepoGithubId, repo_id_);
    set_opt(row, f::kPrBody, opt_str(pr, "body"));
    set_opt_time(row, f::kPrMergedAt, opt_time(pr, "mergedAt"));
    set_opt(row, f::kPrMergedByGithubId, merged_by);
    set_opt(row, f::kPrAuthorGithubId, author);
    if (auto a = pr.find("author"); a != pr.end() && a->is_object()) {
      std::string login = req_str(*a, "login");
      if (a->value("__typename", std::string()) == "Bot" && !(login.size() >= 5 && login.compare(login.size() - 5, 5, "[bot]") == 0)) {
        login += "[bot]";
      }
      row.set_owned(f::kPrAuthorLogin, login);
    } else {
      row.set_null(f::kPrAuthorLogin);
    }
    set_opt(row, f::kPrHeadSha, opt_str(pr, "headRefOid"));
    const auto mergeable = opt_str(pr, "mergeable");
    if (mergeable && *mergeable == "MERGEABLE") {
      row.set(f::kPrMergeable, true);
    } else if (mergeable && *mergeable == "CONFLICTING") {
      row.set(f::kPrMergeable, false);
    } else {
      row.set_null(f::kPrMergeable);
    }
    row.set_null(f::kPrMergeableState);  // REST-only
    set_opt_time(row, f::kPrClosedAt, opt_time(pr, "closedAt"));
    row.set(f::kPrHtmlUrl, std::string_view(url));
    row.set_owned(f::kPrDiffUrl, url + ".diff");
    row.set_owned(f::kPrPatchUrl, url + ".patch");
    emit(idx_.pull_requests, row);
    row.clear();
    ++counts_.prs;
    result = id;
  });
  return result;
}

void RecordWriter::gql_file(const json& fl, const PrRef& pr) {
  guarded("pull_request_files", fl, "pull request file", [&] {
    static const std::unordered_map<std::string, std::string> kStatus = {
        {"ADDED", "added"}, {"DELETED", "removed"}, {"MODIFIED", "modified"}, {"RENAMED", "renamed"},
        {"COPIED", "copied"}, {"CHANGED", "changed"}, {"UNCHANGED", "unchanged"}};
    const std::string& change = req_str(fl, "changeType");
    auto st = kStatus.find(change);
    if (st == kStatus.end()) throw MappingError("field 'changeType' is '" + change + "'");
    const int64_t add = req_int(fl, "additions");
    const int64_t del = req_int(fl, "deletions");
    sdk::Row row(f::kFileCount);
    row.set(f::kFilePrGithubId, pr.github_id.value_or(0))
        .set(f::kFileFilename, std::string_view(req_str(fl, "path")))
        .set(f::kFileRepoFullName, std::string_view(full_name_))
        .set(f::kFilePrNumber, pr.number)
        .set(f::kFileStatus, std::string_view(st->second))
        .set(f::kFileAdditions, add)
        .set(f::kFileDeletions, del)
        .set(f::kFileChanges, add + del)
        .set_null(f::kFilePreviousFilename)  // not in GraphQL; renames are re-read over REST
        .set_null(f::kFilePatch);
    emit(idx_.files, row);
    ++counts_.files;
  });
}

void RecordWriter::gql_review(const json& rv, const PrRef& pr) {
  guarded("reviews", rv, "review", [&] {
    const auto submitted = opt_time(rv, "submittedAt");
    if (!submitted) {
      ++counts_.skipped_pending;
      return;
    }
    const auto author = gql_actor(rv.contains("author") ? rv["author"] : json());
    sdk::Row row(f::kReviewCount);
    row.set(f::kReviewGithubId, gql_id(rv))
        .set(f::kReviewPrGithubId, pr.github_id.value_or(0))
        .set(f::kReviewPrNumber, pr.number)
        .set(f::kReviewRepoFullName, std::string_view(full_name_))
        .set(f::kReviewState, std::string_view(req_str(rv, "state")))
        .set(f::kReviewSubmittedAt, sdk::Timestamp{*submitted});
    set_opt(row, f::kReviewAuthorGithubId, author);
    set_opt(row, f::kReviewBody, opt_str(rv, "body"));
    std::optional<std::string_view> commit;
    if (auto c = rv.find("commit"); c != rv.end() && c->is_object()) commit = opt_str(*c, "oid");
    set_opt(row, f::kReviewCommitId, commit);
    set_opt(row, f::kReviewHtmlUrl, opt_str(rv, "url"));
    emit(idx_.reviews, row);
    ++counts_.reviews;
  });
}

void RecordWriter::gql_issue_comment(const json& c, const PrRef& pr) {
  guarded("comments", c, "issue comment", [&] {
    const auto author = gql_actor(c.contains("author") ? c["author"] : json());
    sdk::Row row(f::kCommentCount);
    row.set(f::kCommentGithubId, gql_id(c))
        .set(f::kCommentType, "issue_comment")
        .set(f::kCommentRepoFullName, std::string_view(full_name_))
        .set(f::kCommentPrNumber, pr.number)
        .set(f::kCommentBody, std::string_view(req_str(c, "body")))
        .set(f::kCommentCreatedAt, sdk::Timestamp{req_time(c, "createdAt")})
        .set(f::kCommentUpdatedAt, sdk::Timestamp{req_time(c, "updatedAt")});
    set_opt(row, f::kCommentPrGithubId, pr.github_id);
    set_opt(row, f::kCommentCommenterGithubId, author);
    for (uint32_t i : {f::kCommentInReplyTo, f::kCommentReviewGithubId, f::kCommentPosition, f::kCommentOriginalPosition,
                       f::kCommentDiffHunk, f::kCommentPath, f::kCommentCommitId, f::kCommentOriginalCommitId}) {
      row.set_null(i);
    }
    set_opt(row, f::kCommentHtmlUrl, opt_str(c, "url"));
    emit(idx_.comments, row);
    ++counts_.comments;
  });
}

}  // namespace progcap::github
