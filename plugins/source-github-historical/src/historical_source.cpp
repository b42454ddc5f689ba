#include "historical_source.hpp"

#include "queries.hpp"

#include <progcap/sdk/codec.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace progcap::plugins::github_historical {

using gh::json;

namespace {

constexpr int64_t kNested = 4;           // commits, files, reviews, comments per PR in a page
constexpr int64_t kHwmOverlapUs = 5LL * 60 * 1000000;  // re-read 5 minutes before the mark (clock skew)

const char* phase_name(int p) {
  static const char* names[] = {"repository", "probe", "pages", "review_comments", "issue_comments", "finish"};
  return names[p];
}

/// PR number from a comment's pull_request_url / issue_url / html_url.
std::optional<int64_t> number_after(std::string_view url, std::string_view marker) {
  const size_t p = url.rfind(marker);
  if (p == std::string_view::npos) return std::nullopt;
  size_t i = p + marker.size();
  int64_t n = 0;
  bool any = false;
  while (i < url.size() && url[i] >= '0' && url[i] <= '9') {
    n = n * 10 + (url[i] - '0');
    ++i;
    any = true;
  }
  return any ? std::optional<int64_t>(n) : std::nullopt;
}

/// The follow-up index of a query alias "p<i>" (i < count).
size_t alias_index(const std::string& alias, size_t count) {
  size_t i = 0;
  const char* end = alias.data() + alias.size();
  const auto [ptr, ec] = std::from_chars(alias.data() + (alias.empty() ? 0 : 1), end, i);
  if (alias.empty() || alias[0] != 'p' || ec != std::errc() || ptr != end || i >= count) {
    throw sdk::RetryError("GitHub GraphQL answered an unknown alias '" + alias + "' to a follow-up query");
  }
  return i;
}

}  // namespace

int64_t HistoricalSource::predicted_cost(int64_t n, int64_t nested) {
  const double requests = 1.0 + static_cast<double>(n * nested);
  return std::max<int64_t>(1, static_cast<int64_t>(std::llround(requests / 100.0)));
}

int64_t HistoricalSource::best_page_size(int64_t max, int64_t nested) {
  int64_t best = 1;
  double best_ratio = 0;
  for (int64_t n = 1; n <= max; ++n) {
    const double ratio = static_cast<double>(n) / static_cast<double>(predicted_cost(n, nested));
    if (ratio >= best_ratio) {
      best_ratio = ratio;
      best = n;
    }
  }
  return best;
}

HistoricalSource::HistoricalSource(sdk::Context ctx, const sdk::Config& cfg)
    : gh::SourceBase(ctx, cfg, gh::StreamIndex{0, 1, 2, 3, 4, 5}),
      mode_(cfg.get(kMode)),
      page_size_(cfg.get(kPageSize)),
      incremental_(cfg.get(kIncremental)),
      renames_over_rest_(cfg.get(kRenamesOverRest)) {
  if (page_size_ == 0) page_size_ = best_page_size(100, kNested);
  if (s_.include_patch && mode_ == "graphql") ctx_.info("include_patch: files are read over REST (GraphQL has no patches)");
}

void HistoricalSource::start() {
  // Incremental state belongs to one selection: a run with another window,
  // max_items or mode starts its own history instead of trusting this one.
  scope_ = "|time_range=" + std::to_string(s_.time_range_days) + "|max_items=" + std::to_string(s_.max_items) + "|mode=" + mode_;
  if (auto hwm = ctx().state_get("hwm" + scope_)) previous_hwm_us_ = std::stoll(*hwm);
  json r;
  if (auto run = ctx().state_get("run" + scope_); run && !run->empty()) {
    try {
      r = json::parse(*run);
    } catch (const json::exception&) {
      ctx().warn("{}: ignoring an unreadable saved run state", s_.full_name);
    }
  }
  if (r.is_object()) {
    // An interrupted run: continue where its last checkpoint left it (after
    // reloading the repository, whose id every row carries).
    {
      resuming_ = true;
      resume_phase_ = static_cast<Phase>(r.value("phase", 2));
      cutoff_us_ = r.value("cutoff", int64_t{0});
      cursor_ = r.value("cursor", std::string());
      comments_next_ = r.value("comments_next", std::string());
      max_seen_us_ = r.value("max_seen", int64_t{0});
      selected_ = r.value("selected", int64_t{0});
      pages_done_ = r.value("pages_done", false);
      if (r.contains("followups")) {
        for (const auto& x : r["followups"]) {
          const int64_t pr = x.value("pr_id", int64_t{0});
          followups_.push_back(FollowUp{x.value("kind", std::string()), x.value("number", int64_t{0}),
                                        pr != 0 ? std::optional<int64_t>(pr) : std::nullopt, x.value("cursor", std::string())});
        }
      }
      if (r.contains("numbers")) {
        for (const auto& [k, v] : r["numbers"].items()) numbers_.add(std::stoll(k), v.get<int64_t>());
      }
      if (resume_phase_ == Phase::Probe || resume_phase_ == Phase::Repository) resume_phase_ = Phase::Pages;
      phase_ = Phase::Repository;
      ctx().info("{}: resuming an interrupted {} sync at phase {} ({} PRs done)", s_.full_name, mode_,
                 phase_name(static_cast<int>(resume_phase_)), selected_);
      return;
    }
  }
  cutoff_us_ = window_start_us();
  if (incremental_ && previous_hwm_us_ > 0) cutoff_us_ = std::max(cutoff_us_, previous_hwm_us_ - kHwmOverlapUs);
  max_seen_us_ = previous_hwm_us_;
}

void HistoricalSource::save_run() {
  json r = {{"mode", mode_},         {"phase", static_cast<int>(phase_)}, {"cutoff", cutoff_us_}, {"cursor", cursor_},
            {"comments_next", comments_next_}, {"max_seen", max_seen_us_}, {"selected", selected_},   {"pages_done", pages_done_}};
  if (!followups_.empty()) {
    json f = json::array();
    for (const auto& x : followups_) f.push_back({{"kind", x.kind}, {"number", x.number}, {"pr_id", x.pr_id.value_or(0)}, {"cursor", x.cursor}});
    r["followups"] = std::move(f);
  }
  if (s_.max_items > 0) {
    json nums = json::object();
    for (const auto& [n, id] : numbers_.sorted()) nums[std::to_string(n)] = id;
    r["numbers"] = std::move(nums);
  }
  ctx().checkpoint("run" + scope_, r.dump());
}

bool HistoricalSource::in_selection(int64_t number) const {
  // With max_items only the selected PRs' children belong to this run; a
  // window or full sync takes every child updated in the window.
  return s_.max_items == 0 || numbers_.find(number).has_value();
}

/// Counts a PR against the window and max_items; false when the page walk ends here.
bool HistoricalSource::account(int64_t updated_us) {
  if (updated_us < cutoff_us_) return false;
  if (s_.max_items > 0 && selected_ >= s_.max_items) return false;
  ++selected_;
  max_seen_us_ = std::max(max_seen_us_, updated_us);
  return true;
}

sdk::Status HistoricalSource::poll(sdk::Emitter& out) {
  writer_.bind(out);
  switch (phase_) {
    case Phase::Repository:
      capture_repository(out);
      if (resuming_) {
        phase_ = resume_phase_;
      } else {
        // The probe also runs on a first sync: its ETag, committed when the
        // sync completes, makes the next run of an unchanged repository free.
        phase_ = incremental_ ? Phase::Probe : Phase::Pages;
      }
      return sdk::Status::Ok;
    case Phase::Probe: {
      // Free when nothing changed: page 1 of the updated-sorted list, conditionally. A whole
      // page, not per_page=1: GitHub's timestamps have one-second resolution, so a PR updated
      // in the same second as the previous newest one can sort below it, and a one-item page
      // would not change. The REST walk reuses this page as its first.
      probe_ = client_.get(client_.url(first_list_page()), {"GET /repos/{owner}/{repo}/pulls", true, false, scope_});
      probe_reusable_ = !probe_.not_modified && probe_.json.is_array();
      bool changed = !probe_.not_modified;
      if (previous_hwm_us_ == 0) changed = true;  // first sync: always walk the pages
      if (changed && previous_hwm_us_ > 0 && probe_.json.is_array() && !probe_.json.empty()) {
        const auto updated = sdk::parse_rfc3339(probe_.json[0].value("updated_at", std::string()));
        if (updated && *updated < cutoff_us_) changed = false;
      }
      if (mode_ == "graphql" || !changed) {
        // Only the REST walks reuse the page; the rest of the run keeps just its URL and ETag
        // (a 100-PR page held as JSON for a whole GraphQL sync is megabytes).
        probe_.json = json();
        probe_reusable_ = false;
      }
      if (!changed) {
        ctx().info("{}: no pull request changed since the last complete sync", s_.full_name);
        phase_ = Phase::Finish;
      } else {
        phase_ = Phase::Pages;
      }
      return sdk::Status::Ok;
    }
    case Phase::Pages: {
      const bool more = mode_ == "graphql" ? graphql_page() : rest_page();
      if (!more) {
        pages_done_ = true;
        phase_ = mode_ == "per-pr" ? Phase::Finish : Phase::ReviewComments;
        comments_next_.clear();
      }
      save_run();
      ctx().progress(s_.full_name + " pull requests", selected_, s_.max_items > 0 ? s_.max_items : -1);
      return sdk::Status::Ok;
    }
    case Phase::ReviewComments:
      if (!rest_list_comments(true)) {
        phase_ = mode_ == "rest" ? Phase::IssueComments : Phase::Finish;
        comments_next_.clear();
      }
      save_run();
      return sdk::Status::Ok;
    case Phase::IssueComments:
      if (!rest_list_comments(false)) {
        phase_ = Phase::Finish;
        comments_next_.clear();
      }
      save_run();
      return sdk::Status::Ok;
    case Phase::Finish:
      ctx().checkpoint("hwm" + scope_, std::to_string(max_seen_us_));
      ctx().checkpoint("run" + scope_, "");
      if (!probe_.url.empty()) client_.commit_etag(probe_);
      publish_metrics();
      ctx().metric_set("graphql_page_size", static_cast<double>(page_size_));
      ctx().info("{}: {} sync complete: {} pull requests, {} GitHub requests, {} GraphQL points", s_.full_name, mode_, writer_.counts().prs,
                 client_.requests(), client_.graphql_points());
      return sdk::Status::Done;
  }
  return sdk::Status::Done;
}

// ---------------------------------------------------------------------------
// GraphQL pages
// ---------------------------------------------------------------------------

bool HistoricalSource::graphql_page() {
  // A page that fails half-way is fetched again from the same cursor: undo
  // its accounting so max_items and the high-water mark stay right.
  const int64_t selected_before = selected_;
  const int64_t max_seen_before = max_seen_us_;
  try {
    return graphql_page_once();
  } catch (const json::exception& e) {
    selected_ = selected_before;
    max_seen_us_ = max_seen_before;
    throw sdk::RetryError(std::string("GitHub GraphQL answered an unexpected shape: ") + e.what());
  } catch (...) {
    selected_ = selected_before;
    max_seen_us_ = max_seen_before;
    throw;
  }
}

bool HistoricalSource::graphql_page_once() {
  json vars = {{"owner", s_.owner}, {"name", s_.name}, {"first", page_size_}};
  vars["after"] = cursor_.empty() ? json() : json(cursor_);
  // Each pull request is captured as soon as it is parsed, so a page (up to
  // 100 PRs with every nested connection: megabytes of JSON) is never held
  // as one document (its text, once, is; see docs/performance.md).
  bool window_end = false;
  const gh::JsonStream stream{
      [](std::span<const std::string> path) {
        return path.size() == 4 && path[0] == "data" && path[1] == "repository" && path[2] == "pullRequests" && path[3] == "nodes";
      },
      [&](std::span<const std::string> /*path*/, json& node) {
        if (window_end) return;
        const auto updated = sdk::parse_rfc3339(node.value("updatedAt", std::string()));
        if (!updated) {
          ctx().dead_letter("pull_requests", node.dump(), "pull request JSON from GitHub GraphQL: field 'updatedAt' is missing or invalid");
          return;
        }
        if (!account(*updated)) {  // sorted by updatedAt descending: the window ends here
          window_end = true;
          return;
        }
        capture_gql_pr(node);
      }};
  json data;
  while (true) {
    try {
      gh::GraphqlCost cost;
      data = client_.graphql(std::string(queries::k_pull_requests_page), vars, &cost, &stream);
      ctx().debug("GraphQL page of {} PRs cost {} points ({} left)", page_size_, cost.cost, cost.remaining);
      break;
    } catch (const gh::GraphqlTimeout& e) {
      if (page_size_ <= 1) throw sdk::RetryError(std::string(e.what()) + " even for one pull request per page");
      page_size_ = std::max<int64_t>(1, page_size_ / 2);
      vars["first"] = page_size_;
      ctx().warn("{}: {}; retrying with {} pull requests per page", s_.full_name, e.what(), page_size_);
      ctx().metric_add("graphql_timeouts");
    }
  }
  const json& conn = data.at("repository").at("pullRequests");
  if (window_end) {
    run_followups(true);
    return false;
  }
  // Overflowing connections of several pages share one batch query (one
  // point for up to kFollowUpsPerQuery); pending ones are part of the
  // checkpointed run state.
  run_followups(false);
  const json& info = conn.at("pageInfo");
  if (!info.value("hasNextPage", false)) {
    run_followups(true);
    return false;
  }
  cursor_ = info.value("endCursor", std::string());
  return !cursor_.empty();
}

void HistoricalSource::capture_gql_pr(const json& node) {
  const auto id = writer_.gql_pull_request(node);
  if (!id) return;
  const int64_t number = node.value("number", int64_t{0});
  numbers_.add(number, *id);
  const gh::PrRef ref{number, id};
  auto overflow = [&](const char* kind, const json& conn) {
    if (conn.at("pageInfo").value("hasNextPage", false)) {
      followups_.push_back(FollowUp{kind, number, id, conn["pageInfo"].value("endCursor", std::string())});
    }
  };
  // Files: GraphQL lacks previous_filename and patches; such PRs may be re-read over REST.
  const json& files = node.at("files");
  bool renamed = false;
  for (const auto& f : files.at("nodes")) {
    const std::string ct = f.value("changeType", std::string());
    if (ct == "RENAMED" || ct == "COPIED") renamed = true;
  }
  // More than one page of files may hide renames beyond the first 100.
  const bool more_files = files.at("pageInfo").value("hasNextPage", false);
  if (s_.include_patch || (renames_over_rest_ && (renamed || more_files))) {
    capture_rest_children(number, ref, false, node.value("changedFiles", int64_t{0}));
  } else {
    for (const auto& f : files.at("nodes")) writer_.gql_file(f, ref);
    overflow("files", files);
  }
  const json& reviews = node.at("reviews");
  for (const auto& r : reviews.at("nodes")) writer_.gql_review(r, ref);
  overflow("reviews", reviews);
  const json& comments = node.at("comments");
  for (const auto& c : comments.at("nodes")) writer_.gql_issue_comment(c, ref);
  overflow("comments", comments);
}

std::string HistoricalSource::followup_query(const std::vector<FollowUp>& items) {
  static constexpr std::string_view kFiles = "fragment FilesPage on PullRequestChangedFileConnection {\n"
                                             "  pageInfo { hasNextPage endCursor }\n  nodes { path additions deletions changeType }\n}\n";
  static constexpr std::string_view kReviews =
      "fragment ReviewsPage on PullRequestReviewConnection {\n  pageInfo { hasNextPage endCursor }\n"
      "  nodes { fullDatabaseId state body submittedAt url commit { oid } author { ...Who } }\n}\n";
  static constexpr std::string_view kComments = "fragment CommentsPage on IssueCommentConnection {\n  pageInfo { hasNextPage endCursor }\n"
                                                "  nodes { fullDatabaseId body createdAt updatedAt url author { ...Who } }\n}\n";
  static constexpr std::string_view kWho = "fragment Who on Actor {\n  __typename login avatarUrl url\n  ... on User { databaseId name }\n"
                                           "  ... on Bot { databaseId }\n}\n";
  std::string q = "query FollowUps($owner: String!, $name: String!) {\n  rateLimit { cost remaining resetAt }\n"
                  "  repository(owner: $owner, name: $name) {\n";
  bool files = false;
  bool reviews = false;
  bool comments = false;
  for (size_t i = 0; i < items.size(); ++i) {
    const FollowUp& f = items[i];
    const json cursor = f.cursor;  // JSON string syntax is valid GraphQL string syntax
    q += "    p" + std::to_string(i) + ": pullRequest(number: " + std::to_string(f.number) + ") { " + f.kind +
         "(first: 100, after: " + cursor.dump() + ") { ...";
    if (f.kind == "files") {
      q += "FilesPage";
      files = true;
    } else if (f.kind == "reviews") {
      q += "ReviewsPage";
      reviews = true;
    } else {
      q += "CommentsPage";
      comments = true;
    }
    q += " } }\n";
  }
  q += "  }\n}\n";
  if (files) q += kFiles;
  if (reviews) q += kReviews;
  if (comments) q += kComments;
  if (reviews || comments) q += kWho;
  return q;
}

void HistoricalSource::run_followups(bool all) {
  while (!followups_.empty() && (all || followups_.size() >= kFollowUpsPerQuery)) {
    const size_t n = std::min(followups_.size(), followup_batch_);
    std::vector<FollowUp> batch(followups_.begin(), followups_.begin() + static_cast<std::ptrdiff_t>(n));
    // The nodes are captured while the answer is parsed (up to 50 connections
    // of 100 nodes each is a megabyte of JSON); what stays is each pageInfo.
    const gh::JsonStream stream{
        [](std::span<const std::string> path) {
          return path.size() == 5 && path[0] == "data" && path[1] == "repository" && path[4] == "nodes";
        },
        [&](std::span<const std::string> path, json& node) {
          const size_t i = alias_index(path[2], batch.size());
          const FollowUp& f = batch[i];
          if (path[3] != f.kind) throw sdk::RetryError("GitHub GraphQL answered connection " + path[3] + " for a " + f.kind + " follow-up");
          const gh::PrRef ref{f.number, f.pr_id};
          if (f.kind == "files") {
            writer_.gql_file(node, ref);
          } else if (f.kind == "reviews") {
            writer_.gql_review(node, ref);
          } else {
            writer_.gql_issue_comment(node, ref);
          }
        }};
    json data;
    try {
      data = client_.graphql(followup_query(batch), {{"owner", s_.owner}, {"name", s_.name}}, nullptr, &stream);
    } catch (const gh::GraphqlTimeout& e) {
      if (followup_batch_ <= 1) throw sdk::RetryError(std::string(e.what()) + " even for a single follow-up");
      followup_batch_ = std::max<size_t>(1, followup_batch_ / 2);
      ctx().warn("{}: {}; retrying follow-ups {} at a time", s_.full_name, e.what(), followup_batch_);
      continue;
    }
    if (ctx().log_enabled(sdk::LogLevel::Debug)) {
      size_t kinds[3] = {0, 0, 0};
      for (const auto& f : batch) ++kinds[f.kind == "files" ? 0 : f.kind == "reviews" ? 1 : 2];
      ctx().debug("GraphQL follow-up query: {} files, {} reviews, {} comments connections", kinds[0], kinds[1], kinds[2]);
    }
    // Only now are they done (a failed query leaves them queued).
    followups_.erase(followups_.begin(), followups_.begin() + static_cast<std::ptrdiff_t>(n));
    ctx().metric_add("graphql_followups", static_cast<int64_t>(n));
    const json& repo = data.at("repository");
    for (size_t i = 0; i < batch.size(); ++i) {
      const FollowUp& f = batch[i];
      const json& pr = repo.at("p" + std::to_string(i));
      if (pr.is_null()) continue;  // the PR vanished meanwhile
      const json& conn = pr.at(f.kind);
      if (conn.at("pageInfo").value("hasNextPage", false)) {
        followups_.push_back(FollowUp{f.kind, f.number, f.pr_id, conn["pageInfo"].value("endCursor", std::string())});
      }
    }
  }
}

// ---------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------

void HistoricalSource::capture_rest_children(int64_t number, const gh::PrRef& ref, bool all_children, int64_t changed_files,
                                             bool files) {
  const std::string base = "/repos/" + s_.owner + "/" + s_.name;
  const std::string n = std::to_string(number);
  auto walk = [&](const std::string& path, const char* endpoint, auto&& each) {
    for (std::optional<std::string> url = client_.url(path); url;) {
      gh::Page page = client_.get(*url, {endpoint, false, false});
      if (!page.json.is_array()) throw sdk::RetryError(std::string("GitHub answered a non-array listing for ") + endpoint);
      for (auto& item : page.json) each(item);
      url = page.next;
    }
  };
  int64_t listed = 0;
  if (files) {
    walk(base + "/pulls/" + n + "/files?per_page=100", "GET /repos/{owner}/{repo}/pulls/{number}/files", [&](json& f) {
      if (!s_.include_patch && f.is_object()) f.erase("patch");
      writer_.file(f, ref);
      ++listed;
    });
  }
  if (listed >= 3000 && changed_files > listed) {
    ctx().warn("{} #{}: GitHub lists only the first 3000 files of a pull request over REST; the rest are not captured "
               "(mode graphql captures them all)",
               s_.full_name, n);
    ctx().metric_add("prs_at_file_cap");
  }
  if (!all_children) return;
  walk(base + "/pulls/" + n + "/reviews?per_page=100", "GET /repos/{owner}/{repo}/pulls/{number}/reviews",
       [&](const json& r) { writer_.review(r, ref); });
  if (mode_ == "per-pr") {
    walk(base + "/pulls/" + n + "/comments?per_page=100", "GET /repos/{owner}/{repo}/pulls/{number}/comments",
         [&](const json& c) { writer_.review_comment(c, ref); });
    walk(base + "/issues/" + n + "/comments?per_page=100", "GET /repos/{owner}/{repo}/issues/{number}/comments",
         [&](const json& c) { writer_.issue_comment(c, ref); });
  }
}

std::string HistoricalSource::first_list_page() const {
  return "/repos/" + s_.owner + "/" + s_.name + "/pulls?state=all&sort=updated&direction=desc&per_page=100";
}

std::string HistoricalSource::files_fingerprint(const json& pr) const {
  if (!pr.is_object()) return {};
  auto text = [](const json& o, const char* k) {
    return o.is_object() && o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string();
  };
  auto num = [&](const char* k) { return pr.contains(k) && pr[k].is_number_integer() ? std::to_string(pr[k].get<int64_t>()) : std::string("?"); };
  const std::string sha = text(pr.contains("head") ? pr["head"] : json(), "sha");
  const std::string ref = text(pr.contains("base") ? pr["base"] : json(), "ref");
  if (sha.empty() || ref.find(' ') != std::string::npos) return {};
  return sha + " " + ref + " " + num("changed_files") + " " + num("additions") + " " + num("deletions") + " " +
         (s_.include_patch ? "p" : "-");
}

bool HistoricalSource::rest_page() {
  gh::Page page;
  if (cursor_.empty() && probe_reusable_) {
    // The probe fetched this very page a moment ago. Its rows move here; probe_ keeps the URL
    // and ETag that Finish commits.
    page.json = std::move(probe_.json);
    page.next = probe_.next;
    probe_reusable_ = false;
  } else {
    page = client_.get(cursor_.empty() ? client_.url(first_list_page()) : cursor_, {"GET /repos/{owner}/{repo}/pulls", false, false});
  }
  if (!page.json.is_array()) throw sdk::RetryError("GitHub answered a non-array pull request listing");
  for (const auto& entry : page.json) {
    const auto updated = sdk::parse_rfc3339(entry.value("updated_at", std::string()));
    const int64_t number = entry.value("number", int64_t{0});
    if (!updated || number <= 0) {
      ctx().dead_letter("pull_requests", entry.dump(), "pull request listing JSON from GitHub: number or updated_at missing");
      continue;
    }
    if (!account(*updated)) return false;
    // Per PR the state keeps "<updated_at> <files fingerprint>" of its last durable capture.
    // Same updated_at: unchanged (also how a resumed run skips the PRs it finished). Same
    // fingerprint -- head commit, base branch, and the diff totals GitHub reports in the PR
    // details (changed_files, additions, deletions), which move when the merge base moves --
    // the file list is taken as unchanged: a PR that only got comments, reviews, labels or a
    // new title costs 2 requests, not 3.
    const std::string key = "pr:" + std::to_string(number);
    const std::string stored = ctx().state_get(key).value_or(std::string());
    const std::string updated_text = entry.value("updated_at", std::string());
    if (stored == updated_text || stored.rfind(updated_text + " ", 0) == 0) {
      ctx().metric_add("prs_unchanged");
      continue;
    }
    gh::Page pr = client_.get(client_.url("/repos/" + s_.owner + "/" + s_.name + "/pulls/" + std::to_string(number)),
                              {"GET /repos/{owner}/{repo}/pulls/{number}", false, true});
    if (pr.status == 404) {  // deleted between the listing and now
      ctx().dead_letter("pull_requests", entry.dump(), "pull request #" + std::to_string(number) + " was listed but GitHub now answers 404");
      continue;
    }
    const std::string files_key = files_fingerprint(pr.json);
    const auto space = stored.find(' ');
    const bool files_unchanged = !files_key.empty() && space != std::string::npos && stored.substr(space + 1) == files_key;
    const auto id = writer_.pull_request(pr.json, true);
    if (!id) continue;
    numbers_.add(number, *id);
    if (files_unchanged) ctx().metric_add("prs_files_unchanged");
    capture_rest_children(number, gh::PrRef{number, id}, true, pr.json.value("changed_files", int64_t{0}), !files_unchanged);
    ctx().checkpoint(key, files_key.empty() ? updated_text : updated_text + " " + files_key);
  }
  if (!page.next) return false;
  cursor_ = *page.next;
  return true;
}

bool HistoricalSource::rest_list_comments(bool review) {
  // One repository-wide listing instead of a request per PR: review comments
  // (/pulls/comments) or conversation comments (/issues/comments, which also
  // holds comments on plain issues; those are filtered out).
  std::string url = comments_next_;
  if (url.empty()) {
    url = client_.url("/repos/" + s_.owner + "/" + s_.name + (review ? "/pulls/comments" : "/issues/comments") +
                      "?sort=updated&direction=asc&per_page=100");
    if (cutoff_us_ > 0) url += "&since=" + gh::url_encode(sdk::format_rfc3339((cutoff_us_ / 1000000) * 1000000));
  }
  gh::Page page = client_.get(url, {review ? "GET /repos/{owner}/{repo}/pulls/comments" : "GET /repos/{owner}/{repo}/issues/comments",
                                    false, false});
  if (!page.json.is_array()) throw sdk::RetryError("GitHub answered a non-array comment listing");
  for (const auto& c : page.json) {
    std::optional<int64_t> number;
    if (review) {
      number = number_after(c.value("pull_request_url", std::string()), "/pulls/");
    } else {
      // Only comments on pull requests: their html_url points at /pull/N.
      number = number_after(c.value("html_url", std::string()), "/pull/");
      if (!number) continue;
    }
    if (!number) {
      ctx().dead_letter("comments", c.dump(), "comment JSON from GitHub: cannot tell its pull request (pull_request_url missing)");
      continue;
    }
    if (!in_selection(*number)) continue;
    const std::optional<int64_t> pr_id = numbers_.find(*number);
    if (review) {
      writer_.review_comment(c, gh::PrRef{*number, pr_id});
    } else {
      writer_.issue_comment(c, gh::PrRef{*number, pr_id});
    }
  }
  if (!page.next) return false;
  comments_next_ = *page.next;
  return true;
}

}  // namespace progcap::plugins::github_historical
