// source-github-reviews through the C ABI, against canned GitHub answers.
#include "../../github-common/tests/canned_github.hpp"

#include <progcap/sdk/plugin.hpp>

#include <gtest/gtest.h>

using progcap::sdk::testing::FakeHost;
using namespace progcap::github::testing;

TEST(ReviewsSourceTest, ReviewsAndReviewCommentsWithRepliesAndGhosts) {
  FakeHost host;
  CannedGitHub gh;
  gh.routes["/repos/o/r"] = {200, repo_json()};
  gh.routes["/repos/o/r/pulls/3"] = {200, pr_json(3)};
  gh.routes["/repos/o/r/pulls/3/reviews?per_page=100"] = {200, R"([
    {"id": 11, "state": "approved", "body": "lgtm", "submitted_at": "2026-11-01T01:00:00Z", "commit_id": "abc", "user": null},
    {"id": 12, "state": "PENDING", "body": "", "user": {"login": "bob", "id": 8}}])"};
  gh.routes["/repos/o/r/pulls/3/comments?per_page=100"] = {200, R"([
    {"id": 21, "pull_request_review_id": 11, "path": "a.c", "position": 3, "original_position": 3, "diff_hunk": "@@",
     "commit_id": "abc", "original_commit_id": "abc", "body": "nit", "created_at": "2026-11-01T01:00:00Z",
     "updated_at": "2026-11-01T01:00:00Z", "user": {"login": "bob", "id": 8, "type": "User"}},
    {"id": 22, "in_reply_to_id": 21, "pull_request_review_id": 13, "path": "a.c", "position": null, "original_position": 3,
     "diff_hunk": "@@", "commit_id": "abc", "original_commit_id": "abc", "body": "done", "created_at": "2026-11-01T02:00:00Z",
     "updated_at": "2026-11-01T02:00:00Z", "user": {"login": "alice", "id": 7, "type": "User"}}])"};
  host.http_handler = gh.handler();
  auto opts = base_options(R"(["3"])");
  opts.erase(std::remove_if(opts.begin(), opts.end(), [](const auto& kv) { return kv.first == "include_patch"; }), opts.end());
  auto* src = host.create(progcap_plugin_entry(host.api()), "github-pr-reviews", opts);
  ASSERT_NE(src, nullptr) << host.last_error.message;
  ASSERT_EQ(host.run_source(src), PROGCAP_DONE) << host.last_error.message;
  ASSERT_EQ(host.rows["reviews"].size(), 1u) << "pending reviews are skipped";
  EXPECT_EQ(host.rows["reviews"][0][5].s, "APPROVED") << "states are normalised to upper case";
  EXPECT_EQ(host.rows["reviews"][0][4].type, PROGCAP_TYPE_NULL) << "a deleted reviewer is null";
  ASSERT_EQ(host.rows["comments"].size(), 2u);
  EXPECT_EQ(host.rows["comments"][1][9].i, 21) << "reply-to keeps GitHub's id";
  EXPECT_EQ(host.rows["comments"][1][11].type, PROGCAP_TYPE_NULL) << "outdated comments have no position";
  EXPECT_EQ(host.rows["comments"][0][4].i, 1003) << "the PR's GitHub id comes with every comment";
}
