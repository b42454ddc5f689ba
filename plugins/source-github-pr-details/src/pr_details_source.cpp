#include "pr_details_source.hpp"

namespace progcap::plugins::github_pr_details {

namespace {
constexpr int64_t kGitHubFileCap = 3000;
}

PrDetailsSource::PrDetailsSource(sdk::Context ctx, const sdk::Config& cfg)
    : gh::SourceBase(ctx, cfg, gh::StreamIndex{0, 1, 2, 3, -1, -1}), selection_(client_, s_, window_start_us()) {}

sdk::Status PrDetailsSource::poll(sdk::Emitter& out) {
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
  // In listing mode, PRs whose updated_at matches what we captured last time are skipped.
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

void PrDetailsSource::capture(const gh::PrSelection::Item& item) {
  const std::string n = std::to_string(item.number);
  const std::string base = "/repos/" + s_.owner + "/" + s_.name + "/pulls/" + n;
  gh::Page pr = client_.get(client_.url(base), {"GET /repos/{owner}/{repo}/pulls/{number}", true, true});
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
  const auto id = writer_.pull_request(pr.json, true);
  if (!id) return;  // dead-lettered
  const gh::PrRef ref{item.number, id};
  std::optional<std::string> url = client_.url(base + "/files?per_page=100");
  int64_t files = 0;
  while (url) {
    gh::Page page = client_.get(*url, {"GET /repos/{owner}/{repo}/pulls/{number}/files", false, false});
    if (!page.json.is_array()) throw sdk::RetryError("GitHub answered a non-array file listing for #" + n);
    for (auto& f : page.json) {
      if (!s_.include_patch && f.is_object()) f.erase("patch");
      writer_.file(f, ref);
      ++files;
    }
    url = page.next;
  }
  const int64_t changed = pr.json.value("changed_files", int64_t{0});
  if (files >= kGitHubFileCap && changed > files) {
    ctx().warn("{} #{} changes {} files; GitHub lists only the first {} over REST (the rest are not captured)", s_.full_name, n, changed, files);
    ctx().metric_add("prs_at_file_cap");
  }
  const std::string updated = pr.json.value("updated_at", std::string());
  ctx().checkpoint("pr:" + n, updated);
  client_.commit_etag(pr);
}

}  // namespace progcap::plugins::github_pr_details
