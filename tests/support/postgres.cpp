#include "postgres.hpp"

#include "subprocess.hpp"

#include <progcap/core/db.hpp>

#include <pqxx/pqxx>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace progcap::testing {

namespace {

std::map<std::string, std::string> parse_kv(const std::string& dsn) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < dsn.size()) {
    while (pos < dsn.size() && dsn[pos] == ' ') ++pos;
    const size_t eq = dsn.find('=', pos);
    if (eq == std::string::npos) break;
    size_t end = dsn.find(' ', eq);
    if (end == std::string::npos) end = dsn.size();
    out[dsn.substr(pos, eq - pos)] = dsn.substr(eq + 1, end - eq - 1);
    pos = end;
  }
  return out;
}

std::string with_dbname(const std::string& admin, const std::string& db) {
  auto kv = parse_kv(admin);
  kv["dbname"] = db;
  std::string out;
  for (const auto& [k, v] : kv) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

/// A migrated template database, named after the migrations' checksums so a
/// changed migration gets a fresh template. Created once per server, under an
/// advisory lock (ctest runs test processes in parallel).
std::string migrated_template(const std::string& admin_dsn) {
  std::string sums;
  for (const auto& m : core::db::migrations()) sums += std::string(m.sha256.substr(0, 6));
  const std::string name = "progcap_tmpl_" + std::to_string(std::hash<std::string>{}(sums) % 100000000);
  pqxx::connection admin(admin_dsn);
  pqxx::nontransaction tx(admin);
  tx.exec("SELECT pg_advisory_lock(738353, 99)");
  if (tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name).empty()) {
    tx.exec("CREATE DATABASE " + tx.quote_name(name + "_new"));
    core::db::MigrateOptions mo;
    core::db::migrate(with_dbname(admin_dsn, name + "_new"), mo);
    tx.exec("ALTER DATABASE " + tx.quote_name(name + "_new") + " RENAME TO " + tx.quote_name(name));
  }
  tx.exec("SELECT pg_advisory_unlock(738353, 99)");
  return name;
}

}  // namespace

std::string pg_admin_dsn() {
  if (const char* d = std::getenv("PGTEST_DSN"); d != nullptr && *d != '\0') return d;
  if (const char* f = std::getenv("PROGCAP_PG_ENV_FILE"); f != nullptr && *f != '\0') {
    std::ifstream in(f);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("PGTEST_DSN=", 0) == 0) return line.substr(11);
    }
    throw std::runtime_error(std::string("PostgreSQL is not running: ") + f +
                             " has no PGTEST_DSN (did the ctest fixture `postgres.up` fail? see its output)");
  }
  throw std::runtime_error(
      "PostgreSQL is not available: run the tests through ctest (the `postgres` fixture starts a server) or set PGTEST_DSN");
}

PgServer::PgServer() {
  const std::string script = std::string(PROGCAP_SOURCE_DIR) + "/.ci/pg-up.sh";
  for (int attempt = 0; attempt < 5 && dsn_.empty(); ++attempt) {
    ProcessOptions o;
    o.env["PGPORT"] = std::to_string(57000 + (::getpid() * 7 + attempt * 131) % 1000);
    o.timeout = std::chrono::seconds(120);
    const ProcessResult r = run({"/bin/bash", script}, o);
    if (r.exit_code != 0) continue;
    std::istringstream in(r.out);
    std::string word;
    while (in >> word) {
      auto value = [&](const std::string& key) {
        std::string v = word.substr(key.size());
        if (!v.empty() && v.front() == '\'') v = v.substr(1, v.size() - 2);
        return v;
      };
      if (word.rfind("PGTMP=", 0) == 0) tmp_ = value("PGTMP=");
      if (word.rfind("PGBIN=", 0) == 0) bin_ = value("PGBIN=");
      if (word.rfind("PGPORT=", 0) == 0) dsn_ = "dbname=postgres host=127.0.0.1 port=" + value("PGPORT=") + " user=postgres";
    }
  }
  if (dsn_.empty()) throw std::runtime_error("cannot start a private PostgreSQL cluster with .ci/pg-up.sh");
}

PgServer::~PgServer() {
  ProcessOptions o;
  o.env["PGTMP"] = tmp_;
  o.env["PGBIN"] = bin_;
  (void)run({"/bin/bash", std::string(PROGCAP_SOURCE_DIR) + "/.ci/pg-down.sh"}, o);
}

void PgServer::restart() const {
  std::vector<std::string> argv = {bin_ + "/pg_ctl", "-D", tmp_ + "/data", "-m", "fast", "-w", "-t", "60", "restart"};
  if (::geteuid() == 0) argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  ProcessOptions o;
  o.timeout = std::chrono::seconds(90);
  const ProcessResult r = run(argv, o);
  if (r.exit_code != 0) throw std::runtime_error("pg_ctl restart failed: " + r.err + r.out);
}

TestDatabase::TestDatabase(bool migrated, std::string admin_dsn) : admin_(admin_dsn.empty() ? pg_admin_dsn() : std::move(admin_dsn)) {
  static std::atomic<int> counter{0};
  name_ = "progcap_t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string tmpl = migrated ? migrated_template(admin_) : std::string("template0");
  pqxx::connection admin(admin_);
  pqxx::nontransaction tx(admin);
  tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_));
  tx.exec("CREATE DATABASE " + tx.quote_name(name_) + " TEMPLATE " + tx.quote_name(tmpl));
  dsn_ = with_dbname(admin_, name_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(admin_);
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (...) {  // NOLINT(bugprone-empty-catch): best effort; the fixture deletes the cluster anyway
  }
}

std::string TestDatabase::url() const {
  auto kv = parse_kv(dsn_);
  std::string u = "postgresql://" + kv["user"];
  if (kv.count("password") != 0) u += ":" + kv["password"];
  return u + "@" + kv["host"] + ":" + kv["port"] + "/" + kv["dbname"];
}

nlohmann::json TestDatabase::query(const std::string& sql) const {
  pqxx::connection c(dsn_);
  pqxx::nontransaction tx(c);
  auto r = tx.exec("SELECT coalesce(json_agg(q), '[]'::json)::text FROM (" + sql + ") q");
  return nlohmann::json::parse(r[0][0].c_str());
}

std::string TestDatabase::scalar(const std::string& sql) const {
  pqxx::connection c(dsn_);
  pqxx::nontransaction tx(c);
  auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

void TestDatabase::exec(const std::string& sql) const {
  pqxx::connection c(dsn_);
  pqxx::nontransaction tx(c);
  tx.exec(sql);
}

}  // namespace progcap::testing
