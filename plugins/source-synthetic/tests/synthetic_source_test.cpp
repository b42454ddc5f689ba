#include <progcap/sdk/plugin.hpp>
#include <progcap/sdk/testing/fake_host.hpp>

#include <gtest/gtest.h>

using progcap::sdk::testing::FakeHost;

namespace {

std::vector<std::pair<std::string, progcap::sdk::testing::OwnedValue>> opts(int64_t records, int64_t every = 100, bool resume = true) {
  return {{"records", FakeHost::integer(records)}, {"seed", FakeHost::integer(7)},         {"rows_per_poll", FakeHost::integer(64)},
          {"checkpoint_every", FakeHost::integer(every)}, {"resume", FakeHost::boolean(resume)}, {"delay", FakeHost::integer(0)}};
}

TEST(SyntheticSourceTest, DeterministicRowsOfEveryType) {
  FakeHost a;
  FakeHost b;
  auto* sa = a.create(progcap_plugin_entry(a.api()), "synthetic", opts(500));
  auto* sb = b.create(progcap_plugin_entry(b.api()), "synthetic", opts(500));
  ASSERT_NE(sa, nullptr);
  EXPECT_EQ(a.run_source(sa), PROGCAP_DONE) << a.last_error.message;
  EXPECT_EQ(b.run_source(sb), PROGCAP_DONE);
  ASSERT_EQ(a.rows["events"].size(), 500u);
  const auto& r = a.rows["events"][5];
  EXPECT_EQ(r[0].i, 5);
  EXPECT_EQ(r[1].s, "event-5");
  EXPECT_EQ(r[4].type, PROGCAP_TYPE_TIMESTAMP);
  EXPECT_EQ(r[4].i, 1704067200LL * 1000000 + 5 * 1000000);
  EXPECT_EQ(r[5].type, PROGCAP_TYPE_JSON);
  EXPECT_EQ(r[6].type, PROGCAP_TYPE_NULL) << "every fifth note is null";
  for (size_t i = 0; i < 500; ++i) EXPECT_EQ(a.rows["events"][i][2].d, b.rows["events"][i][2].d);
  EXPECT_EQ(a.checkpoints["cursor"], "500");
}

TEST(SyntheticSourceTest, ResumesFromTheSavedCursor) {
  FakeHost h;
  h.state["cursor"] = "480";
  auto* s = h.create(progcap_plugin_entry(h.api()), "synthetic", opts(500));
  ASSERT_EQ(h.run_source(s), PROGCAP_DONE);
  ASSERT_EQ(h.rows["events"].size(), 20u);
  EXPECT_EQ(h.rows["events"][0][0].i, 480);

  FakeHost fresh;
  fresh.state["cursor"] = "480";
  auto* f = fresh.create(progcap_plugin_entry(fresh.api()), "synthetic", opts(500, 100, false));
  ASSERT_EQ(fresh.run_source(f), PROGCAP_DONE);
  EXPECT_EQ(fresh.rows["events"].size(), 500u);
}

}  // namespace
