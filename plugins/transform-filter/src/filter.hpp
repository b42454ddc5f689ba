// transform-filter: keeps the rows of `stream` (or of every stream) whose
// `field` compares true against `value`; other streams pass unchanged.
#pragma once

#include <progcap/sdk/component.hpp>

#include <optional>
#include <string>

namespace progcap::plugins::filter {

class FilterTransform final : public sdk::Transform {
 public:
  static constexpr std::string_view kType = "filter";
  static constexpr std::string_view kDescription =
      "Keeps rows whose `field` satisfies `op` against `value` (eq, ne, lt, le, gt, ge, is_null, not_null, contains). "
      "Numbers compare numerically, timestamps as RFC 3339 instants, everything else as text. Rows of streams other "
      "than `stream` pass unchanged.";
  static inline const auto kField = sdk::option<std::string>("field").required().describe("field to test");
  static inline const auto kOp = sdk::option<std::string>("op")
                                     .default_value("eq")
                                     .one_of({"eq", "ne", "lt", "le", "gt", "ge", "is_null", "not_null", "contains"})
                                     .describe("comparison");
  static inline const auto kValue = sdk::option<std::string>("value").describe("value to compare with (not needed for is_null/not_null)");
  static inline const auto kStream = sdk::option<std::string>("stream").describe("only filter this stream (default: every stream)");
  static sdk::OptionList options() { return {kField, kOp, kValue, kStream}; }

  FilterTransform(sdk::Context ctx, const sdk::Config& cfg);
  sdk::Status process(const sdk::BatchView& in, sdk::Emitter& out) override;

  /// True when the value passes (exposed for unit tests).
  [[nodiscard]] bool keep(const progcap_value& v) const;

 private:
  std::string field_;
  std::string op_;
  std::string value_;
  std::optional<std::string> stream_;
  std::optional<double> number_;
  std::optional<int64_t> integer_;
  std::optional<int64_t> instant_;
};

}  // namespace progcap::plugins::filter
