// source-github-comments through the C ABI, against canned GitHub answers.
#include "../../github-common/tests/canned_github.hpp"

#include <progcap/sdk/plugin.hpp>

#include <gtest/gtest.h>

using progcap::sdk::testing::FakeHost;
using namespace progcap::github::testing;

TEST(CommentsSourceTest, ListingModeSkipsUnchangedPullRequestsAndKeepsTheListingETag) {
  FakeHost host;
  CannedGitHub gh;
  gh.routes["/repos/o/r"] = {200, repo_json()};
  gh.routes["/repos/o/r/pulls?state=all&sort=updated&direction=desc&per_page=100"] = {
      200, "[" + pr_json(5, "2099-01-02T00:00:00Z") + "," + pr_json(4, "2099-01-01T00:00:00Z") + "]", "", "\"list-v1\""};
  gh.routes["/repos/o/r/issues/5/comments?per_page=100"] = {200, R"([{"id": 31, "body": "hi", "created_at": "2026-11-01T00:00:00Z",
    "updated_at": "2026-11-01T00:00:00Z", "html_url": "https://github.com/o/r/pull/5#issuecomment-31", "user": {"login": "carol", "id": 9}}])"};
  gh.routes["/repos/o/r/issues/4/comments?per_page=100"] = {200, "[]"};
  host.http_handler = gh.handler();
  host.state["pr:4"] = "2099-01-01T00:00:00Z";  // captured by an earlier run
  auto opts = base_options(R"([])");
  opts.erase(std::remove_if(opts.begin(), opts.end(), [](const auto& kv) { return kv.first == "include_patch"; }), opts.end());
  auto* src = host.create(progcap_plugin_entry(host.api()), "github-pr-comments", opts);
  ASSERT_NE(src, nullptr) << host.last_error.message;
  ASSERT_EQ(host.run_source(src), PROGCAP_DONE) << host.last_error.message;
  ASSERT_EQ(host.rows["comments"].size(), 1u);
  EXPECT_EQ(host.rows["comments"][0][1].s, "issue_comment");
  EXPECT_EQ(gh.hits["/repos/o/r/issues/4/comments?per_page=100"], 0) << "unchanged PR #4 is skipped";
  EXPECT_EQ(host.checkpoints["etag:http://gh.test/repos/o/r/pulls?state=all&sort=updated&direction=desc&per_page=100|time_range=30|max_items=0"], "\"list-v1\"") << "keyed by URL and selection";
}
