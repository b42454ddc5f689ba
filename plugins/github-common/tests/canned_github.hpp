// Test support for the GitHub plugins' unit tests: a FakeHost HTTP handler
// answering from canned GitHub responses, honouring If-None-Match.
#pragma once

#include <progcap/sdk/testing/fake_host.hpp>

#include <map>
#include <string>

namespace progcap::github::testing {

struct Canned {
  Canned(int s = 200, std::string b = "", std::string l = "", std::string e = "")  // NOLINT(google-explicit-constructor)
      : status(s), body(std::move(b)), link(std::move(l)), etag(std::move(e)) {}
  int status;
  std::string body;
  std::string link;  // Link header
  std::string etag;
};

/// Responses keyed by URL path + query (without scheme and host).
class CannedGitHub {
 public:
  std::map<std::string, Canned> routes;
  std::map<std::string, int> hits;

  sdk::testing::FakeHost::HttpHandler handler() {
    return [this](const sdk::HttpRequest& req) {
      const size_t p = req.url.find('/', req.url.find("://") + 3);
      const std::string path = req.url.substr(p);
      ++hits[path];
      sdk::HttpResponse r;
      auto it = routes.find(path);
      if (it == routes.end()) {
        r.status = 404;
        r.body = R"({"message":"Not Found"})";
        return r;
      }
      std::string inm;
      for (const auto& h : req.headers) {
        if (h.name == "If-None-Match") inm = h.value;
      }
      if (!it->second.etag.empty() && inm == it->second.etag) {
        r.status = 304;
        return r;
      }
      r.status = it->second.status;
      r.body = it->second.body;
      r.headers.push_back({"content-type", "application/json"});
      if (!it->second.link.empty()) r.headers.push_back({"link", it->second.link});
      if (!it->second.etag.empty()) r.headers.push_back({"etag", it->second.etag});
      return r;
    };
  }
};

inline std::string repo_json() {
  return R"({"id": 1296269, "full_name": "o/r", "name": "r", "owner": {"login": "o", "id": 1}, "private": false, "fork": false,
             "created_at": "2020-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "pushed_at": "2026-01-01T00:00:00Z",
             "stargazers_count": 5, "topics": ["a"], "license": {"spdx_id": "MIT"}})";
}

inline std::string pr_json(int n, const char* updated = "2026-11-01T00:00:00Z") {
  return R"({"id": )" + std::to_string(1000 + n) + R"(, "number": )" + std::to_string(n) +
         R"(, "state": "open", "title": "PR", "body": "b", "draft": false, "merged": false, "merged_at": null,
            "user": {"login": "alice", "id": 7, "type": "User", "avatar_url": "a", "html_url": "h"}, "merged_by": null,
            "created_at": "2026-10-01T00:00:00Z", "updated_at": ")" + std::string(updated) + R"(", "closed_at": null,
            "head": {"ref": "f", "sha": "abc"}, "base": {"ref": "main"}, "additions": 3, "deletions": 1,
            "changed_files": 2, "commits": 1, "mergeable": true, "mergeable_state": "clean"})";
}

inline std::vector<std::pair<std::string, sdk::testing::OwnedValue>> base_options(const std::string& prs) {
  using F = sdk::testing::FakeHost;
  return {{"repository", F::str("o/r")},       {"api_url", F::str("http://gh.test")}, {"token", F::str("ghp_x")},
          {"pr_numbers", F::json(prs)},        {"time_range", F::integer(30)},        {"max_items", F::integer(0)},
          {"include_patch", F::boolean(false)}, {"conditional", F::boolean(true)},     {"token_refresh_margin", F::integer(300000)},
          {"max_rate_limit_wait", F::integer(60000)}};
}

}  // namespace progcap::github::testing
