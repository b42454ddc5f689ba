// sink-blackhole: accepts every batch, counts rows and bytes, writes nothing.
// Optional fault injection (fail_every) makes it useful for retry drills.
#include <progcap/sdk/plugin.hpp>

namespace progcap::plugins::blackhole {

class BlackholeSink final : public sdk::Sink {
 public:
  static constexpr std::string_view kType = "blackhole";
  static constexpr std::string_view kDescription =
      "Discards rows after counting them (metrics rows, bytes). With fail_every: N, every Nth write answers RETRY once, "
      "to rehearse retries.";
  static inline const auto kFailEvery =
      sdk::option<int64_t>("fail_every").default_value(0).range(0, INT64_MAX).describe("answer RETRY on every Nth write (0 = never)");
  static inline const auto kTouch = sdk::option<bool>("touch").default_value(true).describe(
      "read every value (so benchmarks measure the full boundary crossing)");
  static sdk::OptionList options() { return {kFailEvery, kTouch}; }

  BlackholeSink(sdk::Context ctx, const sdk::Config& cfg) : sdk::Sink(ctx), fail_every_(cfg.get(kFailEvery)), touch_(cfg.get(kTouch)) {}

  sdk::Status write(const sdk::BatchView& batch) override {
    ++writes_;
    if (fail_every_ > 0 && writes_ % fail_every_ == 0 && !retried_) {
      retried_ = true;
      --writes_;
      return sdk::Status::Retry;
    }
    retried_ = false;
    uint64_t bytes = 0;
    if (touch_) {
      for (uint64_t r = 0; r < batch.rows(); ++r) {
        const progcap_value* row = batch.row_values(r);
        for (uint32_t f = 0; f < batch.fields(); ++f) {
          if (row[f].type == PROGCAP_TYPE_STRING || row[f].type == PROGCAP_TYPE_JSON) {
            bytes += row[f].v.str.len;
          } else {
            bytes += 8;
          }
        }
      }
    }
    ctx().metric_add("rows", static_cast<int64_t>(batch.rows()));
    ctx().metric_add("bytes", static_cast<int64_t>(bytes));
    return sdk::Status::Ok;
  }

 private:
  int64_t fail_every_;
  bool touch_;
  int64_t writes_ = 0;
  bool retried_ = false;
};

}  // namespace progcap::plugins::blackhole

PROGCAP_DECLARE_PLUGIN("sink-blackhole", PROGCAP_PLUGIN_VERSION_STRING, "Discards and counts rows",
                       progcap::plugins::blackhole::BlackholeSink)
