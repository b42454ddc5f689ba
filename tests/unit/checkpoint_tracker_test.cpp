// The runtime's checkpoint ordering: commits wait for every sink's
// acknowledgement, keep their order, and coalesce only a cursor that moves
// under one key while many values wait.
#include "runtime/checkpoint_tracker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using progcap::core::CheckpointTracker;

namespace {

struct Committed {
  std::vector<std::pair<std::string, std::string>> log;
  CheckpointTracker::CommitFn fn() {
    return [this](const std::string& k, const std::string& v) { log.emplace_back(k, v); };
  }
};

TEST(CheckpointTrackerTest, CommitsInOrderOnlyOnceEverySinkAcknowledged) {
  Committed c;
  CheckpointTracker t(2, c.fn());
  t.add(1, "cursor", "10");
  t.add(2, "cursor", "20");
  t.ack(0, 2);
  EXPECT_TRUE(c.log.empty()) << "the second sink has acknowledged nothing";
  t.ack(1, 1);
  ASSERT_EQ(c.log.size(), 1U);
  EXPECT_EQ(c.log[0].second, "10");
  t.ack(1, 2);
  ASSERT_EQ(c.log.size(), 2U);
  EXPECT_EQ(c.log[1].second, "20");
  EXPECT_EQ(t.committed(), 2U);
  EXPECT_EQ(t.pending(), 0U);
  t.add(2, "cursor", "21");  // rows already acknowledged: commits at once
  EXPECT_EQ(c.log.back().second, "21");
}

TEST(CheckpointTrackerTest, BelowTheThresholdEveryValueIsKept) {
  Committed c;
  CheckpointTracker t(1, c.fn());
  for (uint64_t s = 1; s < CheckpointTracker::kCoalesceFrom; ++s) t.add(s, "cursor", std::to_string(s));
  EXPECT_EQ(t.pending(), CheckpointTracker::kCoalesceFrom - 1);
  EXPECT_EQ(t.superseded(), 0U);
  t.ack(0, 1000);
  EXPECT_EQ(c.log.size(), CheckpointTracker::kCoalesceFrom - 1);
}

TEST(CheckpointTrackerTest, ACursorUnderOneKeyHoldsABoundedNumberOfValues) {
  Committed c;
  CheckpointTracker t(1, c.fn());
  for (uint64_t s = 1; s <= 10000; ++s) t.add(s, "cursor", std::to_string(s));
  EXPECT_EQ(t.pending(), CheckpointTracker::kCoalesceFrom);
  EXPECT_EQ(t.superseded(), 10000 - CheckpointTracker::kCoalesceFrom);
  // The replaced value took the newest sequence number: acknowledging the rows
  // before value 16 must not commit value 10000.
  t.ack(0, CheckpointTracker::kCoalesceFrom);
  ASSERT_EQ(c.log.size(), CheckpointTracker::kCoalesceFrom - 1);
  EXPECT_EQ(c.log.back().second, std::to_string(CheckpointTracker::kCoalesceFrom - 1));
  t.ack(0, 10000);
  EXPECT_EQ(c.log.back().second, "10000");
  // Every committed value is one the source wrote, in the order it wrote them.
  for (size_t i = 1; i < c.log.size(); ++i) EXPECT_LT(std::stoll(c.log[i - 1].second), std::stoll(c.log[i].second));
}

TEST(CheckpointTrackerTest, InterleavedKeysAreNeverCoalesced) {
  // "run" after "pr:N" is not directly after another "run": replacing it
  // would commit a state (new run cursor, old PR) the source never was in.
  Committed c;
  CheckpointTracker t(1, c.fn());
  uint64_t seq = 0;
  for (int i = 0; i < 40; ++i) {
    t.add(++seq, "run", "page " + std::to_string(i));
    t.add(++seq, "pr:" + std::to_string(i), "done");
  }
  EXPECT_EQ(t.superseded(), 0U);
  EXPECT_EQ(t.pending(), 80U);
  t.ack(0, seq);
  ASSERT_EQ(c.log.size(), 80U);
  EXPECT_EQ(c.log[78], (std::pair<std::string, std::string>{"run", "page 39"}));
}

TEST(CheckpointTrackerTest, TheNextValueToCommitIsNeverReplaced) {
  // One key, a sink that keeps 40 checkpoints behind: coalescing is on the
  // whole time, yet commits keep coming (no value waits forever behind newer
  // ones), and none commits before the rows before it are acknowledged.
  constexpr uint64_t kLag = 40;
  uint64_t now = 0;
  uint64_t acked = 0;
  uint64_t last_commit_at = 0;
  uint64_t longest_gap = 0;
  size_t commits = 0;
  CheckpointTracker t(1, [&](const std::string&, const std::string& v) {
    EXPECT_LE(std::stoull(v), acked) << "committed before its rows were acknowledged";
    longest_gap = std::max(longest_gap, now - last_commit_at);
    last_commit_at = now;
    ++commits;
  });
  for (now = 1; now <= 2000; ++now) {
    t.add(now, "cursor", std::to_string(now));
    if (now > kLag) t.ack(0, acked = now - kLag);
  }
  EXPECT_GT(t.superseded(), 1000U);
  EXPECT_GT(commits, 500U);
  EXPECT_LE(longest_gap, 2 * kLag) << "a replaced value must not keep the next commit waiting";
  EXPECT_LE(t.pending(), CheckpointTracker::kCoalesceFrom);
}

TEST(CheckpointTrackerTest, AFailedCommitStopsCommittingAndIsReported) {
  int calls = 0;
  CheckpointTracker t(1, [&](const std::string&, const std::string&) {
    if (++calls == 2) throw std::runtime_error("disk full");
  });
  t.add(1, "cursor", "1");
  t.add(2, "cursor", "2");
  t.add(3, "cursor", "3");
  t.ack(0, 3);
  EXPECT_EQ(t.committed(), 1U);
  EXPECT_EQ(t.error(), "cannot save checkpoint: disk full");
  EXPECT_EQ(calls, 2) << "nothing after the failed commit is committed";
}

}  // namespace
