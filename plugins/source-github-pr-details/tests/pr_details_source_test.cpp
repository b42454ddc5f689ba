// source-github-pr-details through the C ABI, against canned GitHub answers.
#include "../../github-common/tests/canned_github.hpp"

#include <progcap/sdk/plugin.hpp>

#include <gtest/gtest.h>

using progcap::sdk::testing::FakeHost;
using namespace progcap::github::testing;

namespace {

TEST(PrDetailsSourceTest, FollowsEveryFilePageAndDeadLettersMissingNumbers) {
  FakeHost host;
  CannedGitHub gh;
  gh.routes["/repos/o/r"] = {200, repo_json(), "", "\"repo-v1\""};
  gh.routes["/repos/o/r/pulls/1"] = {200, pr_json(1), "", "\"pr1-v1\""};
  gh.routes["/repos/o/r/pulls/1/files?per_page=100"] = {
      200, R"([{"filename": "a.c", "status": "modified", "additions": 1, "deletions": 1, "changes": 2, "patch": "@@"}])",
      "<http://gh.test/repositories/1/pulls/1/files?per_page=100&page=2>; rel=\"next\""};
  gh.routes["/repositories/1/pulls/1/files?per_page=100&page=2"] = {
      200, R"([{"filename": "b.c", "status": "renamed", "previous_filename": "old.c", "additions": 2, "deletions": 0, "changes": 2}])"};
  host.http_handler = gh.handler();
  auto* src = host.create(progcap_plugin_entry(host.api()), "github-pr-details", base_options(R"(["1","2"])"));
  ASSERT_NE(src, nullptr) << host.last_error.message;
  ASSERT_EQ(host.run_source(src), PROGCAP_DONE) << host.last_error.message;
  ASSERT_EQ(host.rows["pull_requests"].size(), 1u);
  ASSERT_EQ(host.rows["pull_request_files"].size(), 2u) << "both pages of files";
  EXPECT_EQ(host.rows["pull_request_files"][1][8].s, "old.c");
  EXPECT_EQ(host.rows["pull_request_files"][0][9].type, PROGCAP_TYPE_NULL) << "patches only with include_patch";
  EXPECT_EQ(host.rows["repositories"].size(), 1u);
  ASSERT_EQ(host.dead_letters.size(), 1u);
  EXPECT_EQ(host.dead_letters[0].reason, "pull request #2 not found in o/r (GitHub answered 404)");
  EXPECT_EQ(host.checkpoints["pr:1"], "2026-11-01T00:00:00Z");
  EXPECT_EQ(host.checkpoints["etag:http://gh.test/repos/o/r/pulls/1"], "\"pr1-v1\"");
  for (const auto& req : host.http_log) {
    EXPECT_EQ(req.quota_key.rfind("github:token:", 0), 0u) << "every request is governed by the token's quota";
  }

  // A second run: the PR is unchanged (304) and nothing is re-captured.
  FakeHost again;
  again.state = host.state;
  again.http_handler = gh.handler();
  auto* src2 = again.create(progcap_plugin_entry(again.api()), "github-pr-details", base_options(R"(["1"])"));
  ASSERT_EQ(again.run_source(src2), PROGCAP_DONE);
  EXPECT_TRUE(again.rows["pull_requests"].empty());
  EXPECT_EQ(again.counters["not_modified"], 2) << "repository and PR both answered 304";
}

TEST(PrDetailsSourceTest, CredentialsAndRepositoryErrors) {
  FakeHost host;
  CannedGitHub gh;
  gh.routes["/repos/o/r"] = {401, R"({"message":"Bad credentials"})"};
  host.http_handler = gh.handler();
  auto* src = host.create(progcap_plugin_entry(host.api()), "github-pr-details", base_options(R"([])"));
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(host.run_source(src), PROGCAP_ERR_AUTH);
  EXPECT_NE(host.last_error.message.find("GitHub rejected the credentials"), std::string::npos) << host.last_error.message;
}

}  // namespace
