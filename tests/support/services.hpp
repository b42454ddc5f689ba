// Test support: private instances of the fake servers (one per test, so
// tests never share state), and a minimal HTTP client for their control APIs.
#pragma once

#include "subprocess.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace progcap::testing {

struct HttpResult {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

/// Plain HTTP/1.1 over a socket (loopback fake servers only).
HttpResult http_call(const std::string& method, const std::string& url, const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {});

/// A node fixture server (tests/fake-*) started on a free port; it announces
/// itself with a JSON line in --ready-file. Killed (SIGTERM) on destruction.
class NodeServer {
 public:
  NodeServer(const std::string& what, const std::string& script, std::vector<std::string> args);
  ~NodeServer();
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;
  [[nodiscard]] const nlohmann::json& ready() const noexcept { return ready_; }
  [[nodiscard]] pid_t pid() const;

 private:
  std::unique_ptr<Process> proc_;
  nlohmann::json ready_;
  std::string dir_;
};

/// tests/fake-github, started with `args` on a free port; killed on destruction.
class FakeGitHub {
 public:
  static constexpr const char* kToken = "ghp_testtoken0000000000000000000000000000";
  explicit FakeGitHub(std::vector<std::string> args = {});

  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  nlohmann::json control(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) const;
  nlohmann::json stats() const { return control("GET", "/_fake/stats"); }
  nlohmann::json truth(const std::string& repo, const std::string& extra = "") const;

 private:
  NodeServer server_;
  std::string url_;
};

/// tests/fake-postgrest (PostgREST's protocol over a real PostgreSQL
/// database `db_dsn`), on a free port; killed on destruction.
class FakePostgrest {
 public:
  explicit FakePostgrest(const std::string& db_dsn, std::vector<std::string> args = {});

  [[nodiscard]] const std::string& url() const noexcept { return url_; }  // Supabase project URL (REST under /rest/v1)
  [[nodiscard]] const std::string& service_key() const noexcept { return service_key_; }
  [[nodiscard]] const std::string& anon_key() const noexcept { return anon_key_; }
  nlohmann::json control(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) const;
  nlohmann::json stats() const { return control("GET", "/_fake/stats"); }
  /// Adds fault rules (see tests/fake-postgrest/README.md).
  void faults(const nlohmann::json& rules) const { control("POST", "/_fake/faults", rules); }

 private:
  NodeServer server_;
  std::string url_;
  std::string service_key_;
  std::string anon_key_;
};

/// Path of a file in the source tree.
std::string source_path(const std::string& rel);

}  // namespace progcap::testing
