// `progcap db migrate|status`: the contributor.info schema and progcap's SQL
// functions, applied from the migrations compiled into the binary.
#include "cli.hpp"

#include <progcap/core/db.hpp>
#include <progcap/core/exit_codes.hpp>
#include <progcap/core/logging.hpp>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iomanip>
#include <iostream>

namespace po = boost::program_options;

namespace progcap::cli {

namespace {

const char* kDbUsage = R"(usage: progcap db migrate [--dsn DSN] [--dry-run] [--json]
       progcap db status  [--dsn DSN] [--json] [--check]

  migrate   apply the pending migrations (each in its own transaction; a second run is a no-op;
            a database that already has contributor.info's tables only gets the missing parts)
  status    list embedded and recorded migrations: applied | pending | modified | unknown

The DSN is a libpq connection string or URL (TLS settings such as sslmode=verify-full and
sslrootcert=... go inside it); default: $DATABASE_URL. Exit codes: 0 ok · 1 database unreachable
or a migration failed · 2 usage · 78 bad DSN/credentials, read-only database, missing privileges,
or a changed migration · `status --check`: 1 when anything is pending or modified.
)";

std::string resolve_dsn(const po::variables_map& vm) {
  std::string dsn;
  if (vm.count("dsn") != 0) {
    dsn = vm["dsn"].as<std::string>();
  } else if (const char* env = std::getenv("DATABASE_URL"); env != nullptr) {
    dsn = env;
  }
  if (dsn.empty()) throw UsageError("no database: pass --dsn or set DATABASE_URL");
  core::Redactor::instance().add(core::db::dsn_password(dsn));
  return dsn;
}

nlohmann::json status_json(const std::vector<core::db::MigrationStatus>& st) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& s : st) {
    nlohmann::json j = {{"version", s.version}, {"state", std::string(core::db::to_string(s.state))}, {"checksum", s.checksum}};
    if (!s.applied_at.empty()) j["applied_at"] = s.applied_at;
    arr.push_back(std::move(j));
  }
  return arr;
}

void print_status(const std::vector<core::db::MigrationStatus>& st) {
  for (const auto& s : st) {
    std::cout << std::left << std::setw(10) << core::db::to_string(s.state) << " " << std::setw(36) << s.version << " "
              << (s.applied_at.empty() ? std::string("-") : s.applied_at) << "\n";
  }
}

int fail(const core::db::DbError& e) {
  std::cerr << "progcap db: error: " << core::Redactor::instance().redact(e.what()) << "\n";
  return e.config() ? core::kExitConfig : core::kExitFailed;
}

}  // namespace

int cmd_db(const Globals& /*g*/, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    (args.empty() ? std::cerr : std::cout) << kDbUsage;
    return args.empty() ? core::kExitUsage : core::kExitOk;
  }
  const std::string sub = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  po::options_description desc("progcap db " + sub);
  desc.add_options()("help,h", "show this help")("dsn", po::value<std::string>(), "libpq DSN or URL (default $DATABASE_URL)")(
      "json", "machine-readable output");
  if (sub == "migrate") {
    desc.add_options()("dry-run", "only list what would be applied");
  } else if (sub == "status") {
    desc.add_options()("check", "exit 1 when a migration is pending or modified");
  } else {
    throw UsageError("unknown db command '" + sub + "' (migrate | status)");
  }
  auto vm = parse(rest, desc, po::positional_options_description{});
  if (vm.count("help") != 0) {
    std::cout << kDbUsage;
    return core::kExitOk;
  }
  const std::string dsn = resolve_dsn(vm);
  const bool json = vm.count("json") != 0;
  try {
    if (sub == "status") {
      auto st = core::db::status(dsn);
      if (json) {
        std::cout << nlohmann::json{{"migrations", status_json(st)}}.dump(2) << "\n";
      } else {
        print_status(st);
      }
      if (vm.count("check") != 0) {
        for (const auto& s : st) {
          if (s.state == core::db::State::Pending || s.state == core::db::State::Modified) return core::kExitFailed;
        }
      }
      return core::kExitOk;
    }
    core::db::MigrateOptions mo;
    mo.dry_run = vm.count("dry-run") != 0;
    mo.log = [json](std::string_view line) {
      (json ? std::cerr : std::cout) << core::Redactor::instance().redact(line) << "\n";
    };
    auto r = core::db::migrate(dsn, mo);
    if (json) {
      std::cout << nlohmann::json{{"dry_run", mo.dry_run}, {"applied", r.applied}, {"migrations", status_json(r.status)}}.dump(2)
                << "\n";
    } else if (r.applied.empty()) {
      std::cout << "schema is up to date (" << r.status.size() << " migrations applied)\n";
    } else if (!mo.dry_run) {
      std::cout << "applied " << r.applied.size() << " migration(s)\n";
    }
    return core::kExitOk;
  } catch (const core::db::DbError& e) {
    return fail(e);
  }
}

}  // namespace progcap::cli
