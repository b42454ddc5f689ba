#include <progcap/cinfo/model.hpp>

#include <progcap/sdk/codec.hpp>
#include <progcap/sdk/status.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <limits>
#include <unordered_map>

namespace progcap::cinfo {

namespace {

constexpr ColType B = ColType::Bool;
constexpr ColType I32 = ColType::Int32;
constexpr ColType I64 = ColType::Int64;
constexpr ColType T = ColType::Text;
constexpr ColType TS = ColType::Timestamp;
constexpr ColType J = ColType::Json;
constexpr bool kKeep = true;

std::vector<Table> make_tables() {
  std::vector<Table> t;
  t.push_back(Table{
      "repositories",
      {{"github_id", I64},
       {"full_name", T},
       {"owner", T},
       {"name", T},
       {"description", T, kKeep},
       {"homepage", T, kKeep},
       {"language", T, kKeep},
       {"stargazers_count", I32, kKeep},
       {"watchers_count", I32, kKeep},
       {"forks_count", I32, kKeep},
       {"open_issues_count", I32, kKeep},
       {"size", I32, kKeep},
       {"default_branch", T, kKeep},
       {"is_fork", B, kKeep},
       {"is_archived", B, kKeep},
       {"is_disabled", B, kKeep},
       {"is_private", B, kKeep},
       {"has_issues", B, kKeep},
       {"has_projects", B, kKeep},
       {"has_wiki", B, kKeep},
       {"has_pages", B, kKeep},
       {"has_downloads", B, kKeep},
       {"license", T, kKeep},
       {"topics", J, kKeep},
       {"github_created_at", TS, kKeep},
       {"github_updated_at", TS, kKeep},
       {"github_pushed_at", TS, kKeep}},
      {"github_id"},
      {{"id", "uuid"}, {"github_id", "int"}, {"full_name", "text"}, {"owner", "text"}, {"name", "text"},
       {"description", "text"}, {"homepage", "text"}, {"language", "text"}, {"stargazers_count", "int"},
       {"watchers_count", "int"}, {"forks_count", "int"}, {"open_issues_count", "int"}, {"size", "int"},
       {"default_branch", "text"}, {"is_fork", "bool"}, {"is_archived", "bool"}, {"is_disabled", "bool"},
       {"is_private", "bool"}, {"has_issues", "bool"}, {"has_projects", "bool"}, {"has_wiki", "bool"},
       {"has_pages", "bool"}, {"has_downloads", "bool"}, {"license", "text"}, {"topics", "array"},
       {"github_created_at", "time"}, {"github_updated_at", "time"}, {"github_pushed_at", "time"},
       {"last_updated_at", "time"}},
      {}});
  t.push_back(Table{"contributors",
                    {{"github_id", I64},
                     {"username", T},
                     {"display_name", T, kKeep},
                     {"avatar_url", T, kKeep},
                     {"profile_url", T, kKeep},
                     {"is_bot", B, kKeep}},
                    {"github_id"},
                    {{"id", "uuid"}, {"github_id", "int"}, {"username", "text"}, {"display_name", "text"},
                     {"avatar_url", "text"}, {"profile_url", "text"}, {"is_bot", "bool"}, {"last_updated_at", "time"}},
                    {}});
  t.push_back(Table{"pull_requests",
                    {{"github_id", I64},         {"repository_github_id", I64}, {"repository_full_name", T},
                     {"number", I32},            {"title", T},                  {"body", T},
                     {"state", T},               {"draft", B},                  {"merged", B},
                     {"merged_at", TS},          {"merged_by_github_id", I64},  {"author_github_id", I64},
                     {"base_branch", T},         {"head_branch", T},            {"additions", I32},
                     {"deletions", I32},         {"changed_files", I32},        {"commits", I32},
                     {"mergeable", B},           {"mergeable_state", T},        {"created_at", TS},
                     {"updated_at", TS},         {"closed_at", TS},             {"html_url", T},
                     {"diff_url", T},            {"patch_url", T}},
                    {"github_id"},
                    {{"id", "uuid"},           {"github_id", "int"},           {"repository_id", "uuid"},
                     {"repository_github_id", "int"}, {"repository_full_name", "text"}, {"number", "int"},
                     {"title", "text"},        {"body", "text"},               {"state", "text"},
                     {"author_id", "uuid"},    {"author_github_id", "int"},    {"base_branch", "text"},
                     {"head_branch", "text"},  {"draft", "bool"},              {"mergeable", "bool"},
                     {"mergeable_state", "text"}, {"merged", "bool"},          {"merged_by_id", "uuid"},
                     {"created_at", "time"},   {"updated_at", "time"},         {"merged_at", "time"},
                     {"closed_at", "time"},    {"additions", "int"},           {"deletions", "int"},
                     {"changed_files", "int"}, {"commits", "int"},             {"html_url", "text"},
                     {"diff_url", "text"},     {"patch_url", "text"},          {"last_synced_at", "time"}},
                    {"repositories", "contributors"}});
  t.push_back(Table{"pull_request_files",
                    {{"pull_request_github_id", I64},
                     {"repository_github_id", I64},
                     {"filename", T},
                     {"status", T},
                     {"additions", I32},
                     {"deletions", I32},
                     {"changes", I32},
                     {"previous_filename", T},
                     {"patch", T, kKeep}},
                    {"pull_request_github_id", "filename"},
                    {{"id", "uuid"}, {"pull_request_id", "uuid"}, {"repository_id", "uuid"}, {"filename", "text"},
                     {"status", "text"}, {"additions", "int"}, {"deletions", "int"}, {"changes", "int"},
                     {"previous_filename", "text"}, {"patch", "text"}},
                    {"pull_requests"}});
  t.push_back(Table{"reviews",
                    {{"github_id", I64},
                     {"pull_request_github_id", I64},
                     {"repository_github_id", I64},
                     {"repository_full_name", T},
                     {"author_github_id", I64},
                     {"state", T},
                     {"body", T},
                     {"submitted_at", TS},
                     {"commit_id", T}},
                    {"github_id"},
                    {{"id", "uuid"}, {"github_id", "int"}, {"pull_request_id", "uuid"}, {"repository_id", "uuid"},
                     {"author_id", "uuid"}, {"reviewer_id", "uuid"}, {"state", "text"}, {"body", "text"},
                     {"submitted_at", "time"}, {"commit_id", "text"}},
                    {"pull_requests", "contributors"}});
  t.push_back(Table{"comments",
                    {{"github_id", I64},
                     {"comment_type", T},
                     {"pull_request_github_id", I64},
                     {"repository_github_id", I64},
                     {"repository_full_name", T},
                     {"pull_request_number", I32},
                     {"commenter_github_id", I64},
                     {"body", T},
                     {"created_at", TS},
                     {"updated_at", TS},
                     {"in_reply_to_github_id", I64},
                     {"review_github_id", I64},
                     {"position", I32},
                     {"original_position", I32},
                     {"diff_hunk", T},
                     {"path", T},
                     {"commit_id", T},
                     {"original_commit_id", T}},
                    {"github_id"},
                    {{"id", "uuid"}, {"github_id", "int"}, {"pull_request_id", "uuid"}, {"repository_id", "uuid"},
                     {"commenter_id", "uuid"}, {"comment_type", "text"}, {"body", "text"}, {"created_at", "time"},
                     {"updated_at", "time"}, {"in_reply_to_id", "uuid"}, {"position", "int"},
                     {"original_position", "int"}, {"diff_hunk", "text"}, {"path", "text"}, {"commit_id", "text"},
                     {"original_commit_id", "text"}},
                    {"pull_requests", "contributors"}});
  return t;
}

bool compatible(sdk::Type stream, ColType col) {
  switch (col) {
    case ColType::Bool: return stream == sdk::Type::Bool;
    case ColType::Int32:
    case ColType::Int64: return stream == sdk::Type::Int64;
    case ColType::Text: return stream == sdk::Type::String;
    case ColType::Timestamp: return stream == sdk::Type::Timestamp;
    case ColType::Json: return stream == sdk::Type::Json;
  }
  return false;
}

std::string_view col_type_name(ColType c) {
  switch (c) {
    case ColType::Bool: return "bool";
    case ColType::Int32: return "int64 (stored as integer)";
    case ColType::Int64: return "int64";
    case ColType::Text: return "string";
    case ColType::Timestamp: return "timestamp";
    case ColType::Json: return "json";
  }
  return "?";
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, static_cast<size_t>(p - buf));
}

}  // namespace

const std::vector<Table>& tables() {
  static const std::vector<Table> t = make_tables();
  return t;
}

const Table* find_table(std::string_view stream) {
  for (const auto& t : tables()) {
    if (t.name == stream) return &t;
  }
  return nullptr;
}

std::string table_names() {
  std::string out;
  for (const auto& t : tables()) {
    if (!out.empty()) out += ", ";
    out += t.name;
  }
  return out;
}

const Table& table_for_stream(std::string_view sink, std::string_view stream) {
  const Table* t = find_table(stream);
  if (t == nullptr) {
    throw sdk::ConfigError(std::string(sink) + ": no table for stream '" + std::string(stream) + "' (this sink writes " +
                           table_names() + ")");
  }
  return *t;
}

Binding::Binding(const Table& table, const progcap_schema& schema) : table_(&table) {
  const std::string_view stream = sdk::from_abi(schema.stream);
  auto field_index = [&](std::string_view name) -> int {
    for (uint32_t i = 0; i < schema.field_count; ++i) {
      if (sdk::from_abi(schema.fields[i]->name) == name) return static_cast<int>(i);
    }
    return -1;
  };
  for (const auto& sc : table.stage) {
    const int f = field_index(sc.name);
    if (f >= 0) {
      const auto ft = static_cast<sdk::Type>(schema.fields[f]->type);
      if (!compatible(ft, sc.type)) {
        throw sdk::ConfigError("stream '" + std::string(stream) + "' field '" + std::string(sc.name) + "' is " +
                               std::string(sdk::type_name(ft)) + ", but table " + std::string(table.name) + " needs " +
                               std::string(col_type_name(sc.type)));
      }
    }
    cols_.push_back(Col{&sc, f});
  }
  for (auto k : table.key) {
    const int f = field_index(k);
    if (f < 0) {
      throw sdk::ConfigError("stream '" + std::string(stream) + "' lacks key field '" + std::string(k) + "' of table " +
                             std::string(table.name));
    }
    key_fields_.push_back(static_cast<uint32_t>(f));
  }
  for (uint32_t i = 0; i < schema.field_count; ++i) {
    const std::string_view n = sdk::from_abi(schema.fields[i]->name);
    bool used = false;
    for (const auto& sc : table.stage) used = used || sc.name == n;
    if (!used) ignored_.emplace_back(n);
  }
}

PreparedRows prepare_rows(const Binding& b, const sdk::BatchView& batch) {
  PreparedRows out;
  const uint64_t n = batch.rows();
  std::unordered_map<std::string, uint64_t> last;  // key -> position in `kept`
  last.reserve(n * 2);
  std::vector<uint64_t> kept;
  kept.reserve(n);
  std::vector<bool> dropped;
  dropped.reserve(n);
  std::string key;
  for (uint64_t r = 0; r < n; ++r) {
    const progcap_value* row = batch.row_values(r);
    key.clear();
    std::string missing;
    for (uint32_t f : b.key_fields()) {
      const progcap_value& v = row[f];
      if (v.type == PROGCAP_TYPE_NULL) {
        missing = std::string(batch.field_name(f));
        break;
      }
      if (v.type == PROGCAP_TYPE_INT64) {
        key.append(reinterpret_cast<const char*>(&v.v.i64), sizeof v.v.i64);
      } else {
        const auto s = sdk::from_abi(v.v.str);
        key.append(s);
      }
      key.push_back('\x1f');
    }
    if (!missing.empty()) {
      out.rejected.emplace_back(r, "missing key: " + missing + " is null (" + std::string(b.table().name) + " rows need it)");
      continue;
    }
    std::string bad;
    for (const auto& c : b.cols()) {
      if (c.field < 0 || c.stage->type != ColType::Int32) continue;
      const progcap_value& v = row[c.field];
      if (v.type == PROGCAP_TYPE_INT64 &&
          (v.v.i64 > std::numeric_limits<int32_t>::max() || v.v.i64 < std::numeric_limits<int32_t>::min())) {
        bad = "value " + std::to_string(v.v.i64) + " of " + std::string(c.stage->name) + " is out of range for type integer";
        break;
      }
    }
    if (!bad.empty()) {
      out.rejected.emplace_back(r, bad);
      continue;
    }
    auto [it, inserted] = last.try_emplace(key, kept.size());
    if (!inserted) {
      dropped[it->second] = true;  // an earlier occurrence: the later row wins
      ++out.duplicates;
      it->second = kept.size();
    }
    kept.push_back(r);
    dropped.push_back(false);
  }
  out.rows.reserve(kept.size());
  for (size_t i = 0; i < kept.size(); ++i) {
    if (!dropped[i]) out.rows.push_back(kept[i]);
  }
  return out;
}

std::vector<std::string> copy_columns(const Table& t) {
  std::vector<std::string> cols = {"_ord", "_absent"};
  for (const auto& c : t.stage) cols.emplace_back(c.name);
  return cols;
}

void fill_copy_cells(CopyCell* cells, const Binding& b, const progcap_value* row, uint32_t ord) {
  cells[0].null = false;
  cells[0].text.clear();
  append_int(cells[0].text, ord);
  // _absent: the keep_if_null columns that are NULL (or not in the stream).
  std::string& absent = cells[1].text;
  absent.clear();
  for (const auto& c : b.cols()) {
    if (!c.stage->keep_if_null) continue;
    if (c.field >= 0 && row[c.field].type != PROGCAP_TYPE_NULL) continue;
    absent.push_back(absent.empty() ? '{' : ',');
    absent.append(c.stage->name);
  }
  cells[1].null = absent.empty();
  if (!absent.empty()) absent.push_back('}');
  size_t i = 2;
  for (const auto& c : b.cols()) {
    CopyCell& cell = cells[i++];
    cell.text.clear();
    cell.null = c.field < 0 || row[c.field].type == PROGCAP_TYPE_NULL;
    if (cell.null) continue;
    const progcap_value& v = row[c.field];
    switch (v.type) {
      case PROGCAP_TYPE_BOOL: cell.text.push_back(v.v.b != 0 ? 't' : 'f'); break;
      case PROGCAP_TYPE_INT64: append_int(cell.text, v.v.i64); break;
      case PROGCAP_TYPE_TIMESTAMP: sdk::append_rfc3339(cell.text, v.v.i64); break;
      case PROGCAP_TYPE_STRING:
      case PROGCAP_TYPE_JSON: cell.text.append(sdk::from_abi(v.v.str)); break;
      default: cell.null = true; break;
    }
  }
}

void append_json_object(std::string& out, const Binding& b, const progcap_value* row) {
  out.push_back('{');
  bool first = true;
  for (const auto& c : b.cols()) {
    const bool null = c.field < 0 || row[c.field].type == PROGCAP_TYPE_NULL;
    if (null && (c.stage->keep_if_null || c.field < 0)) continue;  // absent = keep / not in the stream
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(c.stage->name);
    out.append("\":");
    if (null) {
      out.append("null");
    } else {
      sdk::append_json_value(out, row[c.field]);
    }
  }
  out.push_back('}');
}

MergeResult parse_merge_result(std::string_view text) {
  MergeResult r;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw sdk::FatalError("the merge function returned something that is not JSON: " + std::string(e.what()));
  }
  if (!j.is_object() || !j.contains("inserted") || !j.contains("rejected")) {
    throw sdk::FatalError("the merge function returned an unexpected shape (is the database migrated? run `progcap db migrate`): " +
                          j.dump().substr(0, 200));
  }
  auto num = [&](const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<int64_t>() : 0; };
  r.received = num("received");
  r.accepted = num("accepted");
  r.inserted = num("inserted");
  r.updated = num("updated");
  r.unchanged = num("unchanged");
  r.duplicates = num("duplicates");
  r.deleted = num("deleted");
  r.replies_linked = num("replies_linked");
  auto text_of = [](const nlohmann::json& o) {
    std::string s = o.value("reason", std::string("rejected"));
    if (o.contains("detail") && o["detail"].is_string()) s += ": " + o["detail"].get<std::string>();
    return s;
  };
  for (const auto& o : j["rejected"]) r.rejected.emplace_back(o.value("index", int64_t{0}), text_of(o));
  if (j.contains("warnings")) {
    for (const auto& o : j["warnings"]) r.warnings.push_back(text_of(o));
  }
  if (j.contains("renamed")) {
    for (const auto& o : j["renamed"]) {
      r.renamed.push_back(o.value("from", std::string()) + " -> " + o.value("to", std::string()) + " (github_id " +
                          std::to_string(o.value("github_id", int64_t{0})) + ")");
    }
  }
  return r;
}

std::vector<std::string> WriteTally::add(MergeResult m, const std::vector<uint64_t>& rows, size_t begin, size_t n) {
  for (auto& [index, why] : m.rejected) {
    if (index >= 1 && static_cast<size_t>(index) <= n) rejected.emplace_back(rows[begin + static_cast<size_t>(index) - 1], std::move(why));
  }
  for (auto& w : m.warnings) warnings.push_back(std::move(w));
  total.inserted += m.inserted;
  total.updated += m.updated;
  total.unchanged += m.unchanged;
  total.replies_linked += m.replies_linked;
  return std::move(m.renamed);
}

void WriteTally::publish(const sdk::Context& ctx, std::string_view prefix, std::string_view table, uint64_t duplicates) const {
  const std::string p = std::string(prefix) + "." + std::string(table) + ".";
  ctx.metric_add(p + "inserted", total.inserted);
  ctx.metric_add(p + "updated", total.updated);
  ctx.metric_add(p + "unchanged", total.unchanged);
  if (!rejected.empty()) ctx.metric_add(p + "rejected", static_cast<int64_t>(rejected.size()));
  if (!warnings.empty()) ctx.metric_add(p + "warnings", static_cast<int64_t>(warnings.size()));
  if (duplicates != 0) ctx.metric_add(p + "duplicates", static_cast<int64_t>(duplicates));
  if (total.replies_linked != 0) ctx.metric_add(p + "replies_linked", total.replies_linked);
}

std::string_view type_family(std::string_view t) {
  if (t == "uuid") return "uuid";
  if (t == "bigint" || t == "integer" || t == "smallint" || t == "numeric" || t.rfind("numeric(", 0) == 0) return "int";
  if (t == "text" || t.rfind("character varying", 0) == 0 || t == "citext") return "text";
  if (t == "boolean") return "bool";
  if (t.rfind("timestamp", 0) == 0) return "time";
  if (t == "jsonb" || t == "json") return "json";
  if (t.size() > 2 && t.substr(t.size() - 2) == "[]") return "array";
  return "";
}

std::vector<std::string> check_target(const Table& t, const std::vector<DescribedColumn>& described) {
  std::vector<std::string> problems;
  auto exists = [&](std::string_view table) {
    return std::any_of(described.begin(), described.end(), [&](const DescribedColumn& d) { return d.table == table; });
  };
  if (!exists(t.name)) {
    problems.push_back("table " + std::string(t.name) + " does not exist (run `progcap db migrate`)");
  } else {
    for (const auto& want : t.target) {
      const auto have = std::find_if(described.begin(), described.end(),
                                     [&](const DescribedColumn& d) { return d.table == t.name && d.column == want.name; });
      if (have == described.end()) {
        problems.push_back("table " + std::string(t.name) + " has no column " + std::string(want.name) +
                           " (run `progcap db migrate`)");
      } else if (type_family(have->data_type) != want.family) {
        problems.push_back("column " + std::string(t.name) + "." + std::string(want.name) + " is " + have->data_type +
                           ", progcap writes " + std::string(want.family) + " values into it");
      }
    }
  }
  for (auto d : t.depends_on) {
    if (!exists(d)) problems.push_back("table " + std::string(d) + " (referenced by " + std::string(t.name) + ") does not exist");
  }
  return problems;
}

void require_target(std::string_view sink, const Table& t, const std::vector<DescribedColumn>& described) {
  const std::vector<std::string> problems = check_target(t, described);
  if (problems.empty()) return;
  std::string msg = std::string(sink) + ": cannot write stream " + std::string(t.name) + ":";
  for (const auto& p : problems) msg += "\n  - " + p;
  throw sdk::ConfigError(msg);
}

}  // namespace progcap::cinfo
