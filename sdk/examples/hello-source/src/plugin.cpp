// source-hello: emits `count` greetings to `name`.
#include <progcap/sdk/plugin.hpp>

namespace hello {

namespace sdk = progcap::sdk;

class HelloSource final : public sdk::Source {
 public:
  static constexpr std::string_view kType = "hello";
  static constexpr std::string_view kDescription = "Emits `count` greetings addressed to `name`.";
  static inline const auto kName = sdk::option<std::string>("name").default_value("world").describe("who to greet");
  static inline const auto kCount = sdk::option<int64_t>("count").default_value(3).range(0, 1000000).describe("how many greetings");
  static sdk::OptionList options() { return {kName, kCount}; }
  static std::vector<const sdk::Stream*> streams() {
    static const sdk::Stream s = [] {
      sdk::Stream st("greetings", "one row per greeting");
      st.field("id", sdk::Type::Int64, sdk::kPrimaryKey, "sequence number")
          .field("message", sdk::Type::String, 0, "the greeting")
          .field("at", sdk::Type::Timestamp, 0, "fixed instant, 2024-01-01T00:00:00Z + id s");
      return st;
    }();
    return {&s};
  }

  HelloSource(sdk::Context ctx, const sdk::Config& cfg) : sdk::Source(ctx), name_(cfg.get(kName)), count_(cfg.get(kCount)) {}

  sdk::Status poll(sdk::Emitter& out) override {
    if (next_ >= count_) return sdk::Status::Done;
    const std::string message = "hello, " + name_ + " #" + std::to_string(next_);
    sdk::Row row(3);
    row.set(0, next_).set(1, std::string_view(message)).set(2, sdk::Timestamp{1704067200LL * 1000000 + next_ * 1000000});
    out.emit(0, row);
    ++next_;
    return sdk::Status::Ok;
  }

 private:
  std::string name_;
  int64_t count_;
  int64_t next_ = 0;
};

}  // namespace hello

PROGCAP_DECLARE_PLUGIN("source-hello", PROGCAP_PLUGIN_VERSION_STRING, "Greetings, as an example plugin", hello::HelloSource)
