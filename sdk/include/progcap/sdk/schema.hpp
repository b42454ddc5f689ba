// progcap C++ SDK — stream schemas, typed values, rows and batch views.
#pragma once

#include <progcap/abi/progcap_plugin.h>
#include <progcap/sdk/status.hpp>

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace progcap::sdk {

enum class Type : int32_t {
  Null = PROGCAP_TYPE_NULL,
  Bool = PROGCAP_TYPE_BOOL,
  Int64 = PROGCAP_TYPE_INT64,
  Double = PROGCAP_TYPE_DOUBLE,
  String = PROGCAP_TYPE_STRING,
  Timestamp = PROGCAP_TYPE_TIMESTAMP,
  Json = PROGCAP_TYPE_JSON,
};

constexpr std::string_view type_name(Type t) noexcept {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "bool";
    case Type::Int64: return "int64";
    case Type::Double: return "double";
    case Type::String: return "string";
    case Type::Timestamp: return "timestamp";
    case Type::Json: return "json";
  }
  return "unknown";
}

/// Field flags.
inline constexpr uint32_t kNullable = PROGCAP_FIELD_NULLABLE;
inline constexpr uint32_t kPrimaryKey = PROGCAP_FIELD_PRIMARY_KEY;

/// Microseconds since the Unix epoch, UTC.
struct Timestamp {
  int64_t micros;
};
/// JSON text (nested data).
struct Json {
  std::string_view text;
};

/// Declares one stream (name + fields). Keep instances in static storage:
/// the host borrows the ABI view for the lifetime of the plugin library.
class Stream {
 public:
  explicit Stream(std::string name, std::string description = {}) : name_(std::move(name)), description_(std::move(description)) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&&) = default;

  /// Adds a field; returns *this for chaining.
  Stream& field(std::string name, Type type, uint32_t flags = kNullable, std::string description = {}) {
    auto f = std::make_unique<Field>();
    f->name = std::move(name);
    f->description = std::move(description);
    f->abi = progcap_field{sizeof(progcap_field), static_cast<progcap_type>(type), {}, flags, 0, {}};
    fields_.push_back(std::move(f));
    return *this;
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] size_t size() const noexcept { return fields_.size(); }
  /// Index of a field by name; throws if absent (use at construction time, not per row).
  [[nodiscard]] uint32_t index_of(std::string_view field_name) const {
    for (size_t i = 0; i < fields_.size(); ++i) {
      if (fields_[i]->name == field_name) return static_cast<uint32_t>(i);
    }
    throw Error(Status::Fatal, "stream '" + name_ + "' has no field '" + std::string(field_name) + "'");
  }

  /// The ABI view; valid while this Stream lives and is not modified.
  const progcap_schema* abi() const {
    ptrs_.clear();
    for (auto& f : fields_) {
      f->abi.name = to_abi(f->name);
      f->abi.description = to_abi(f->description);
      ptrs_.push_back(&f->abi);
    }
    schema_ = progcap_schema{sizeof(progcap_schema), static_cast<uint32_t>(ptrs_.size()), to_abi(name_), ptrs_.data(),
                             to_abi(description_)};
    return &schema_;
  }

 private:
  struct Field {
    std::string name;
    std::string description;
    progcap_field abi{};
  };
  std::string name_;
  std::string description_;
  std::vector<std::unique_ptr<Field>> fields_;
  mutable std::vector<const progcap_field*> ptrs_;
  mutable progcap_schema schema_{};
};

/// Read-only view of one value inside a batch.
class ValueView {
 public:
  explicit ValueView(const progcap_value& v) noexcept : v_(&v) {}
  [[nodiscard]] Type type() const noexcept { return static_cast<Type>(v_->type); }
  [[nodiscard]] bool is_null() const noexcept { return v_->type == PROGCAP_TYPE_NULL; }
  [[nodiscard]] bool as_bool() const noexcept { return v_->v.b != 0; }
  [[nodiscard]] int64_t as_int() const noexcept { return v_->v.i64; }
  [[nodiscard]] double as_double() const noexcept { return v_->v.f64; }
  [[nodiscard]] int64_t as_timestamp_micros() const noexcept { return v_->v.i64; }
  [[nodiscard]] std::string_view as_string() const noexcept { return from_abi(v_->v.str); }
  [[nodiscard]] const progcap_value& raw() const noexcept { return *v_; }

 private:
  const progcap_value* v_;
};

/// Read-only view of a batch delivered to a sink or transform.
class BatchView {
 public:
  explicit BatchView(const progcap_batch& b) noexcept : b_(&b) {}
  [[nodiscard]] std::string_view stream() const noexcept { return from_abi(b_->schema->stream); }
  [[nodiscard]] uint64_t rows() const noexcept { return b_->row_count; }
  [[nodiscard]] uint32_t fields() const noexcept { return b_->field_count; }
  [[nodiscard]] uint64_t sequence() const noexcept { return b_->sequence; }
  [[nodiscard]] const progcap_schema& schema() const noexcept { return *b_->schema; }
  [[nodiscard]] std::string_view field_name(uint32_t f) const noexcept { return from_abi(b_->schema->fields[f]->name); }
  [[nodiscard]] Type field_type(uint32_t f) const noexcept { return static_cast<Type>(b_->schema->fields[f]->type); }
  [[nodiscard]] uint32_t field_flags(uint32_t f) const noexcept { return b_->schema->fields[f]->flags; }
  [[nodiscard]] ValueView at(uint64_t row, uint32_t field) const noexcept {
    return ValueView(b_->values[row * b_->field_count + field]);
  }
  [[nodiscard]] const progcap_value* row_values(uint64_t row) const noexcept { return b_->values + row * b_->field_count; }
  [[nodiscard]] const progcap_batch& raw() const noexcept { return *b_; }

 private:
  const progcap_batch* b_;
};

/// A reusable row of values for emitting. String and JSON values are
/// borrowed: they must stay alive until the row is emitted. Use own() to copy
/// a temporary string into storage owned by the row.
class Row {
 public:
  explicit Row(size_t fields = 0) : values_(fields, null_value()) {}

  void resize(size_t fields) { values_.assign(fields, null_value()); }
  void clear() noexcept {
    for (auto& v : values_) v = null_value();
    owned_.clear();
  }
  [[nodiscard]] size_t size() const noexcept { return values_.size(); }

  Row& set_null(size_t i) noexcept { values_[i] = null_value(); return *this; }
  Row& set(size_t i, std::nullptr_t) noexcept { return set_null(i); }
  Row& set(size_t i, bool b) noexcept {
    values_[i] = progcap_value{PROGCAP_TYPE_BOOL, 0, {}};
    values_[i].v.b = b ? 1 : 0;
    return *this;
  }
  Row& set(size_t i, int64_t x) noexcept {
    values_[i] = progcap_value{PROGCAP_TYPE_INT64, 0, {}};
    values_[i].v.i64 = x;
    return *this;
  }
  Row& set(size_t i, int x) noexcept { return set(i, static_cast<int64_t>(x)); }
  Row& set(size_t i, double x) noexcept {
    values_[i] = progcap_value{PROGCAP_TYPE_DOUBLE, 0, {}};
    values_[i].v.f64 = x;
    return *this;
  }
  Row& set(size_t i, std::string_view s) noexcept {
    values_[i] = progcap_value{PROGCAP_TYPE_STRING, 0, {}};
    values_[i].v.str = to_abi(s);
    return *this;
  }
  Row& set(size_t i, const char* s) noexcept { return set(i, std::string_view(s)); }
  Row& set(size_t i, Timestamp t) noexcept {
    values_[i] = progcap_value{PROGCAP_TYPE_TIMESTAMP, 0, {}};
    values_[i].v.i64 = t.micros;
    return *this;
  }
  Row& set(size_t i, Json j) noexcept {
    values_[i] = progcap_value{PROGCAP_TYPE_JSON, 0, {}};
    values_[i].v.str = to_abi(j.text);
    return *this;
  }
  /// Copies `s` into the row's own storage (valid until clear()).
  Row& set_owned(size_t i, std::string s) {
    owned_.push_back(std::move(s));
    return set(i, std::string_view(owned_.back()));
  }
  /// Copies JSON text into the row's own storage (valid until clear()).
  Row& set_owned_json(size_t i, std::string s) {
    owned_.push_back(std::move(s));
    return set(i, Json{owned_.back()});
  }

  [[nodiscard]] const progcap_value* data() const noexcept { return values_.data(); }

 private:
  static progcap_value null_value() noexcept { return progcap_value{PROGCAP_TYPE_NULL, 0, {}}; }
  std::vector<progcap_value> values_;
  std::deque<std::string> owned_;  // deque: references stay valid on push_back
};

}  // namespace progcap::sdk
