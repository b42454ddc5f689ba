// Test support: throwaway databases on the PostgreSQL server that ctest's
// `postgres` fixture starts (tests/support/pg-fixture.sh), or on $PGTEST_DSN.
// Without either, constructing a TestDatabase throws: tests that need
// PostgreSQL fail, they never skip.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace progcap::testing {

/// DSN (key=value form) of the server's maintenance database.
std::string pg_admin_dsn();

/// A private PostgreSQL cluster (.ci/pg-up.sh on a free port) for tests that
/// restart or stop the server; deleted on destruction.
class PgServer {
 public:
  PgServer();
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;
  [[nodiscard]] const std::string& admin_dsn() const noexcept { return dsn_; }
  /// pg_ctl restart -m fast: every connection is dropped; returns when up again.
  void restart() const;

 private:
  std::string dsn_;
  std::string tmp_;
  std::string bin_;
};

/// A database created for one test (from a migrated template unless
/// `migrated` is false) and dropped on destruction; on the shared server
/// unless an admin DSN (e.g. PgServer::admin_dsn()) is given.
class TestDatabase {
 public:
  explicit TestDatabase(bool migrated = true, std::string admin_dsn = "");
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// key=value DSN of this database.
  [[nodiscard]] const std::string& dsn() const noexcept { return dsn_; }
  /// postgresql:// URL of this database.
  [[nodiscard]] std::string url() const;
  /// Rows of `sql` as JSON objects (via json_agg, so types map as in PostgREST).
  [[nodiscard]] nlohmann::json query(const std::string& sql) const;
  /// The single value of a one-row, one-column query, as text ("" for NULL).
  [[nodiscard]] std::string scalar(const std::string& sql) const;
  void exec(const std::string& sql) const;

 private:
  std::string admin_;
  std::string name_;
  std::string dsn_;
};

}  // namespace progcap::testing
