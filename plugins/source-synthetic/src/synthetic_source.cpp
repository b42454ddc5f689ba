#include "synthetic_source.hpp"

#include <cstdio>

namespace progcap::plugins::synthetic {

namespace {

const sdk::Stream& events_stream() {
  static const sdk::Stream s = [] {
    sdk::Stream st("events", "synthetic events");
    st.field("id", sdk::Type::Int64, sdk::kPrimaryKey, "sequence number from 0")
        .field("name", sdk::Type::String, 0, "deterministic name")
        .field("value", sdk::Type::Double, 0, "pseudo-random value in [0, 1000)")
        .field("active", sdk::Type::Bool, 0, "every third row is inactive")
        .field("created_at", sdk::Type::Timestamp, 0, "2024-01-01T00:00:00Z plus id seconds")
        .field("payload", sdk::Type::Json, 0, "nested JSON object")
        .field("note", sdk::Type::String, sdk::kNullable, "null on every fifth row");
    return st;
  }();
  return s;
}

/// splitmix64: fast, deterministic.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

constexpr int64_t kEpoch2024 = 1704067200LL * 1000000LL;  // 2024-01-01T00:00:00Z in µs

}  // namespace

std::vector<const sdk::Stream*> SyntheticSource::streams() { return {&events_stream()}; }

SyntheticSource::SyntheticSource(sdk::Context ctx, const sdk::Config& cfg)
    : sdk::Source(ctx),
      records_(cfg.get(kRecords)),
      seed_(static_cast<uint64_t>(cfg.get(kSeed))),
      rows_per_poll_(cfg.get(kRowsPerPoll)),
      checkpoint_every_(cfg.get(kCheckpointEvery)),
      resume_(cfg.get(kResume)),
      delay_ms_(cfg.get(kDelay).count()) {}

void SyntheticSource::start() {
  if (!resume_) return;
  if (auto cursor = ctx().state_get("cursor")) {
    next_ = std::stoll(*cursor);
    if (next_ >= records_) {
      ctx().info("cursor {} is at the end ({} records); nothing to do (set resume: false to start over)", next_, records_);
    } else {
      ctx().info("resuming at record {} of {}", next_, records_);
    }
  }
}

sdk::Status SyntheticSource::poll(sdk::Emitter& out) {
  if (next_ >= records_) {
    ctx().checkpoint("cursor", std::to_string(next_));
    return sdk::Status::Done;
  }
  // Interrupted while pausing: the host stops polling; nothing is lost.
  if (delay_ms_ > 0 && !ctx().wait(static_cast<uint64_t>(delay_ms_))) return sdk::Status::Ok;
  const int64_t end = std::min(records_, next_ + rows_per_poll_);
  for (; next_ < end; ++next_) {
    const uint64_t h = mix(seed_ ^ static_cast<uint64_t>(next_));
    name_ = "event-";
    name_ += std::to_string(next_);
    char buf[96];
    std::snprintf(buf, sizeof buf, "{\"n\":%lld,\"tags\":[\"t%llu\",\"t%llu\"]}", static_cast<long long>(next_),
                  static_cast<unsigned long long>(h % 7), static_cast<unsigned long long>((h >> 8) % 7));
    payload_ = buf;
    row_.set(kId, next_)
        .set(kName, std::string_view(name_))
        .set(kValue, static_cast<double>(h % 1000000) / 1000.0)
        .set(kActive, next_ % 3 != 0)
        .set(kCreatedAt, sdk::Timestamp{kEpoch2024 + next_ * 1000000LL})
        .set(kPayload, sdk::Json{payload_});
    if (next_ % 5 == 0) {
      row_.set_null(kNote);
    } else {
      row_.set(kNote, std::string_view("note"));
    }
    out.emit(0, row_);
    if (checkpoint_every_ > 0 && ++since_checkpoint_ >= checkpoint_every_) {
      since_checkpoint_ = 0;
      ctx().checkpoint("cursor", std::to_string(next_ + 1));
    }
  }
  ctx().progress("events", next_, records_);
  return sdk::Status::Ok;
}

}  // namespace progcap::plugins::synthetic
