#include <progcap/sdk/testing/fake_host.hpp>

#include <gtest/gtest.h>

using progcap::sdk::testing::FakeHost;

TEST(HelloSourceTest, GreetsCountTimes) {
  FakeHost host;
  auto* src = host.create(progcap_plugin_entry(host.api()), "hello", {{"name", FakeHost::str("progcap")}, {"count", FakeHost::integer(2)}});
  ASSERT_NE(src, nullptr) << host.last_error.message;
  ASSERT_EQ(host.run_source(src), PROGCAP_DONE);
  ASSERT_EQ(host.rows["greetings"].size(), 2u);
  EXPECT_EQ(host.rows["greetings"][1][1].s, "hello, progcap #1");
}
