// The contributor.info model: stream bindings, row preparation, encodings,
// merge-result parsing and schema checks (no database needed).
#include <progcap/cinfo/model.hpp>
#include <progcap/github/records.hpp>
#include <progcap/sdk/testing/fake_host.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

namespace {

using progcap::cinfo::Binding;
using progcap::sdk::Type;
using progcap::sdk::testing::FakeHost;
using progcap::sdk::testing::OwnedRow;
using progcap::sdk::testing::OwnedValue;
namespace github = progcap::github;

/// A batch view over owned rows (what the host hands a sink).
// Owns its rows: the values' strings point into them (ASan caught views into the
// caller's temporaries), so a TestBatch is neither copied nor moved.
struct TestBatch {
  TestBatch(const progcap_schema* schema, std::vector<OwnedRow> rows) : owned(std::move(rows)) {
    for (const auto& r : owned) {
      for (const auto& v : r) vals.push_back(v.view());
    }
    batch = progcap_batch{sizeof(progcap_batch), PROGCAP_BATCH_FORMAT_ROWS, schema, owned.size(), schema->field_count, 0,
                          vals.data(), 1, nullptr};
  }
  TestBatch(const TestBatch&) = delete;
  TestBatch& operator=(const TestBatch&) = delete;
  [[nodiscard]] progcap::sdk::BatchView view() const { return progcap::sdk::BatchView(batch); }
  std::vector<OwnedRow> owned;
  std::vector<progcap_value> vals;
  progcap_batch batch{};
};

const progcap::sdk::Stream& contributors_like() {
  static const progcap::sdk::Stream s = [] {
    progcap::sdk::Stream st("contributors");
    st.field("github_id", Type::Int64, progcap::sdk::kPrimaryKey | progcap::sdk::kNullable)
        .field("username", Type::String)
        .field("display_name", Type::String)
        .field("extra", Type::String);
    return st;
  }();
  return s;
}

TEST(CinfoModel, EveryCaptureStreamBindsToItsTable) {
  const std::vector<const progcap::sdk::Stream*> streams = {
      &github::repositories_stream(), &github::contributors_stream(), &github::pull_requests_stream(),
      &github::pull_request_files_stream(), &github::reviews_stream(), &github::comments_stream()};
  ASSERT_EQ(streams.size(), progcap::cinfo::tables().size());
  for (const auto* s : streams) {
    const auto* t = progcap::cinfo::find_table(s->name());
    ASSERT_NE(t, nullptr) << s->name();
    Binding b(*t, *s->abi());
    // Every staging column the streams can fill is filled; the ones a stream
    // cannot know are listed here on purpose.
    static const std::set<std::string> not_in_streams = {
        "reviews.repository_github_id", "comments.repository_github_id", "pull_request_files.repository_github_id"};
    for (const auto& c : b.cols()) {
      const std::string id = std::string(t->name) + "." + std::string(c.stage->name);
      EXPECT_EQ(c.field < 0, not_in_streams.count(id) == 1) << id;
    }
    EXPECT_EQ(b.key_fields().size(), t->key.size());
  }
  EXPECT_EQ(progcap::cinfo::find_table("issues"), nullptr);
}

TEST(CinfoModel, BindingRefusesIncompatibleStreams) {
  progcap::sdk::Stream wrong("pull_requests");
  wrong.field("github_id", Type::String, progcap::sdk::kPrimaryKey);
  EXPECT_THROW(Binding(*progcap::cinfo::find_table("pull_requests"), *wrong.abi()), progcap::sdk::ConfigError);
  progcap::sdk::Stream keyless("reviews");
  keyless.field("state", Type::String);
  try {
    Binding(*progcap::cinfo::find_table("reviews"), *keyless.abi());
    FAIL() << "a stream without the key must be refused";
  } catch (const progcap::sdk::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("lacks key field 'github_id'"), std::string::npos) << e.what();
  }
}

TEST(CinfoModel, PrepareRowsDeduplicatesLastWinsAndSetsAsideBadRows) {
  const auto& s = contributors_like();
  Binding b(*progcap::cinfo::find_table("contributors"), *s.abi());
  EXPECT_EQ(b.ignored(), std::vector<std::string>{"extra"});
  std::vector<OwnedRow> rows = {
      {FakeHost::integer(1), FakeHost::str("a"), FakeHost::null(), FakeHost::null()},
      {FakeHost::integer(2), FakeHost::str("b"), FakeHost::null(), FakeHost::null()},
      {FakeHost::null(), FakeHost::str("nokey"), FakeHost::null(), FakeHost::null()},
      {FakeHost::integer(1), FakeHost::str("a2"), FakeHost::null(), FakeHost::null()},
      {FakeHost::integer(3), FakeHost::str("c"), FakeHost::null(), FakeHost::null()},
      {FakeHost::integer(1), FakeHost::str("a3"), FakeHost::null(), FakeHost::null()},
  };
  TestBatch tb(s.abi(), rows);
  auto p = progcap::cinfo::prepare_rows(b, tb.view());
  EXPECT_EQ(p.rows, (std::vector<uint64_t>{1, 4, 5}));  // 1 survives as its last occurrence (row 5)
  EXPECT_EQ(p.duplicates, 2u);
  ASSERT_EQ(p.rejected.size(), 1u);
  EXPECT_EQ(p.rejected[0].first, 2u);
  EXPECT_NE(p.rejected[0].second.find("missing key: github_id"), std::string::npos);
}

TEST(CinfoModel, PrepareRowsRejectsIntegersOutOfRange) {
  const auto& s = github::pull_request_files_stream();
  Binding b(*progcap::cinfo::find_table("pull_request_files"), *s.abi());
  auto row = [](int64_t additions, const char* name) {
    return OwnedRow{FakeHost::integer(9), FakeHost::str(name), FakeHost::str("o/r"), FakeHost::integer(1), FakeHost::str("added"),
                    FakeHost::integer(additions), FakeHost::integer(0), FakeHost::integer(0), FakeHost::null(), FakeHost::null()};
  };
  TestBatch tb(s.abi(), {row(5, "a"), row(int64_t{1} << 40, "b"), row(2147483647, "c")});
  auto p = progcap::cinfo::prepare_rows(b, tb.view());
  EXPECT_EQ(p.rows, (std::vector<uint64_t>{0, 2}));
  ASSERT_EQ(p.rejected.size(), 1u);
  EXPECT_EQ(p.rejected[0].second, "value 1099511627776 of additions is out of range for type integer");
}

TEST(CinfoModel, CopyCellsAndJsonObjectsCarryThePresenceRule) {
  const auto& s = github::contributors_stream();  // github_id, username, display_name, avatar_url, profile_url, is_bot
  Binding b(*progcap::cinfo::find_table("contributors"), *s.abi());
  OwnedRow r = {FakeHost::integer(42), FakeHost::str("tab\there"), FakeHost::null(), FakeHost::str("https://a/x"), FakeHost::null(),
                FakeHost::boolean(false)};
  std::vector<progcap_value> v;
  for (const auto& x : r) v.push_back(x.view());
  std::vector<progcap::cinfo::CopyCell> cells(2 + b.cols().size());
  progcap::cinfo::fill_copy_cells(cells.data(), b, v.data(), 7);
  EXPECT_EQ(cells[0].text, "7");
  EXPECT_FALSE(cells[1].null);
  EXPECT_EQ(cells[1].text, "{display_name,profile_url}");
  EXPECT_EQ(cells[2].text, "42");
  EXPECT_EQ(cells[3].text, "tab\there");  // libpqxx escapes it for COPY
  EXPECT_TRUE(cells[4].null);
  EXPECT_EQ(cells[7].text, "f");
  std::string json;
  progcap::cinfo::append_json_object(json, b, v.data());
  EXPECT_EQ(nlohmann::json::parse(json),
            nlohmann::json::parse(R"({"github_id":42,"username":"tab\there","avatar_url":"https://a/x","is_bot":false})"));

  // Non-presence columns write their NULLs; timestamps are RFC 3339 UTC.
  const auto& ps = github::reviews_stream();
  Binding rb(*progcap::cinfo::find_table("reviews"), *ps.abi());
  OwnedRow rv = {FakeHost::integer(5), FakeHost::integer(6), FakeHost::integer(1), FakeHost::str("o/r"), FakeHost::null(),
                 FakeHost::str("APPROVED"), FakeHost::null(), FakeHost::timestamp(1704067200123456LL), FakeHost::null(),
                 FakeHost::null()};
  std::vector<progcap_value> rvv;
  for (const auto& x : rv) rvv.push_back(x.view());
  std::string rj;
  progcap::cinfo::append_json_object(rj, rb, rvv.data());
  EXPECT_EQ(nlohmann::json::parse(rj), nlohmann::json::parse(R"({"github_id":5,"pull_request_github_id":6,
    "repository_full_name":"o/r","author_github_id":null,"state":"APPROVED","body":null,
    "submitted_at":"2024-01-01T00:00:00.123456Z","commit_id":null})"));
  std::vector<progcap::cinfo::CopyCell> rc(2 + rb.cols().size());
  progcap::cinfo::fill_copy_cells(rc.data(), rb, rvv.data(), 1);
  EXPECT_TRUE(rc[1].null);  // reviews have no presence-rule columns
  EXPECT_EQ(progcap::cinfo::copy_columns(rb.table()).size(), rc.size());
}

TEST(CinfoModel, ParsesMergeResults) {
  auto r = progcap::cinfo::parse_merge_result(R"({"table":"contributors","received":3,"accepted":2,"duplicates":0,
    "inserted":1,"updated":1,"unchanged":0,"replies_linked":2,
    "rejected":[{"index":3,"key":{"github_id":9},"reason":"missing_field","detail":"username"}],
    "warnings":[{"index":1,"key":{"github_id":1},"reason":"username_conflict_in_call","detail":"x"}],
    "renamed":[{"github_id":11,"from":"octocat","to":"octocat__renamed_11"}]})");
  EXPECT_EQ(r.inserted, 1);
  EXPECT_EQ(r.updated, 1);
  EXPECT_EQ(r.replies_linked, 2);
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0].first, 3);
  EXPECT_EQ(r.rejected[0].second, "missing_field: username");
  EXPECT_EQ(r.warnings, std::vector<std::string>{"username_conflict_in_call: x"});
  EXPECT_EQ(r.renamed, std::vector<std::string>{"octocat -> octocat__renamed_11 (github_id 11)"});
  // A chunk's 1-based indexes become batch rows; counters add up over chunks; renames are returned.
  progcap::cinfo::WriteTally tally;
  const std::vector<uint64_t> batch_rows = {10, 11, 12, 13, 14};
  EXPECT_EQ(tally.add(r, batch_rows, 1, 3), r.renamed);  // chunk = batch rows 11, 12, 13: index 3 -> 13
  r.rejected = {{9, "out of the chunk: ignored"}};
  (void)tally.add(r, batch_rows, 0, 2);
  ASSERT_EQ(tally.rejected.size(), 1u);
  EXPECT_EQ(tally.rejected[0], (std::pair<uint64_t, std::string>{13, "missing_field: username"}));
  EXPECT_EQ(tally.total.updated, 2 * r.updated);
  EXPECT_EQ(tally.total.replies_linked, 4);
  EXPECT_EQ(tally.warnings.size(), 2u);
  EXPECT_THROW((void)progcap::cinfo::parse_merge_result("not json"), progcap::sdk::FatalError);
  EXPECT_THROW((void)progcap::cinfo::parse_merge_result(R"({"ok":true})"), progcap::sdk::FatalError);
}

TEST(CinfoModel, TargetChecksNameMissingTablesColumnsAndTypes) {
  const auto& t = *progcap::cinfo::find_table("contributors");
  std::vector<progcap::cinfo::DescribedColumn> cols;
  EXPECT_EQ(progcap::cinfo::check_target(t, cols),
            std::vector<std::string>{"table contributors does not exist (run `progcap db migrate`)"});
  for (const auto& c : t.target) {
    std::string type = c.family == "uuid" ? "uuid" : c.family == "int" ? "bigint" : c.family == "bool" ? "boolean"
                     : c.family == "time" ? "timestamp with time zone" : "character varying(255)";
    cols.push_back({"contributors", std::string(c.name), type, false});
  }
  EXPECT_TRUE(progcap::cinfo::check_target(t, cols).empty());
  cols.erase(cols.begin() + 2);  // username
  cols[0].data_type = "text";    // id
  auto p = progcap::cinfo::check_target(t, cols);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], "column contributors.id is text, progcap writes uuid values into it");
  EXPECT_EQ(p[1], "table contributors has no column username (run `progcap db migrate`)");
  // Tables a stream's foreign keys point at must exist too.
  const auto& prs = *progcap::cinfo::find_table("pull_requests");
  std::vector<progcap::cinfo::DescribedColumn> pr_cols = {{"contributors", "id", "uuid", true}};
  for (const auto& c : prs.target) pr_cols.push_back({"pull_requests", std::string(c.name), c.family == "uuid" ? "uuid" : "text", false});
  auto missing = progcap::cinfo::check_target(prs, pr_cols);
  ASSERT_FALSE(missing.empty());
  EXPECT_EQ(missing.back(), "table repositories (referenced by pull_requests) does not exist");
  try {
    progcap::cinfo::require_target("postgres", prs, pr_cols);
    ADD_FAILURE() << "require_target must throw";
  } catch (const progcap::sdk::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("postgres: cannot write stream pull_requests:\n  - "), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)progcap::cinfo::table_for_stream("postgres", "no_such_stream"), progcap::sdk::ConfigError);
  EXPECT_EQ(progcap::cinfo::table_for_stream("postgres", "comments").name, "comments");
  EXPECT_EQ(progcap::cinfo::type_family("text[]"), "array");
  EXPECT_EQ(progcap::cinfo::type_family("timestamp without time zone"), "time");
  EXPECT_EQ(progcap::cinfo::type_family("point"), "");
}

}  // namespace
