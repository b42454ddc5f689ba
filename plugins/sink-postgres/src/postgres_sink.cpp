#include "postgres_sink.hpp"

#include <pqxx/pqxx>

#include <array>
#include <cctype>
#include <utility>

// COPY fields go through libpqxx's stream_to, which escapes them for the
// text format; a CopyCell is either NULL or its text.
namespace pqxx {
template <>
struct string_traits<progcap::cinfo::CopyCell> {
  static constexpr const char* name() noexcept { return "progcap::cinfo::CopyCell"; }
  static constexpr bool has_null() noexcept { return true; }
  static bool is_null(const progcap::cinfo::CopyCell& c) { return c.null; }
  static progcap::cinfo::CopyCell null() { return {}; }
  static void from_string(const char s[], progcap::cinfo::CopyCell& c) { c = progcap::cinfo::CopyCell{false, s}; }
  static std::string to_string(const progcap::cinfo::CopyCell& c) { return c.text; }
};
}  // namespace pqxx

namespace progcap::plugins::postgres {

namespace {

using cinfo::CopyCell;

struct Sql {
  static bool transient(const std::string& s) {
    // serialization failure, deadlock, admin shutdown/crash recovery/cannot
    // connect now, too many connections, lock timeout, statement timeout,
    // connection exceptions.
    return s == "40001" || s == "40P01" || s == "57P01" || s == "57P02" || s == "57P03" || s == "53300" || s == "55P03" ||
           s == "57014" || s.rfind("08", 0) == 0;
  }
  static bool data(const std::string& s) {
    // data exceptions (bad values), integrity violations, cardinality
    return s.rfind("22", 0) == 0 || s.rfind("23", 0) == 0 || s == "21000";
  }
  static bool connection_lost(const std::string& s) { return s.rfind("08", 0) == 0 || s.rfind("57P0", 0) == 0; }
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

/// The first line of a libpqxx error (its second line repeats the query).
std::string first_line(const std::exception& e) {
  std::string s = e.what();
  const auto nl = s.find('\n');
  if (nl != std::string::npos) {
    // keep DETAIL/HINT lines, drop "Query was: ..." / statement echo
    std::string out = s.substr(0, nl);
    size_t pos = nl + 1;
    while (pos < s.size()) {
      const auto next = s.find('\n', pos);
      const std::string line = s.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
      if (line.rfind("DETAIL:", 0) == 0 || line.rfind("HINT:", 0) == 0) out += " " + line;
      if (next == std::string::npos) break;
      pos = next + 1;
    }
    return trim(out);
  }
  return trim(s);
}

std::string url_encode(std::string_view v) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

/// Forwards server NOTICEs to the debug log instead of stderr.
class NoticeLog final : public pqxx::errorhandler {
 public:
  NoticeLog(pqxx::connection_base& c, sdk::Context ctx) : pqxx::errorhandler(c), ctx_(ctx) {}
  bool operator()(const char msg[]) noexcept override {
    try {
      ctx_.debug("postgres: {}", trim(msg));
    } catch (...) {  // NOLINT(bugprone-empty-catch): a notice must never break a write
    }
    return false;
  }

 private:
  sdk::Context ctx_;
};

template <size_t N>
void copy_rows(pqxx::stream_to& s, const cinfo::Binding& b, const sdk::BatchView& batch, const std::vector<uint64_t>& rows,
               size_t begin, size_t end) {
  std::array<CopyCell, N> cells;
  for (size_t i = begin; i < end; ++i) {
    cinfo::fill_copy_cells(cells.data(), b, batch.row_values(rows[i]), static_cast<uint32_t>(i - begin + 1));
    s << cells;
  }
}

using CopyFn = void (*)(pqxx::stream_to&, const cinfo::Binding&, const sdk::BatchView&, const std::vector<uint64_t>&, size_t,
                        size_t);

/// stream_to takes tuples of a fixed size; one instantiation per table width.
CopyFn copy_fn(size_t width) {
  switch (width) {
    case 8: return &copy_rows<8>;    // contributors
    case 11: return &copy_rows<11>;  // reviews, pull_request_files
    case 20: return &copy_rows<20>;  // comments
    case 28: return &copy_rows<28>;  // pull_requests
    case 29: return &copy_rows<29>;  // repositories
    default: return nullptr;
  }
}

struct Stats : cinfo::WriteTally {
  int64_t bisections = 0;
};

}  // namespace

struct PostgresSink::Impl {
  Impl(sdk::Context c, std::string d, std::string s, int64_t timeout)
      : ctx(c), dsn(std::move(d)), schema(std::move(s)), statement_timeout_s(timeout) {}
  ~Impl() { disconnect(); }

  pqxx::connection& conn();
  void disconnect() noexcept {
    notices.reset();
    connection.reset();
  }
  /// COPY + merge `rows[begin, end)` inside a savepoint; on a data error the
  /// chunk is split until the offending rows are isolated and dead-lettered.
  void load(pqxx::dbtransaction& tx, const cinfo::Binding& b, const sdk::BatchView& batch, const std::vector<uint64_t>& rows,
            size_t begin, size_t end, Stats& stats);
  void merge_chunk(pqxx::dbtransaction& tx, const cinfo::Binding& b, const sdk::BatchView& batch,
                   const std::vector<uint64_t>& rows, size_t begin, size_t end, Stats& stats);

  sdk::Context ctx;
  std::string dsn;
  std::string schema;
  int64_t statement_timeout_s;
  std::unique_ptr<pqxx::connection> connection;
  std::unique_ptr<pqxx::errorhandler> notices;  // reset before the connection (it unregisters itself)
};

PostgresSink::PostgresSink(sdk::Context ctx, const sdk::Config& cfg) : sdk::Sink(ctx) {
  std::vector<std::pair<std::string, std::string>> extra;
  for (const auto* o : {&kSslMode, &kSslRootCert, &kSslCert, &kSslKey}) {
    if (auto v = cfg.get_optional(*o)) extra.emplace_back(o->name(), *v);
  }
  extra.emplace_back("connect_timeout", std::to_string(cfg.get(kConnectTimeout)));
  extra.emplace_back("application_name", cfg.get(kApplicationName));
  impl_ = std::make_unique<Impl>(ctx, compose_dsn(cfg.get(kDsn), extra), cfg.get(kSchema), cfg.get(kStatementTimeout));
  for (const auto& t : cinfo::tables()) {
    if (copy_fn(2 + t.stage.size()) == nullptr) {
      throw sdk::FatalError("sink-postgres has no COPY writer for table " + std::string(t.name) + " (" +
                            std::to_string(2 + t.stage.size()) + " columns)");
    }
  }
}

PostgresSink::~PostgresSink() = default;

std::string PostgresSink::compose_dsn(const std::string& dsn, const std::vector<std::pair<std::string, std::string>>& extra) {
  const bool url = dsn.rfind("postgres://", 0) == 0 || dsn.rfind("postgresql://", 0) == 0;
  std::string out = dsn;
  for (const auto& [k, v] : extra) {
    if (url) {
      out += (out.find('?') == std::string::npos ? '?' : '&');
      out += k + "=" + url_encode(v);
    } else {
      std::string q;
      for (char c : v) {
        if (c == '\\' || c == '\'') q.push_back('\\');
        q.push_back(c);
      }
      out += (out.empty() ? "" : " ") + k + "='" + q + "'";
    }
  }
  return out;
}

pqxx::connection& PostgresSink::Impl::conn() {
  if (connection && connection->is_open()) return *connection;
  disconnect();
  try {
    connection = std::make_unique<pqxx::connection>(dsn);
  } catch (const pqxx::broken_connection& e) {
    const std::string msg = first_line(e);
    if (msg.find("authentication failed") != std::string::npos || msg.find("no password supplied") != std::string::npos) {
      throw sdk::AuthError("postgres: " + msg + " (check the password in the dsn)");
    }
    // libpq reports a DSN it cannot parse as a connection failure ("missing "=" after "not" in
    // connection info string"): that is a configuration error, not an outage to retry.
    if (msg.find("does not exist") != std::string::npos || msg.find("invalid") != std::string::npos ||
        msg.find("connection info string") != std::string::npos || msg.find("pg_hba.conf") != std::string::npos) {
      throw sdk::ConfigError("postgres: " + msg);
    }
    throw sdk::IoError("postgres: cannot connect: " + msg);
  } catch (const pqxx::failure& e) {
    throw sdk::ConfigError("postgres: bad dsn: " + first_line(e));
  }
  notices = std::make_unique<NoticeLog>(*connection, ctx);
  connection->set_client_encoding("UTF8");
  pqxx::nontransaction tx(*connection);
  tx.exec("SET search_path TO " + tx.quote_name(schema) + ", pg_catalog");
  tx.exec("SET statement_timeout = " + tx.quote(std::to_string(statement_timeout_s * 1000)));
  tx.exec("SET TIME ZONE 'UTC'");
  return *connection;
}

void PostgresSink::start() {
  try {
    pqxx::connection& c = impl_->conn();
    pqxx::nontransaction tx(c);
    if (tx.exec("SHOW transaction_read_only")[0][0].as<std::string>() == "on") {
      throw sdk::ConfigError("postgres: the database is read-only (a standby, or default_transaction_read_only is on): "
                             "point the dsn at the primary");
    }
    ctx_.info("postgres: connected to {} (server {})", tx.exec("SELECT current_database()")[0][0].as<std::string>(),
              c.server_version());
  } catch (const pqxx::sql_error& e) {
    throw sdk::ConfigError("postgres: " + first_line(e));
  }
}

void PostgresSink::check_schema(const cinfo::Table& t) {
  std::vector<cinfo::DescribedColumn> described;
  for (int attempt = 1;; ++attempt) {
  try {
    described.clear();
    pqxx::nontransaction tx(impl_->conn());
    std::string arr = "{";
    arr += std::string(t.name);
    for (auto d : t.depends_on) arr += "," + std::string(d);
    arr += "}";
    auto r = tx.exec_params("SELECT table_name, column_name, data_type, not_null FROM progcap_describe_columns($1::text[])", arr);
    for (const auto& row : r) {
      described.push_back(
          {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<bool>()});
    }
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "42883") {
      throw sdk::ConfigError("postgres: progcap's SQL functions are missing in schema " + impl_->schema +
                             " (progcap_describe_columns does not exist): run `progcap db migrate` first");
    }
    throw sdk::ConfigError("postgres: cannot inspect table " + std::string(t.name) + ": " + first_line(e));
  } catch (const pqxx::broken_connection& e) {
    // The server closed an idle connection (restart, pooler timeout): reconnect once.
    impl_->disconnect();
    if (attempt >= 2) throw sdk::IoError("postgres: connection lost while inspecting " + std::string(t.name) + ": " + first_line(e));
    continue;
  }
  break;
  }
  cinfo::require_target("postgres", t, described);
}

void PostgresSink::prepare(const progcap_schema& schema) {
  const std::string_view stream = sdk::from_abi(schema.stream);
  const cinfo::Table* t = &cinfo::table_for_stream("postgres", stream);
  auto b = std::make_unique<cinfo::Binding>(*t, schema);
  if (!b->ignored().empty()) {
    std::string names;
    for (const auto& n : b->ignored()) names += (names.empty() ? "" : ", ") + n;
    ctx_.debug("postgres: stream {} fields without a column: {}", stream, names);
  }
  if (!checked_[std::string(t->name)]) {
    check_schema(*t);
    checked_[std::string(t->name)] = true;
  }
  bindings_[std::string(stream)] = std::move(b);
}

void PostgresSink::Impl::merge_chunk(pqxx::dbtransaction& tx, const cinfo::Binding& b, const sdk::BatchView& batch,
                               const std::vector<uint64_t>& rows, size_t begin, size_t end, Stats& stats) {
  const std::string table(b.table().name);
  tx.exec_params("SELECT progcap_stage_prepare($1)", table);
  {
    const auto cols = cinfo::copy_columns(b.table());
    pqxx::stream_to s(tx, "pg_temp.progcap_stage_" + table, cols);
    copy_fn(cols.size())(s, b, batch, rows, begin, end);
    s.complete();
  }
  const auto r = tx.exec("SELECT progcap_merge_" + table + "()::text");
  for (const auto& rn : stats.add(cinfo::parse_merge_result(r[0][0].c_str()), rows, begin, end - begin)) {
    ctx.info("postgres: {} renamed {}", table, rn);
  }
}

void PostgresSink::Impl::load(pqxx::dbtransaction& tx, const cinfo::Binding& b, const sdk::BatchView& batch,
                        const std::vector<uint64_t>& rows, size_t begin, size_t end, Stats& stats) {
  if (begin >= end) return;
  std::string failure;
  {
    pqxx::subtransaction sp(tx, "chunk");
    try {
      merge_chunk(sp, b, batch, rows, begin, end, stats);
      sp.commit();
      return;
    } catch (const pqxx::sql_error& e) {
      if (!Sql::data(e.sqlstate())) throw;
      failure = first_line(e) + " [SQLSTATE " + e.sqlstate() + "]";
      sp.abort();
    }
  }
  // A value or constraint the database refused: isolate the rows at fault.
  if (end - begin == 1) {
    stats.rejected.emplace_back(rows[begin], "database refused the row: " + failure);
    return;
  }
  ++stats.bisections;
  const size_t mid = begin + (end - begin) / 2;
  load(tx, b, batch, rows, begin, mid, stats);
  load(tx, b, batch, rows, mid, end, stats);
}

sdk::Status PostgresSink::write(const sdk::BatchView& batch) {
  auto it = bindings_.find(batch.stream());
  if (it == bindings_.end()) throw sdk::FatalError("postgres: stream '" + std::string(batch.stream()) + "' was not prepared");
  const cinfo::Binding& b = *it->second;
  cinfo::PreparedRows prep = cinfo::prepare_rows(b, batch);
  for (const auto& [row, why] : prep.rejected) reject(batch, row, why);
  if (prep.rows.empty()) return sdk::Status::Ok;
  Stats stats;
  try {
    pqxx::work tx(impl_->conn(), "progcap_batch");
    impl_->load(tx, b, batch, prep.rows, 0, prep.rows.size(), stats);
    tx.commit();
  } catch (const pqxx::in_doubt_error& e) {
    impl_->disconnect();
    ctx_.warn("postgres: commit outcome unknown ({}); redelivering the batch (upserts are idempotent)", first_line(e));
    return sdk::Status::Retry;
  } catch (const pqxx::broken_connection& e) {
    impl_->disconnect();
    ctx_.warn("postgres: connection lost ({}); reconnecting", first_line(e));
    return sdk::Status::Retry;
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    if (Sql::transient(state)) {
      if (Sql::connection_lost(state)) impl_->disconnect();
      ctx_.warn("postgres: {} [SQLSTATE {}]; retrying the batch", first_line(e), state);
      return sdk::Status::Retry;
    }
    if (state == "25006") throw sdk::ConfigError("postgres: the database is read-only: " + first_line(e));
    if (state == "42501") throw sdk::ConfigError("postgres: permission denied: " + first_line(e));
    if (state == "42883" || state == "42P01" || state == "42703" || state == "3F000") {
      throw sdk::ConfigError("postgres: " + first_line(e) + " (is the database migrated? run `progcap db migrate`)");
    }
    throw sdk::FatalError("postgres: " + first_line(e) + " [SQLSTATE " + state + "]");
  }
  for (const auto& [row, why] : stats.rejected) reject(batch, row, why);
  for (const auto& w : stats.warnings) ctx_.debug("postgres: {} warning: {}", b.table().name, w);
  stats.publish(ctx_, "postgres", b.table().name, prep.duplicates);
  if (stats.bisections != 0) ctx_.metric_add("postgres.bisections", stats.bisections);
  return sdk::Status::Ok;
}

}  // namespace progcap::plugins::postgres
