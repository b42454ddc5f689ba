// The historical source's GraphQL page sizing, follow-up queries and PR id map.
#include "historical_source.hpp"

#include <gtest/gtest.h>

using progcap::plugins::github_historical::HistoricalSource;

TEST(HistoricalSourceTest, PredictedCostFollowsGitHubsFormula) {
  // requests = 1 + n * nested; points = round(requests / 100), at least 1
  EXPECT_EQ(HistoricalSource::predicted_cost(1, 4), 1);
  EXPECT_EQ(HistoricalSource::predicted_cost(37, 4), 1);   // 149 requests
  EXPECT_EQ(HistoricalSource::predicted_cost(38, 4), 2);   // 153 requests
  EXPECT_EQ(HistoricalSource::predicted_cost(100, 4), 4);  // 401 requests
  EXPECT_EQ(HistoricalSource::predicted_cost(25, 3), 1);   // GitHub's docs: 76 requests -> 1 point
}

TEST(HistoricalSourceTest, PageSizeMaximisesPullRequestsPerPoint) {
  EXPECT_EQ(HistoricalSource::best_page_size(100, 4), 37);  // 37 PRs per point beats 25 (100/4)
  EXPECT_EQ(HistoricalSource::best_page_size(20, 4), 20);
  EXPECT_EQ(HistoricalSource::best_page_size(100, 3), 49);
}

TEST(HistoricalSourceTest, FollowUpBatchesUseOnlyTheFragmentsTheyNeed) {
  using F = HistoricalSource::FollowUp;
  const std::string files_only = HistoricalSource::followup_query({F{"files", 2, 1, "Y3Vyc29yOjEwMA=="}});
  EXPECT_NE(files_only.find("p0: pullRequest(number: 2) { files(first: 100, after: \"Y3Vyc29yOjEwMA==\") { ...FilesPage } }"),
            std::string::npos);
  EXPECT_EQ(files_only.find("fragment Who"), std::string::npos) << "unused fragments are GraphQL errors";
  const std::string mixed = HistoricalSource::followup_query({F{"reviews", 1, 1, "a\"b"}, F{"comments", 3, 2, "c"}});
  EXPECT_NE(mixed.find("after: \"a\\\"b\""), std::string::npos) << "cursors are quoted as GraphQL strings";
  EXPECT_NE(mixed.find("fragment Who on Actor"), std::string::npos);
}

TEST(HistoricalSourceTest, PrIdsFindsWhatWasAddedInAnyOrderOnce) {
  progcap::plugins::github_historical::PrIds ids;
  EXPECT_FALSE(ids.find(1).has_value());
  // Page order: updated-descending, so numbers arrive unsorted, and a PR
  // updated during the walk arrives twice.
  for (int64_t n : {40, 7, 1000, 3, 7, 512}) ids.add(n, n * 10);
  EXPECT_EQ(ids.find(7), std::optional<int64_t>(70));
  EXPECT_EQ(ids.find(1000), std::optional<int64_t>(10000));
  EXPECT_EQ(ids.find(3), std::optional<int64_t>(30));
  EXPECT_FALSE(ids.find(8).has_value());
  EXPECT_FALSE(ids.find(2000).has_value());
  const std::vector<std::pair<int64_t, int64_t>> want = {{3, 30}, {7, 70}, {40, 400}, {512, 5120}, {1000, 10000}};
  EXPECT_EQ(ids.sorted(), want);
  ids.add(5, 50);  // added after a lookup: found too
  EXPECT_EQ(ids.find(5), std::optional<int64_t>(50));
  EXPECT_EQ(ids.sorted().size(), 6U);
}

#ifdef PROGCAP_GRAPHQL_SAMPLES
#include <filesystem>
#include <fstream>

// Writes generated follow-up documents for the schema validation test.
TEST(HistoricalSourceTest, WritesFollowUpSamples) {
  using F = HistoricalSource::FollowUp;
  std::filesystem::create_directories(PROGCAP_GRAPHQL_SAMPLES);
  std::ofstream(std::string(PROGCAP_GRAPHQL_SAMPLES) + "/followups_all_kinds.graphql")
      << HistoricalSource::followup_query({F{"files", 2, 1, "Y3Vyc29yOjEwMA=="}, F{"reviews", 1, 1, "abc"}, F{"comments", 3, 2, "def"}});
  std::ofstream(std::string(PROGCAP_GRAPHQL_SAMPLES) + "/followups_files.graphql")
      << HistoricalSource::followup_query({F{"files", 7, 1, "x"}});
  std::vector<F> many;
  // The largest batch the source sends, and the largest that costs one point.
  for (int i = 0; i < 149; ++i) many.push_back(F{i % 2 ? "reviews" : "comments", i + 1, i, "c" + std::to_string(i)});
  std::ofstream(std::string(PROGCAP_GRAPHQL_SAMPLES) + "/followups_149.graphql") << HistoricalSource::followup_query(many);
  many.resize(HistoricalSource::kFollowUpsPerQuery);
  std::ofstream(std::string(PROGCAP_GRAPHQL_SAMPLES) + "/followups_max.graphql") << HistoricalSource::followup_query(many);
  SUCCEED();
}
#endif
