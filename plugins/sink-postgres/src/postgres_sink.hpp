// sink-postgres: writes the contributor.info streams straight into
// PostgreSQL. Each batch is COPYed into a session-local staging table and
// merged by progcap_merge_<table>() (one INSERT … SELECT … ON CONFLICT per
// table, in one transaction per batch); see README.md.
#pragma once

#include <progcap/cinfo/model.hpp>
#include <progcap/sdk/component.hpp>

#include <map>
#include <memory>
#include <string>

namespace progcap::plugins::postgres {

class PostgresSink final : public sdk::Sink {
 public:
  static constexpr std::string_view kType = "postgres";
  static constexpr std::string_view kDescription =
      "Upserts the contributor.info streams (repositories, contributors, pull_requests, pull_request_files, reviews, "
      "comments) into PostgreSQL/Supabase over the Postgres protocol: COPY into a temporary staging table, then "
      "progcap_merge_<table>() resolves natural keys to UUID foreign keys and runs one INSERT … ON CONFLICT … WHERE … IS "
      "DISTINCT FROM per batch, in one transaction. Needs `progcap db migrate`.";

  static inline const auto kDsn = sdk::option<std::string>("dsn").required().secret().describe(
      "libpq connection string or URL, e.g. ${env.DATABASE_URL}");
  static inline const auto kSchema =
      sdk::option<std::string>("schema").default_value("public").describe("schema holding the tables and progcap's functions");
  static inline const auto kSslMode = sdk::option<std::string>("sslmode")
                                          .one_of({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
                                          .describe("libpq sslmode (overrides the DSN's)");
  static inline const auto kSslRootCert = sdk::option<std::string>("sslrootcert").describe("CA certificate file (libpq sslrootcert)");
  static inline const auto kSslCert = sdk::option<std::string>("sslcert").describe("client certificate file (libpq sslcert)");
  static inline const auto kSslKey = sdk::option<std::string>("sslkey").describe("client key file (libpq sslkey)");
  static inline const auto kConnectTimeout =
      sdk::option<int64_t>("connect_timeout_s").default_value(10).range(1, 600).describe("seconds to wait for a connection");
  static inline const auto kStatementTimeout = sdk::option<int64_t>("statement_timeout_s").default_value(300).range(0, 86400).describe(
      "server-side limit per statement (0 = none)");
  static inline const auto kApplicationName =
      sdk::option<std::string>("application_name").default_value("progcap").describe("shown in pg_stat_activity");

  static sdk::OptionList options() {
    return {kDsn, kSchema, kSslMode, kSslRootCert, kSslCert, kSslKey, kConnectTimeout, kStatementTimeout, kApplicationName};
  }

  PostgresSink(sdk::Context ctx, const sdk::Config& cfg);
  ~PostgresSink() override;

  void start() override;
  void prepare(const progcap_schema& schema) override;
  sdk::Status write(const sdk::BatchView& batch) override;

  /// The DSN with the TLS/timeout options applied (URL or key=value form).
  [[nodiscard]] static std::string compose_dsn(const std::string& dsn, const std::vector<std::pair<std::string, std::string>>& extra);

 private:
  struct Impl;  // libpqxx stays in the .cpp
  void check_schema(const cinfo::Table& t);

  std::unique_ptr<Impl> impl_;
  std::map<std::string, std::unique_ptr<cinfo::Binding>, std::less<>> bindings_;  // by stream
  std::map<std::string, bool, std::less<>> checked_;                               // tables verified
};

}  // namespace progcap::plugins::postgres
