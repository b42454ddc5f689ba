#include <progcap/sdk/plugin.hpp>
#include <progcap/sdk/testing/fake_host.hpp>

#include <gtest/gtest.h>

using progcap::sdk::testing::FakeHost;

TEST(BlackholeSinkTest, CountsRowsAndRetriesOnRequest) {
  FakeHost h;
  auto* s = h.create(progcap_plugin_entry(h.api()), "blackhole", {{"fail_every", FakeHost::integer(2)}, {"touch", FakeHost::boolean(true)}});
  ASSERT_NE(s, nullptr);
  progcap::sdk::Stream st("x");
  st.field("id", progcap::sdk::Type::Int64, progcap::sdk::kPrimaryKey).field("s", progcap::sdk::Type::String);
  std::vector<progcap::sdk::testing::OwnedRow> rows = {{FakeHost::integer(1), FakeHost::str("abc")}};
  EXPECT_EQ(h.write(s, st.abi(), rows), PROGCAP_OK);
  EXPECT_EQ(h.write(s, st.abi(), rows), PROGCAP_RETRY);
  EXPECT_EQ(h.write(s, st.abi(), rows), PROGCAP_OK);
  EXPECT_EQ(h.counters["rows"], 2);
  EXPECT_EQ(h.counters["bytes"], 22);
}
