#include "batch.hpp"

#include <progcap/sdk/schema.hpp>

#include <cstring>

namespace progcap::core {

namespace {
constexpr size_t kBlock = 64 * 1024;
}

Batch::Batch(const StreamSchema* schema, size_t reserve_rows) : schema_(schema) {
  values_.reserve(reserve_rows * schema->fields.size());
}

char* Batch::alloc(size_t n) {
  if (n > left_) {
    const size_t size = n > kBlock / 4 ? n : kBlock;  // big strings get their own block
    blocks_.push_back(std::make_unique<char[]>(size));
    if (size == n) return blocks_.back().get();  // keep the current block for small strings
    cur_ = blocks_.back().get();
    left_ = size;
  }
  char* p = cur_;
  cur_ += n;
  left_ -= n;
  return p;
}

bool Batch::append(const progcap_value* values, uint32_t count, std::string& error) {
  const size_t nf = schema_->fields.size();
  if (count != nf) {
    error = "stream '" + schema_->name + "' has " + std::to_string(nf) + " fields but the row has " + std::to_string(count);
    return false;
  }
  for (size_t f = 0; f < nf; ++f) {
    const progcap_type t = values[f].type;
    const auto& field = schema_->fields[f];
    if (t == PROGCAP_TYPE_NULL) {
      if ((field.flags & PROGCAP_FIELD_PRIMARY_KEY) != 0) {
        error = "stream '" + schema_->name + "': key field '" + field.name + "' is null";
        return false;
      }
      continue;
    }
    if (t != field.type) {
      error = "stream '" + schema_->name + "': field '" + field.name + "' expects " +
              std::string(sdk::type_name(static_cast<sdk::Type>(field.type))) + ", got " +
              std::string(sdk::type_name(static_cast<sdk::Type>(t)));
      return false;
    }
  }
  const size_t base = values_.size();
  values_.insert(values_.end(), values, values + nf);
  for (size_t f = 0; f < nf; ++f) {
    progcap_value& v = values_[base + f];
    v.reserved = 0;
    if (v.type == PROGCAP_TYPE_STRING || v.type == PROGCAP_TYPE_JSON) {
      const size_t len = v.v.str.len;
      if (len != 0) {
        char* p = alloc(len);
        std::memcpy(p, v.v.str.data, len);
        v.v.str.data = p;
        bytes_ += len;
      } else {
        v.v.str.data = nullptr;
      }
    }
    bytes_ += 8;
  }
  ++rows_;
  return true;
}

progcap_batch Batch::view(uint64_t sequence, progcap_batch_ctx* ctx) const {
  progcap_batch b{};
  b.struct_size = sizeof(progcap_batch);
  b.format = PROGCAP_BATCH_FORMAT_ROWS;
  b.schema = schema_->abi();
  b.row_count = rows_;
  b.field_count = static_cast<uint32_t>(schema_->fields.size());
  b.values = values_.data();
  b.sequence = sequence;
  b.ctx = ctx;
  return b;
}

}  // namespace progcap::core
