// contributor.info model shared by the database sinks (sink-postgres,
// sink-supabase-rest): which capture streams map to which tables, the
// staging columns progcap's SQL merge functions read, the target columns the
// sinks check before writing, and the per-batch row preparation (key checks,
// in-batch de-duplication, range checks) both sinks apply identically.
//
// The write semantics themselves (FK resolution, renames, "unknown never
// overwrites known", IS DISTINCT FROM) live once, in SQL:
// packaging/sql/migrations/0003_progcap_resolvers.sql, progcap_merge_<table>.
// Depends on the SDK only.
#pragma once

#include <progcap/sdk/context.hpp>
#include <progcap/sdk/schema.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace progcap::cinfo {

/// Type of a staging column.
enum class ColType { Bool, Int32, Int64, Text, Timestamp, Json };

struct StageColumn {
  std::string_view name;
  ColType type;
  /// NULL means "unknown in this payload": the column is listed in `_absent`
  /// and the stored value is kept (presence rule of the merge functions).
  bool keep_if_null = false;
};

/// A column of the target table the merge writes or resolves through, with
/// the type family it must have ("uuid", "int", "text", "bool", "time", "json").
struct TargetColumn {
  std::string_view name;
  std::string_view family;
};

struct Table {
  std::string_view name;               // stream name == table name
  std::vector<StageColumn> stage;      // staging columns after _ord and _absent, in COPY order
  std::vector<std::string_view> key;   // stream fields forming the natural key
  std::vector<TargetColumn> target;    // checked before the first write
  std::vector<std::string_view> depends_on;  // tables that must exist (FK targets)
};

/// Every table the sinks write, parents first.
[[nodiscard]] const std::vector<Table>& tables();
/// The table for a stream, or nullptr.
[[nodiscard]] const Table* find_table(std::string_view stream);
/// "repositories, contributors, ..." for error messages.
[[nodiscard]] std::string table_names();
/// The table of `stream`; sdk::ConfigError "<sink>: no table for stream …" when it has none.
[[nodiscard]] const Table& table_for_stream(std::string_view sink, std::string_view stream);

/// How one stream's schema feeds a table's staging columns. Built once per
/// stream in Sink::prepare; throws sdk::ConfigError when the stream lacks a
/// key field or a field has an incompatible type.
class Binding {
 public:
  struct Col {
    const StageColumn* stage;
    int field;  // index in the stream, -1 = not in the stream (always NULL)
  };
  Binding(const Table& table, const progcap_schema& schema);

  [[nodiscard]] const Table& table() const noexcept { return *table_; }
  [[nodiscard]] const std::vector<Col>& cols() const noexcept { return cols_; }
  [[nodiscard]] const std::vector<uint32_t>& key_fields() const noexcept { return key_fields_; }
  /// Stream fields no staging column takes (reported once, at prepare).
  [[nodiscard]] const std::vector<std::string>& ignored() const noexcept { return ignored_; }

 private:
  const Table* table_;
  std::vector<Col> cols_;
  std::vector<uint32_t> key_fields_;
  std::vector<std::string> ignored_;
};

/// Rows of one batch ready to send: de-duplicated by key (the last occurrence
/// wins, as PostgreSQL refuses an upsert touching one key twice) with rows
/// that cannot be sent at all (NULL key, integer out of range) set aside.
struct PreparedRows {
  std::vector<uint64_t> rows;  // batch row indexes, in batch order
  std::vector<std::pair<uint64_t, std::string>> rejected;  // (batch row, reason)
  uint64_t duplicates = 0;
};
[[nodiscard]] PreparedRows prepare_rows(const Binding& b, const sdk::BatchView& batch);

/// One COPY field: libpqxx's stream_to escapes `text` (or writes \N).
struct CopyCell {
  bool null = true;
  std::string text;
};
/// Fills `cells` (size 2 + staging columns) for one row: _ord, _absent (the
/// keep_if_null columns that are NULL), then the staging columns.
void fill_copy_cells(CopyCell* cells, const Binding& b, const progcap_value* row, uint32_t ord);
/// Appends one row as a JSON object for progcap_upsert_<table>: NULLs of
/// keep_if_null columns are omitted (absent = keep), other NULLs are written.
void append_json_object(std::string& out, const Binding& b, const progcap_value* row);

/// The column list of COPY into pg_temp.progcap_stage_<table>.
[[nodiscard]] std::vector<std::string> copy_columns(const Table& t);

/// Outcome of one progcap_merge_<table> / progcap_upsert_<table> call.
struct MergeResult {
  int64_t received = 0, accepted = 0, inserted = 0, updated = 0, unchanged = 0, duplicates = 0, deleted = 0;
  int64_t replies_linked = 0;  // comments: waiting replies linked to their parent by this merge
  std::vector<std::pair<int64_t, std::string>> rejected;  // (1-based index in the call, "reason: detail")
  std::vector<std::string> warnings;                      // "reason: detail" (index dropped)
  std::vector<std::string> renamed;                       // "from -> to (github_id n)"
};
/// What the merges of one batch's chunks add up to: the sink rejects `rejected` and publishes
/// the counters.
struct WriteTally {
  MergeResult total;                                       // counters summed over the chunks
  std::vector<std::pair<uint64_t, std::string>> rejected;  // (batch row, why)
  std::vector<std::string> warnings;
  /// Adds the merge of the chunk rows[begin, begin + n) (its 1-based indexes become batch rows);
  /// returns the merge's renames for the sink to log.
  std::vector<std::string> add(MergeResult m, const std::vector<uint64_t>& rows, size_t begin, size_t n);
  /// Metrics <prefix>.<table>.inserted|updated|unchanged, and rejected|warnings|duplicates|
  /// replies_linked when not zero.
  void publish(const sdk::Context& ctx, std::string_view prefix, std::string_view table, uint64_t duplicates) const;
};

/// Parses the jsonb the merge functions return; throws sdk::FatalError on a
/// shape it does not understand (a mismatched migration).
[[nodiscard]] MergeResult parse_merge_result(std::string_view json);

/// A column as progcap_describe_columns() reports it.
struct DescribedColumn {
  std::string table;
  std::string column;
  std::string data_type;  // format_type(), e.g. "timestamp with time zone"
  bool not_null = false;
};
/// Problems that make `t` unwritable (missing table or column, incompatible
/// type, a missing table it references), each a complete sentence; empty when
/// the table is fine.
[[nodiscard]] std::vector<std::string> check_target(const Table& t, const std::vector<DescribedColumn>& described);
/// sdk::ConfigError "<sink>: cannot write stream <table>:" listing check_target's problems, if any.
void require_target(std::string_view sink, const Table& t, const std::vector<DescribedColumn>& described);
/// The type family of a PostgreSQL type name ("int", "text", ...), or "" if unknown.
[[nodiscard]] std::string_view type_family(std::string_view data_type);

}  // namespace progcap::cinfo
