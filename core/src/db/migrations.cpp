// `progcap db migrate|status`: applies the embedded SQL migrations.
#include <progcap/core/db.hpp>
#include <progcap/core/migrations_data.hpp>

#include <pqxx/pqxx>

#include <libpq-fe.h>

#include <cstdlib>
#include <map>
#include <memory>

namespace progcap::core::db {

namespace {

// pg_advisory_lock key shared by every progcap migrator (738353 = "progcap"
// on a phone keypad, also used by the SQL functions' locks).
constexpr int kLockClass = 738353;
constexpr int kLockMigrate = 0;

/// Forwards server NOTICEs (the migrations explain skipped steps with them).
class NoticeForwarder final : public pqxx::errorhandler {
 public:
  NoticeForwarder(pqxx::connection_base& c, std::function<void(std::string_view)> log)
      : pqxx::errorhandler(c), log_(std::move(log)) {}
  bool operator()(const char msg[]) noexcept override {
    if (!log_) return false;
    std::string_view m(msg);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.remove_suffix(1);
    try {
      log_(m);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a notice must never break the migration
    }
    return false;  // handled: do not print to stderr as well
  }

 private:
  std::function<void(std::string_view)> log_;
};

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

/// Connects, classifying failures: bad credentials/DSN are configuration
/// errors (exit 78), an unreachable server is a failure worth retrying.
std::unique_ptr<pqxx::connection> connect(const std::string& dsn) {
  if (dsn.empty()) throw DbError("no database DSN (pass --dsn or set DATABASE_URL)", true);
  // libpq waits forever for an unreachable host unless told otherwise.
  if (std::getenv("PGCONNECT_TIMEOUT") == nullptr) ::setenv("PGCONNECT_TIMEOUT", "10", 0);
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err != nullptr ? err : "unparseable";
    if (err != nullptr) PQfreemem(err);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    throw DbError("invalid database DSN: " + msg, true);
  }
  PQconninfoFree(opts);
  try {
    auto c = std::make_unique<pqxx::connection>(dsn);
    c->set_client_encoding("UTF8");
    return c;
  } catch (const pqxx::broken_connection& e) {
    std::string msg = e.what();
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    const bool config = contains(msg, "authentication failed") || contains(msg, "no password supplied") ||
                        contains(msg, "does not exist") || contains(msg, "not permitted") || contains(msg, "pg_hba.conf");
    throw DbError("cannot connect to the database: " + msg, config);
  }
}

bool is_config_state(const std::string& state) {
  // 25006 read-only transaction, 42501 insufficient privilege, 28xxx auth,
  // 3D000 unknown database, 42xxx syntax/undefined objects (a broken schema).
  return state == "25006" || state.rfind("28", 0) == 0 || state.rfind("42", 0) == 0 || state == "3D000";
}

[[noreturn]] void rethrow_sql(const pqxx::sql_error& e, const std::string& context) {
  std::string msg = e.what();
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  std::string hint;
  if (e.sqlstate() == "25006") hint = " (the database is read-only: connect to the primary)";
  if (e.sqlstate() == "42501") hint = " (the role lacks privileges: migrate as the schema owner, e.g. postgres)";
  throw DbError(context + ": " + msg + (e.sqlstate().empty() ? "" : " [SQLSTATE " + e.sqlstate() + "]") + hint,
                is_config_state(e.sqlstate()));
}

struct Recorded {
  std::string checksum;
  std::string applied_at;
};

std::map<std::string, Recorded> read_recorded(pqxx::connection& c) {
  std::map<std::string, Recorded> out;
  pqxx::nontransaction tx(c);
  auto exists = tx.exec("SELECT to_regclass('progcap_schema_migrations') IS NOT NULL");
  if (!exists[0][0].as<bool>()) return out;
  auto r = tx.exec(
      "SELECT version, coalesce(checksum, ''), to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
      "FROM progcap_schema_migrations ORDER BY version");
  for (const auto& row : r) out[row[0].as<std::string>()] = Recorded{row[1].as<std::string>(), row[2].as<std::string>()};
  return out;
}

std::vector<MigrationStatus> compute_status(const std::map<std::string, Recorded>& recorded) {
  std::vector<MigrationStatus> out;
  for (const auto& m : migrations()) {
    MigrationStatus s;
    s.version = std::string(m.version);
    auto it = recorded.find(s.version);
    if (it == recorded.end()) {
      s.state = State::Pending;
      s.checksum = std::string(m.sha256);
    } else {
      s.state = it->second.checksum == m.sha256 ? State::Applied : State::Modified;
      s.checksum = it->second.checksum;
      s.applied_at = it->second.applied_at;
    }
    out.push_back(std::move(s));
  }
  for (const auto& [version, rec] : recorded) {
    bool known = false;
    for (const auto& m : migrations()) known = known || m.version == version;
    if (!known) out.push_back(MigrationStatus{version, State::Unknown, rec.checksum, rec.applied_at});
  }
  return out;
}

}  // namespace

const std::vector<Migration>& migrations() { return embedded::kMigrations; }

std::string_view to_string(State s) {
  switch (s) {
    case State::Applied: return "applied";
    case State::Pending: return "pending";
    case State::Modified: return "modified";
    case State::Unknown: return "unknown";
  }
  return "?";
}

std::vector<MigrationStatus> status(const std::string& dsn) {
  auto c = connect(dsn);
  try {
    return compute_status(read_recorded(*c));
  } catch (const pqxx::sql_error& e) {
    rethrow_sql(e, "cannot read progcap_schema_migrations");
  }
}

MigrateResult migrate(const std::string& dsn, const MigrateOptions& opts) {
  auto c = connect(dsn);
  NoticeForwarder notices(*c, opts.log);
  auto say = [&](const std::string& s) {
    if (opts.log) opts.log(s);
  };
  MigrateResult result;
  try {
    {
      pqxx::nontransaction tx(*c);
      tx.exec("SET lock_timeout = " + tx.quote(std::to_string(opts.lock_timeout.count() * 1000)));
      try {
        tx.exec("SELECT pg_advisory_lock(" + std::to_string(kLockClass) + ", " + std::to_string(kLockMigrate) + ")");
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() == "55P03") {
          throw DbError("another `progcap db migrate` holds the migration lock (waited " +
                            std::to_string(opts.lock_timeout.count()) + " s)",
                        false);
        }
        throw;
      }
      tx.exec("RESET lock_timeout");
    }
    auto recorded = read_recorded(*c);
    for (const auto& s : compute_status(recorded)) {
      if (s.state == State::Modified) {
        throw DbError("migration " + s.version + " was changed after it was applied (recorded sha256 " + s.checksum +
                          "); ship schema changes as a new migration file",
                      true);
      }
    }
    if (!opts.dry_run && recorded.empty()) {
      pqxx::work tx(*c);
      if (!tx.exec("SELECT to_regclass('progcap_schema_migrations') IS NOT NULL")[0][0].as<bool>()) {
        // RLS without policies: PostgREST's anon/authenticated roles cannot
        // read or change the bookkeeping (Supabase exposes `public`).
        tx.exec(
            "CREATE TABLE progcap_schema_migrations ("
            " version text PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now(),"
            " checksum text NOT NULL);"
            "ALTER TABLE progcap_schema_migrations ENABLE ROW LEVEL SECURITY;"
            "COMMENT ON TABLE progcap_schema_migrations IS 'Migrations applied by progcap db migrate'");
        tx.commit();
      }
    }
    for (const auto& m : migrations()) {
      if (recorded.count(std::string(m.version)) != 0) continue;
      result.applied.emplace_back(m.version);
      if (opts.dry_run) {
        say("would apply " + std::string(m.version));
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      try {
        pqxx::work tx(*c);
        tx.exec(std::string(m.sql));  // simple query protocol: the file holds many statements
        tx.exec_params("INSERT INTO progcap_schema_migrations (version, checksum) VALUES ($1, $2)", std::string(m.version),
                       std::string(m.sha256));
        tx.commit();
      } catch (const pqxx::sql_error& e) {
        rethrow_sql(e, "migration " + std::string(m.version) + " failed (rolled back)");
      }
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      say("applied " + std::string(m.version) + " in " + std::to_string(ms) + " ms");
    }
    result.status = opts.dry_run ? compute_status(recorded) : compute_status(read_recorded(*c));
  } catch (const pqxx::sql_error& e) {
    rethrow_sql(e, "migrate");
  } catch (const pqxx::broken_connection& e) {
    throw DbError(std::string("lost the database connection: ") + e.what(), false);
  }
  return result;
}

std::string dsn_password(const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  if (opts == nullptr) return {};
  std::string pw;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr) pw = o->val;
  }
  PQconninfoFree(opts);
  return pw;
}

}  // namespace progcap::core::db
