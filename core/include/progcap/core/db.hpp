// progcap core — database schema management (`progcap db migrate|status`).
//
// The SQL migrations under packaging/sql/migrations are compiled into the
// binary, so `progcap db migrate` needs nothing but a DSN. Each pending file
// runs in its own transaction and is recorded with its SHA-256 in
// progcap_schema_migrations; concurrent migrators serialise on an advisory
// lock. libpqxx stays inside core/src/db (this header does not include it).
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace progcap::core::db {

/// A migration compiled into the binary.
struct Migration {
  std::string_view version;   // file name without ".sql", e.g. "0001_contributor_info_core"
  std::string_view sha256;    // hex digest of the file
  std::string_view sql;
};
/// Every embedded migration, in the order they apply.
[[nodiscard]] const std::vector<Migration>& migrations();

enum class State { Applied, Pending, Modified, Unknown };
[[nodiscard]] std::string_view to_string(State s);

struct MigrationStatus {
  std::string version;
  State state = State::Pending;
  std::string checksum;    // recorded (applied/modified/unknown) or embedded (pending)
  std::string applied_at;  // ISO timestamp, empty when pending
};

/// Connection failure, authentication failure, or a failing migration.
/// `config` is true when the cause is the target (bad DSN, password,
/// missing privileges, modified migrations) rather than a transient fault.
class DbError : public std::runtime_error {
 public:
  DbError(const std::string& what, bool config) : std::runtime_error(what), config_(config) {}
  [[nodiscard]] bool config() const noexcept { return config_; }

 private:
  bool config_;
};

struct MigrateOptions {
  bool dry_run = false;  // only report what would run
  std::chrono::seconds lock_timeout{60};  // waiting for another migrator
  /// Progress lines ("applied 0001_… in 120 ms") and server NOTICEs.
  std::function<void(std::string_view)> log;
};

struct MigrateResult {
  std::vector<std::string> applied;  // versions applied by this call (or that would be, with dry_run)
  std::vector<MigrationStatus> status;  // the state afterwards
};

/// Status of every embedded and recorded migration. Throws DbError.
[[nodiscard]] std::vector<MigrationStatus> status(const std::string& dsn);
/// Applies pending migrations. Refuses (DbError, config) when an applied
/// migration's checksum differs from the embedded file.
MigrateResult migrate(const std::string& dsn, const MigrateOptions& opts);

/// The password inside a libpq DSN (URL or key=value form), for redaction;
/// empty when there is none or the DSN does not parse.
[[nodiscard]] std::string dsn_password(const std::string& dsn);

}  // namespace progcap::core::db
