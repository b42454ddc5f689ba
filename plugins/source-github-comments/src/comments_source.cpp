#include "comments_source.hpp"

namespace progcap::plugins::github_comments {

CommentsSource::CommentsSource(sdk::Context ctx, const sdk::Config& cfg)
    : gh::SourceBase(ctx, cfg, gh::StreamIndex{0, 1, 2, -1, -1, 3}), selection_(client_, s_, window_start_us()) {}

sdk::Status CommentsSource::poll(sdk::Emitter& out) {
  writer_.bind(out);
  if (!repository_done_) {
    capture_repository(out);
    return sdk::Status::Ok;
  }
  // A failed capture (RETRY) leaves current_ set: the next poll repeats the
  // same pull request instead of moving on.
  if (!current_) current_ = selection_.next();
  auto& item = current_;
  if (!item) {
    if (selection_.unchanged()) ctx().info("{}: no pull request changed since the last run (304)", s_.full_name);
    current_.reset();
    selection_.finish();
    publish_metrics();
    return sdk::Status::Done;
  }
  if (item->updated_at && ctx().state_get("pr:" + std::to_string(item->number)) == item->updated_at) {
    ctx().metric_add("prs_unchanged");
    current_.reset();
    return sdk::Status::Ok;
  }
  capture(*item);
  ctx().progress(s_.full_name + " #" + std::to_string(item->number), ++done_,
                 selection_.listing() ? -1 : static_cast<int64_t>(s_.pr_numbers.size()));
  current_.reset();
  return sdk::Status::Ok;
}

void CommentsSource::capture(const gh::PrSelection::Item& item) {
  const std::string n = std::to_string(item.number);
  const std::string repo = "/repos/" + s_.owner + "/" + s_.name;
  std::optional<int64_t> id = item.github_id;
  std::string updated = item.updated_at.value_or("");
  gh::Page pr;
  if (!selection_.listing()) {
    pr = client_.get(client_.url(repo + "/pulls/" + n), {"GET /repos/{owner}/{repo}/pulls/{number}", true, true});
    if (pr.status == 404) {
      ctx().metric_add("prs_not_found");
      ctx().dead_letter("pull_requests", "{\"repository\":\"" + s_.full_name + "\",\"number\":" + n + "}",
                        "pull request #" + n + " not found in " + s_.full_name + " (GitHub answered 404)");
      return;
    }
    if (pr.not_modified) {
      ctx().metric_add("prs_unchanged");
      return;
    }
    id = writer_.pull_request(pr.json, true);
    if (!id) return;
    updated = pr.json.value("updated_at", std::string());
  } else if (item.listed != nullptr) {
    writer_.pull_request(*item.listed, false);
  }
  const gh::PrRef ref{item.number, id};
  for (std::optional<std::string> url = client_.url(repo + "/issues/" + n + "/comments?per_page=100"); url;) {
    gh::Page page = client_.get(*url, {"GET /repos/{owner}/{repo}/issues/{number}/comments", false, false});
    if (!page.json.is_array()) throw sdk::RetryError("GitHub answered a non-array comment listing for #" + n);
    for (const auto& c : page.json) writer_.issue_comment(c, ref);
    url = page.next;
  }
  ctx().checkpoint("pr:" + n, updated);
  if (!selection_.listing()) client_.commit_etag(pr);
}

}  // namespace progcap::plugins::github_comments
