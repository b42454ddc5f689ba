#include <progcap/core/text.hpp>
#include <progcap/sdk/codec.hpp>
#include <progcap/sdk/options.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace progcap;

TEST(TextTest, DidYouMean) {
  EXPECT_EQ(core::text::closest("recrods", {"records", "seed", "resume"}), "records");
  EXPECT_EQ(core::text::closest("zzzzzz", {"records", "seed"}), "");
  EXPECT_EQ(core::text::did_you_mean("stesp", {"steps", "name"}), " (did you mean 'steps'?)");
}

TEST(TextTest, Durations) {
  long long ms = 0;
  ASSERT_TRUE(core::text::parse_duration_ms("250ms", ms));
  EXPECT_EQ(ms, 250);
  ASSERT_TRUE(core::text::parse_duration_ms("30s", ms));
  EXPECT_EQ(ms, 30000);
  ASSERT_TRUE(core::text::parse_duration_ms("2h", ms));
  EXPECT_EQ(ms, 7200000);
  ASSERT_TRUE(core::text::parse_duration_ms("1500", ms));
  EXPECT_EQ(ms, 1500);
  EXPECT_FALSE(core::text::parse_duration_ms("soon", ms));
  EXPECT_FALSE(core::text::parse_duration_ms("5 parsecs", ms));
  EXPECT_EQ(core::text::human_duration(61000), "1m01s");
}

TEST(CodecTest, Rfc3339RoundTrip) {
  EXPECT_EQ(sdk::format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(sdk::format_rfc3339(1704067200LL * 1000000), "2024-01-01T00:00:00Z");
  EXPECT_EQ(sdk::format_rfc3339(1704067200LL * 1000000 + 123000), "2024-01-01T00:00:00.123Z");
  EXPECT_EQ(sdk::format_rfc3339(1704067200LL * 1000000 + 123456), "2024-01-01T00:00:00.123456Z");
  EXPECT_EQ(sdk::format_rfc3339(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(sdk::parse_rfc3339("2024-02-29T23:59:59Z").value(), (1709251199LL) * 1000000);
  EXPECT_EQ(sdk::parse_rfc3339("2024-01-01T02:00:00+02:00").value(), 1704067200LL * 1000000);
  EXPECT_EQ(sdk::parse_rfc3339("2024-01-01T00:00:00.5Z").value(), 1704067200LL * 1000000 + 500000);
  EXPECT_EQ(sdk::parse_rfc3339("2024-01-01").value(), 1704067200LL * 1000000);
  EXPECT_FALSE(sdk::parse_rfc3339("2024-13-01T00:00:00Z").has_value());
  EXPECT_FALSE(sdk::parse_rfc3339("2024-01-01T00:00:00").has_value());  // no zone
  EXPECT_FALSE(sdk::parse_rfc3339("yesterday").has_value());
  for (int64_t t : {int64_t{0}, int64_t{951782400000000}, int64_t{4102444799999999}, int64_t{-86400000000}}) {
    EXPECT_EQ(sdk::parse_rfc3339(sdk::format_rfc3339(t)).value(), t) << t;
  }
}

TEST(CodecTest, JsonValuesAreExact) {
  auto render = [](progcap_value v) {
    std::string s;
    sdk::append_json_value(s, v);
    return s;
  };
  progcap_value v{PROGCAP_TYPE_INT64, 0, {}};
  v.v.i64 = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(render(v), "9223372036854775807");
  v.v.i64 = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(render(v), "-9223372036854775808");
  v = progcap_value{PROGCAP_TYPE_DOUBLE, 0, {}};
  v.v.f64 = 0.1;
  EXPECT_EQ(render(v), "0.1");
  v.v.f64 = std::nan("");
  EXPECT_EQ(render(v), "null");
  std::string text = "a\"b\\c\n\x01\xe2\x80\xa8 \xf0\x9f\x98\x80";
  v = progcap_value{PROGCAP_TYPE_STRING, 0, {}};
  v.v.str = sdk::to_abi(text);
  EXPECT_EQ(render(v), "\"a\\\"b\\\\c\\n\\u0001\xe2\x80\xa8 \xf0\x9f\x98\x80\"");
  v = progcap_value{PROGCAP_TYPE_TIMESTAMP, 0, {}};
  v.v.i64 = 1704067200LL * 1000000;
  EXPECT_EQ(render(v), "\"2024-01-01T00:00:00Z\"");
}

TEST(SdkOptionsTest, ListOptionsParseTheHostsJson) {
  const auto opt = sdk::option<std::vector<std::string>>("prs");
  std::string json = R"(["12","a\"b","\u00e9x"])";
  progcap_str name = sdk::to_abi("prs");
  progcap_value val{PROGCAP_TYPE_JSON, 0, {}};
  val.v.str = sdk::to_abi(json);
  progcap_config cfg{sizeof(progcap_config), 1, &name, &val};
  auto v = sdk::Config(&cfg).get(opt);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], "12");
  EXPECT_EQ(v[1], "a\"b");
  EXPECT_EQ(v[2], "\xc3\xa9x");
}
