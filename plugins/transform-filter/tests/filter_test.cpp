#include "../src/filter.hpp"

#include <progcap/sdk/plugin.hpp>
#include <progcap/sdk/testing/fake_host.hpp>

#include <gtest/gtest.h>

using progcap::sdk::testing::FakeHost;

namespace {

progcap_value ival(int64_t x) {
  progcap_value v{PROGCAP_TYPE_INT64, 0, {}};
  v.v.i64 = x;
  return v;
}

FakeHost::Instance* make(FakeHost& h, const std::string& op, const std::string& value) {
  return h.create(progcap_plugin_entry(h.api()), "filter",
                  {{"field", FakeHost::str("n")}, {"op", FakeHost::str(op)}, {"value", FakeHost::str(value)}});
}

TEST(FilterTest, ComparesNumbersTimestampsAndText) {
  FakeHost h;
  auto* gt = make(h, "gt", "10");
  ASSERT_NE(gt, nullptr) << h.last_error.message;
  auto* f = static_cast<progcap::plugins::filter::FilterTransform*>(gt->self);
  EXPECT_TRUE(f->keep(ival(11)));
  EXPECT_FALSE(f->keep(ival(10)));
  progcap_value ts{PROGCAP_TYPE_TIMESTAMP, 0, {}};
  ts.v.i64 = 1704067200LL * 1000000;
  auto* after = static_cast<progcap::plugins::filter::FilterTransform*>(make(h, "ge", "2024-01-01T00:00:00Z")->self);
  EXPECT_TRUE(after->keep(ts));
  ts.v.i64 -= 1;
  EXPECT_FALSE(after->keep(ts));
  std::string text = "hello world";
  progcap_value s{PROGCAP_TYPE_STRING, 0, {}};
  s.v.str = progcap::sdk::to_abi(text);
  EXPECT_TRUE(static_cast<progcap::plugins::filter::FilterTransform*>(make(h, "contains", "o w")->self)->keep(s));
  progcap_value null{PROGCAP_TYPE_NULL, 0, {}};
  EXPECT_FALSE(f->keep(null));
  // contains works on the text form of any type
  EXPECT_TRUE(static_cast<progcap::plugins::filter::FilterTransform*>(make(h, "contains", "2023-12-31T23:59:59.999999Z")->self)->keep(ts));
  EXPECT_TRUE(static_cast<progcap::plugins::filter::FilterTransform*>(make(h, "contains", "23")->self)->keep(ival(1234)));
  // int64 equality is exact beyond 2^53
  EXPECT_FALSE(static_cast<progcap::plugins::filter::FilterTransform*>(make(h, "eq", "9007199254740993")->self)->keep(ival(9007199254740992)));
}

TEST(FilterTest, NeedsAValueExceptForNullChecks) {
  FakeHost h;
  progcap_error err;
  auto* bad = h.create(progcap_plugin_entry(h.api()), "filter", {{"field", FakeHost::str("n")}, {"op", FakeHost::str("eq")}}, &err);
  EXPECT_EQ(bad, nullptr);
  EXPECT_EQ(err.code, PROGCAP_ERR_CONFIG);
  EXPECT_NE(err.message.find("op 'eq' needs a 'value'"), std::string::npos);
  EXPECT_NE(h.create(progcap_plugin_entry(h.api()), "filter", {{"field", FakeHost::str("n")}, {"op", FakeHost::str("is_null")}}), nullptr);
}

}  // namespace
