// Host-owned batches: row-major progcap_value arrays whose strings live in a
// per-batch arena, so a batch is one allocation family freed at once.
#pragma once

#include <progcap/abi/progcap_plugin.h>
#include <progcap/core/plugin_registry.hpp>

#include <memory>
#include <string>
#include <vector>

namespace progcap::core {

class Batch {
 public:
  Batch(const StreamSchema* schema, size_t reserve_rows);
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  /// Copies one row (validating count and types). Returns false with `error`.
  bool append(const progcap_value* values, uint32_t count, std::string& error);

  [[nodiscard]] size_t rows() const noexcept { return rows_; }
  [[nodiscard]] size_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] const StreamSchema* schema() const noexcept { return schema_; }
  [[nodiscard]] const progcap_value* row(size_t r) const noexcept { return values_.data() + r * schema_->fields.size(); }
  [[nodiscard]] progcap_batch view(uint64_t sequence, progcap_batch_ctx* ctx) const;

 private:
  char* alloc(size_t n);

  const StreamSchema* schema_;
  std::vector<progcap_value> values_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cur_ = nullptr;
  size_t left_ = 0;
  size_t rows_ = 0;
  size_t bytes_ = 0;
};

}  // namespace progcap::core
