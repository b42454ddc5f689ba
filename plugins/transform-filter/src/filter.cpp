#include "filter.hpp"

#include <progcap/sdk/codec.hpp>

#include <charconv>

namespace progcap::plugins::filter {

FilterTransform::FilterTransform(sdk::Context ctx, const sdk::Config& cfg)
    : sdk::Transform(ctx), field_(cfg.get(kField)), op_(cfg.get(kOp)), value_(cfg.get_optional(kValue).value_or("")),
      stream_(cfg.get_optional(kStream)) {
  if (op_ != "is_null" && op_ != "not_null" && !cfg.get_optional(kValue)) {
    throw sdk::ConfigError("op '" + op_ + "' needs a 'value'");
  }
  double d = 0;
  auto [p, ec] = std::from_chars(value_.data(), value_.data() + value_.size(), d);
  if (ec == std::errc() && p == value_.data() + value_.size() && !value_.empty()) number_ = d;
  int64_t i = 0;
  auto [pi, eci] = std::from_chars(value_.data(), value_.data() + value_.size(), i);
  if (eci == std::errc() && pi == value_.data() + value_.size() && !value_.empty()) integer_ = i;
  instant_ = sdk::parse_rfc3339(value_);
}

namespace {
template <class T>
bool compare(const std::string& op, const T& a, const T& b) {
  if (op == "eq") return a == b;
  if (op == "ne") return a != b;
  if (op == "lt") return a < b;
  if (op == "le") return a <= b;
  if (op == "gt") return a > b;
  if (op == "ge") return a >= b;
  return false;
}
}  // namespace

bool FilterTransform::keep(const progcap_value& v) const {
  if (op_ == "is_null") return v.type == PROGCAP_TYPE_NULL;
  if (op_ == "not_null") return v.type != PROGCAP_TYPE_NULL;
  if (v.type == PROGCAP_TYPE_NULL) return op_ == "ne";
  if (op_ != "contains") {
    switch (v.type) {
      case PROGCAP_TYPE_INT64:
        if (integer_) return compare(op_, v.v.i64, *integer_);  // exact for large ids
        if (number_) return compare(op_, static_cast<double>(v.v.i64), *number_);
        break;
      case PROGCAP_TYPE_DOUBLE:
        if (number_) return compare(op_, v.v.f64, *number_);
        break;
      case PROGCAP_TYPE_TIMESTAMP:
        if (instant_) return compare(op_, v.v.i64, *instant_);
        break;
      case PROGCAP_TYPE_BOOL: return compare(op_, std::string(v.v.b ? "true" : "false"), value_);
      default: break;
    }
  }
  // Text form: strings and JSON as they are; timestamps as RFC 3339;
  // numbers and booleans as JSON renders them (no quotes).
  std::string text;
  if (v.type == PROGCAP_TYPE_STRING || v.type == PROGCAP_TYPE_JSON) {
    text.assign(sdk::from_abi(v.v.str));
  } else if (v.type == PROGCAP_TYPE_TIMESTAMP) {
    text = sdk::format_rfc3339(v.v.i64);
  } else {
    sdk::append_json_value(text, v);
  }
  if (op_ == "contains") return text.find(value_) != std::string::npos;
  return compare(op_, text, value_);
}

sdk::Status FilterTransform::process(const sdk::BatchView& in, sdk::Emitter& out) {
  const bool applies = !stream_ || *stream_ == in.stream();
  uint32_t field = UINT32_MAX;
  if (applies) {
    for (uint32_t f = 0; f < in.fields(); ++f) {
      if (in.field_name(f) == field_) field = f;
    }
    if (field == UINT32_MAX) throw sdk::ConfigError("stream '" + std::string(in.stream()) + "' has no field '" + field_ + "'");
  }
  uint64_t dropped = 0;
  for (uint64_t r = 0; r < in.rows(); ++r) {
    const progcap_value* row = in.row_values(r);
    if (applies && !keep(row[field])) {
      ++dropped;
      continue;
    }
    out.emit(sdk::kInputStream, row, in.fields());
  }
  if (dropped > 0) ctx().metric_add("dropped", static_cast<int64_t>(dropped));
  return sdk::Status::Ok;
}

}  // namespace progcap::plugins::filter
