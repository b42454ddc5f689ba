#include <progcap/github/source_base.hpp>

#include <progcap/sdk/codec.hpp>

#include <chrono>

namespace progcap::github {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

SourceBase::SourceBase(sdk::Context ctx, const sdk::Config& cfg, StreamIndex idx)
    : sdk::Source(ctx), s_(Settings::from(cfg)), client_(ctx, s_), writer_(ctx, idx, s_.full_name) {}

int64_t SourceBase::window_start_us() const {
  if (s_.time_range_days <= 0) return 0;
  return (now_ms() - s_.time_range_days * 86400LL * 1000LL) * 1000LL;
}

void SourceBase::capture_repository(sdk::Emitter& out) {
  writer_.bind(out);
  Page page = client_.get(client_.url("/repos/" + s_.owner + "/" + s_.name), {"GET /repos/{owner}/{repo}", true, false});
  if (page.not_modified) {
    if (auto id = ctx().state_get("repository_id")) writer_.set_repository_id(std::stoll(*id));
  } else {
    writer_.repository(page.json);
    if (auto id = writer_.repository_id()) ctx().state_put("repository_id", std::to_string(*id));
    client_.commit_etag(page);
  }
  repository_done_ = true;
}

void SourceBase::publish_metrics() {
  const auto& c = writer_.counts();
  ctx().metric_set("prs_captured", static_cast<double>(c.prs));
  ctx().metric_set("github_requests", static_cast<double>(client_.requests()));
  if (c.prs > 0) ctx().metric_set("requests_per_pr", static_cast<double>(client_.requests()) / static_cast<double>(c.prs));
  if (c.skipped_pending > 0) ctx().metric_set("pending_reviews_skipped", static_cast<double>(c.skipped_pending));
}

// ---------------------------------------------------------------------------

PrSelection::PrSelection(Client& client, const Settings& s, int64_t window_start_us)
    : client_(client), s_(s), window_start_us_(window_start_us) {}

std::optional<PrSelection::Item> PrSelection::next() {
  if (done_) return std::nullopt;
  while (!listing()) {
    if (index_ >= s_.pr_numbers.size()) {
      done_ = true;
      return std::nullopt;
    }
    Item it;
    it.number = s_.pr_numbers[index_++];
    if (!s_.in_shard(it.number)) continue;
    return it;
  }
  while (true) {
    if (s_.max_items > 0 && selected_ >= s_.max_items) {
      done_ = true;
      return std::nullopt;
    }
    if (!page_.json.is_array() || in_page_ >= page_.json.size()) {
      const bool first = !next_url_.has_value() && !page_.json.is_array();
      if (!first && !next_url_) {
        done_ = true;
        return std::nullopt;
      }
      const std::string url = first ? client_.url("/repos/" + s_.owner + "/" + s_.name + "/pulls?state=all&sort=updated&direction=desc&per_page=100")
                                    : *next_url_;
      page_ = client_.get(url, {"GET /repos/{owner}/{repo}/pulls", first, false,
                                "|time_range=" + std::to_string(s_.time_range_days) + "|max_items=" + std::to_string(s_.max_items) +
                                    (s_.shard_count > 1 ? "|shard=" + std::to_string(s_.shard_index) + "/" + std::to_string(s_.shard_count)
                                                        : std::string())});
      in_page_ = 0;
      if (first) {
        first_page_ = page_;
        first_page_.json = json();
        if (page_.not_modified) {
          // Nothing in the repository changed since the last complete run.
          unchanged_ = true;
          done_ = true;
          return std::nullopt;
        }
      }
      next_url_ = page_.next;
      if (!page_.json.is_array()) throw sdk::RetryError("GitHub answered a non-array pull request listing");
      if (page_.json.empty()) {
        done_ = true;
        return std::nullopt;
      }
    }
    const json& entry = page_.json[in_page_++];
    Item it;
    try {
      it.number = req_int(entry, "number");
      it.github_id = req_int(entry, "id");
      it.updated_at = req_str(entry, "updated_at");
    } catch (const MappingError& e) {
      client_.ctx().dead_letter("pull_requests", entry.dump(), std::string("pull request listing JSON from GitHub: ") + e.what());
      continue;
    }
    const auto updated = sdk::parse_rfc3339(*it.updated_at);
    if (updated && *updated < window_start_us_) {
      // Sorted by updated_at descending: everything after is older.
      done_ = true;
      return std::nullopt;
    }
    ++selected_;  // max_items counts the whole selection: the shards together select what one run would
    if (!s_.in_shard(it.number)) continue;
    it.listed = &entry;
    return it;
  }
}

void PrSelection::finish() {
  if (listing() && !first_page_.url.empty()) client_.commit_etag(first_page_);
}

}  // namespace progcap::github
