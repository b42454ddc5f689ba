// progcap GitHub plugins — what every GitHub source shares: settings, the
// client, the record writer, the repository row, and run metrics.
#pragma once

#include <progcap/github/client.hpp>
#include <progcap/github/records.hpp>
#include <progcap/github/settings.hpp>
#include <progcap/sdk/component.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace progcap::github {

/// Milliseconds since the epoch (wall clock).
int64_t now_ms();

class SourceBase : public sdk::Source {
 protected:
  SourceBase(sdk::Context ctx, const sdk::Config& cfg, StreamIndex idx);

  /// Emits the repository row (conditional GET; the id is remembered in state
  /// so unchanged repositories cost nothing). Throws ConfigError on 404.
  void capture_repository(sdk::Emitter& out);
  /// Publishes counters as metrics (call before returning Done).
  void publish_metrics();
  /// Window start (µs since the epoch) from time_range, or 0 for everything.
  [[nodiscard]] int64_t window_start_us() const;

  Settings s_;
  Client client_;
  RecordWriter writer_;
  bool repository_done_ = false;
};

/// The pull requests a per-PR source works through: the given numbers, or
/// those updated within time_range days, newest first, stopping at the window
/// edge (the pulls list has no `since`), at most max_items. Page 1 of the
/// listing is requested conditionally: an unchanged repository answers 304.
class PrSelection {
 public:
  struct Item {
    int64_t number = 0;
    std::optional<int64_t> github_id;   // from the listing
    std::optional<std::string> updated_at;
    const json* listed = nullptr;       // the list object (valid until the next call)
  };

  PrSelection(Client& client, const Settings& s, int64_t window_start_us);
  /// The next pull request, or nullopt when the selection is exhausted.
  std::optional<Item> next();
  /// True when pull requests come from the listing (not pr_numbers).
  [[nodiscard]] bool listing() const noexcept { return s_.pr_numbers.empty(); }
  /// Commits the ETag of the listing's first page (call when all items are done).
  void finish();
  [[nodiscard]] bool unchanged() const noexcept { return unchanged_; }

 private:
  Client& client_;
  const Settings& s_;
  int64_t window_start_us_;
  size_t index_ = 0;        // pr_numbers mode
  int64_t selected_ = 0;
  bool done_ = false;
  bool unchanged_ = false;
  std::optional<std::string> next_url_;
  Page page_;
  size_t in_page_ = 0;
  Page first_page_;         // its ETag is committed by finish()
};

}  // namespace progcap::github
