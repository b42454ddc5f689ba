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
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

/// Plain HTTP/1.1 over a socket (loopback fake servers only).
HttpResult http_call(const std::string& method, const std::string& url, const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {});

/// tests/fake-github, started with `args` on a free port; killed on destruction.
class FakeGitHub {
 public:
  static constexpr const char* kToken = "ghp_testtoken0000000000000000000000000000";
  explicit FakeGitHub(std::vector<std::string> args = {});
  ~FakeGitHub();
  FakeGitHub(const FakeGitHub&) = delete;
  FakeGitHub& operator=(const FakeGitHub&) = delete;

  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  nlohmann::json control(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) const;
  nlohmann::json stats() const { return control("GET", "/_fake/stats"); }
  nlohmann::json truth(const std::string& repo, const std::string& extra = "") const;

 private:
  std::unique_ptr<Process> proc_;
  std::string url_;
  std::string dir_;
};

/// Path of a file in the source tree.
std::string source_path(const std::string& rel);

}  // namespace progcap::testing
