// sink-postgres through the C ABI with the SDK's FakeHost, against a real
// PostgreSQL (ctest's `postgres` fixture): one throwaway database per test.
#include "../src/postgres_sink.hpp"

#include "../../github-common/tests/capture_rows.hpp"

#include <progcap/github/records.hpp>
#include <progcap/sdk/plugin.hpp>
#include <progcap/sdk/testing/fake_host.hpp>

#include <postgres.hpp>

#include <gtest/gtest.h>

PROGCAP_DECLARE_PLUGIN("sink-postgres", "test", "under test", progcap::plugins::postgres::PostgresSink)

namespace {

using progcap::sdk::testing::FakeHost;
using progcap::sdk::testing::OwnedRow;
using progcap::sdk::testing::OwnedValue;
using progcap::testing::TestDatabase;
namespace github = progcap::github;

// Rows of the capture streams (shared with the other sink's tests).
using progcap::github::testing::I;
using progcap::github::testing::S;
using progcap::github::testing::N;
using progcap::github::testing::repo;
using progcap::github::testing::user;
using progcap::github::testing::pr;
using progcap::github::testing::review;

class PostgresSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    desc_ = progcap_plugin_entry(host_.api());
    ASSERT_NE(desc_, nullptr);
  }

  FakeHost::Instance* make(const std::string& dsn, progcap_error* err = nullptr) {
    return host_.create(desc_, "postgres",
                        {{"dsn", S(dsn)},
                         {"schema", S("public")},
                         {"connect_timeout_s", I(5)},
                         {"statement_timeout_s", I(60)},
                         {"application_name", S("progcap-test")}},
                        err);
  }

  /// Writes the parents every test needs: the repository and users 1..3.
  void seed(FakeHost::Instance* sink) {
    ASSERT_EQ(host_.write(sink, github::repositories_stream().abi(), {repo(1, "acme/widgets")}), PROGCAP_OK);
    ASSERT_EQ(host_.write(sink, github::contributors_stream().abi(), {user(1, "alice"), user(2, "bob"), user(3, "carol")}),
              PROGCAP_OK);
  }

  FakeHost host_;
  const progcap_plugin_descriptor* desc_ = nullptr;
};

TEST_F(PostgresSinkTest, WritesResolvesForeignKeysAndSkipsUnchangedRows) {
  TestDatabase db;
  auto* sink = make(db.dsn());
  ASSERT_NE(sink, nullptr) << host_.last_error.message;
  seed(sink);
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "first", 1), pr(101, 2, "second", 2)}),
            PROGCAP_OK);
  ASSERT_EQ(host_.write(sink, github::reviews_stream().abi(), {review(500, 100, 2, "APPROVED"), review(501, 101, 3, "COMMENTED")}),
            PROGCAP_OK);
  EXPECT_TRUE(host_.rejected.empty());

  auto prs = db.query(
      "SELECT p.github_id, p.title, p.additions, c.username AS author, r.full_name AS repo, p.repository_github_id "
      "FROM pull_requests p JOIN contributors c ON c.id = p.author_id JOIN repositories r ON r.id = p.repository_id "
      "ORDER BY p.github_id");
  ASSERT_EQ(prs.size(), 2u);
  EXPECT_EQ(prs[0]["author"], "alice");
  EXPECT_EQ(prs[0]["repo"], "acme/widgets");
  EXPECT_EQ(prs[0]["additions"], 10);
  EXPECT_EQ(prs[1]["author"], "bob");
  auto reviews = db.query(
      "SELECT rv.github_id, rv.state, c.username, p.github_id AS pr FROM reviews rv JOIN contributors c ON c.id = rv.author_id "
      "JOIN pull_requests p ON p.id = rv.pull_request_id ORDER BY rv.github_id");
  ASSERT_EQ(reviews.size(), 2u);
  EXPECT_EQ(reviews[0]["pr"], 100);
  EXPECT_EQ(reviews[0]["username"], "bob");
  EXPECT_EQ(host_.counters["postgres.pull_requests.inserted"], 2);

  // The same rows again: nothing is rewritten (xmin stays), nothing inserted.
  const std::string xmin_before = db.scalar("SELECT string_agg(xmin::text, ',' ORDER BY github_id) FROM pull_requests");
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "first", 1), pr(101, 2, "second", 2)}),
            PROGCAP_OK);
  EXPECT_EQ(db.scalar("SELECT string_agg(xmin::text, ',' ORDER BY github_id) FROM pull_requests"), xmin_before);
  EXPECT_EQ(host_.counters["postgres.pull_requests.unchanged"], 2);

  // A changed PR updates in place; unknown stats (NULL) keep the stored value.
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "first, renamed", 1, std::nullopt)}), PROGCAP_OK);
  auto after = db.query("SELECT title, additions FROM pull_requests WHERE github_id = 100");
  EXPECT_EQ(after[0]["title"], "first, renamed");
  EXPECT_EQ(after[0]["additions"], 10);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pull_requests"), "2");
}

TEST_F(PostgresSinkTest, DeduplicatesWithinABatchAndRejectsRowsWithoutParentsOrKeys) {
  TestDatabase db;
  auto* sink = make(db.dsn());
  ASSERT_NE(sink, nullptr) << host_.last_error.message;
  seed(sink);
  OwnedRow keyless = pr(0, 9, "no key", 1);
  keyless[0] = N();
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(),
                        {pr(100, 1, "old title", 1), keyless, pr(100, 1, "new title", 1), pr(102, 3, "by a stranger", 999)}),
            PROGCAP_OK);
  EXPECT_EQ(db.scalar("SELECT title FROM pull_requests WHERE github_id = 100"), "new title");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pull_requests"), "1");
  ASSERT_EQ(host_.rejected.size(), 2u);
  std::map<uint64_t, std::string> why(host_.rejected.begin(), host_.rejected.end());
  EXPECT_NE(why[1].find("missing key: github_id"), std::string::npos) << why[1];
  EXPECT_NE(why[3].find("missing_author"), std::string::npos) << why[3];
  EXPECT_EQ(host_.counters["postgres.pull_requests.duplicates"], 1);

  ASSERT_EQ(host_.write(sink, github::reviews_stream().abi(), {review(600, 4242, 1, "APPROVED")}), PROGCAP_OK);
  ASSERT_EQ(host_.rejected.size(), 3u);
  EXPECT_NE(host_.rejected.back().second.find("missing_pull_request"), std::string::npos) << host_.rejected.back().second;
}

TEST_F(PostgresSinkTest, AConstraintViolationDeadLettersOneRowWithTheDatabaseMessage) {
  TestDatabase db;
  db.exec("ALTER TABLE pull_requests ADD CONSTRAINT no_bad_titles CHECK (title <> 'BAD')");
  auto* sink = make(db.dsn());
  ASSERT_NE(sink, nullptr) << host_.last_error.message;
  seed(sink);
  std::vector<OwnedRow> rows;
  for (int i = 0; i < 50; ++i) rows.push_back(pr(1000 + i, 10 + i, i == 17 ? "BAD" : "fine " + std::to_string(i), 1));
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), rows), PROGCAP_OK);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pull_requests"), "49");
  ASSERT_EQ(host_.rejected.size(), 1u);
  EXPECT_EQ(host_.rejected[0].first, 17u);
  EXPECT_NE(host_.rejected[0].second.find("violates check constraint \"no_bad_titles\""), std::string::npos)
      << host_.rejected[0].second;
  EXPECT_NE(host_.rejected[0].second.find("SQLSTATE 23514"), std::string::npos);
  EXPECT_GT(host_.counters["postgres.bisections"], 0);
}

TEST_F(PostgresSinkTest, HostileStringsRoundTripByteForByte) {
  TestDatabase db;
  auto* sink = make(db.dsn());
  ASSERT_NE(sink, nullptr) << host_.last_error.message;
  seed(sink);
  const std::vector<std::string> titles = {
      "'); DROP TABLE pull_requests; --", "back\\slash \\N \\.", "tab\tnew\nline\rcr", "quote \" and '' and $$dollar$$",
      "émoji 🚀 ñ 中文", "\\.\n\\.", std::string(100000, 'x'), "%s %n {}"};
  std::vector<OwnedRow> rows;
  for (size_t i = 0; i < titles.size(); ++i) rows.push_back(pr(2000 + static_cast<int64_t>(i), 100 + static_cast<int64_t>(i), titles[i], 1));
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), rows), PROGCAP_OK);
  EXPECT_TRUE(host_.rejected.empty());
  auto got = db.query("SELECT title FROM pull_requests ORDER BY github_id");
  ASSERT_EQ(got.size(), titles.size());
  for (size_t i = 0; i < titles.size(); ++i) EXPECT_EQ(got[i]["title"].get<std::string>(), titles[i]) << i;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'pull_requests'"), "1");

  // A NUL byte cannot be stored in PostgreSQL text: that row alone is refused.
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(),
                        {pr(3000, 300, std::string("nul\0byte", 8), 1), pr(3001, 301, "fine", 1)}),
            PROGCAP_OK);
  ASSERT_EQ(host_.rejected.size(), 1u);
  EXPECT_EQ(host_.rejected[0].first, 0u);
  EXPECT_EQ(db.scalar("SELECT title FROM pull_requests WHERE github_id = 3001"), "fine");
}

TEST_F(PostgresSinkTest, AKilledConnectionIsRetriedAndReconnects) {
  TestDatabase db;
  auto* sink = make(db.dsn());
  ASSERT_NE(sink, nullptr) << host_.last_error.message;
  seed(sink);
  const std::string kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'progcap-test' "
                           "AND datname = '" + db.name() + "'";
  // Killed while idle before a new stream: the schema check reconnects.
  db.exec(kill);
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "before kill", 1)}), PROGCAP_OK)
      << host_.last_error.message;
  // Killed between batches: the write asks for a retry, the redelivery reconnects.
  db.exec(kill);
  const auto s = host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "after kill", 1)});
  EXPECT_EQ(s, PROGCAP_RETRY) << host_.last_error.message;
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "after kill", 1)}), PROGCAP_OK)
      << host_.last_error.message;
  EXPECT_EQ(db.scalar("SELECT title FROM pull_requests WHERE github_id = 100"), "after kill");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pull_requests"), "1");
}

TEST_F(PostgresSinkTest, RefusesAnUnmigratedDatabaseAndMissingColumnsBeforeWriting) {
  {
    TestDatabase bare(false);
    auto* sink = make(bare.dsn());
    ASSERT_NE(sink, nullptr) << host_.last_error.message;
    EXPECT_EQ(host_.write(sink, github::repositories_stream().abi(), {repo(1, "acme/widgets")}), PROGCAP_ERR_CONFIG);
    EXPECT_NE(host_.last_error.message.find("run `progcap db migrate`"), std::string::npos) << host_.last_error.message;
  }
  TestDatabase db;
  db.exec("ALTER TABLE pull_requests DROP COLUMN head_branch");
  db.exec("ALTER TABLE pull_requests ALTER COLUMN additions TYPE text");
  FakeHost host2;
  auto* sink = host2.create(desc_, "postgres", {{"dsn", S(db.dsn())}, {"schema", S("public")}, {"connect_timeout_s", I(5)},
                                                {"statement_timeout_s", I(60)}, {"application_name", S("progcap-test")}});
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(host2.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "x", 1)}), PROGCAP_ERR_CONFIG);
  const std::string& m = host2.last_error.message;
  EXPECT_NE(m.find("table pull_requests has no column head_branch"), std::string::npos) << m;
  EXPECT_NE(m.find("column pull_requests.additions is text, progcap writes int values into it"), std::string::npos) << m;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pull_requests"), "0");
}

TEST_F(PostgresSinkTest, BadTargetsFailWithClearErrors) {
  TestDatabase db;
  // Read-only database.
  db.exec("ALTER DATABASE " + db.name() + " SET default_transaction_read_only = on");
  progcap_error err;
  EXPECT_EQ(make(db.dsn(), &err), nullptr);
  EXPECT_EQ(err.code, PROGCAP_ERR_CONFIG);
  EXPECT_NE(err.message.find("read-only"), std::string::npos) << err.message;
  // Unreachable server (nothing listens on port 1).
  progcap_error err2;
  EXPECT_EQ(make("host=127.0.0.1 port=1 user=postgres dbname=x", &err2), nullptr);
  EXPECT_EQ(err2.code, PROGCAP_ERR_IO);
  EXPECT_NE(err2.message.find("cannot connect"), std::string::npos) << err2.message;
  // Wrong password (the fixture's progcap_pw role authenticates with SCRAM).
  progcap_error err3;
  std::string dsn = db.dsn();
  dsn.replace(dsn.find("user=postgres"), 13, "user=progcap_pw password=wrong-password");
  EXPECT_EQ(make(dsn, &err3), nullptr);
  EXPECT_EQ(err3.code, PROGCAP_ERR_AUTH);
  EXPECT_NE(err3.message.find("password authentication failed"), std::string::npos) << err3.message;
  EXPECT_EQ(err3.message.find("wrong-password"), std::string::npos) << "the password must not be echoed";
  // A DSN that does not parse.
  progcap_error err4;
  EXPECT_EQ(make("not a dsn", &err4), nullptr);
  EXPECT_EQ(err4.code, PROGCAP_ERR_CONFIG);
}

TEST(PostgresSinkDsn, TlsAndTimeoutOptionsAreAppendedInTheDsnsOwnForm) {
  using progcap::plugins::postgres::PostgresSink;
  EXPECT_EQ(PostgresSink::compose_dsn("postgresql://u:p@db.example.com:5432/postgres", {{"sslmode", "verify-full"},
                                                                                        {"sslrootcert", "/etc/ca b.pem"}}),
            "postgresql://u:p@db.example.com:5432/postgres?sslmode=verify-full&sslrootcert=/etc/ca%20b.pem");
  EXPECT_EQ(PostgresSink::compose_dsn("postgres://h/db?application_name=x", {{"connect_timeout", "5"}}),
            "postgres://h/db?application_name=x&connect_timeout=5");
  EXPECT_EQ(PostgresSink::compose_dsn("host=h dbname=d", {{"sslkey", "/k'ey"}}), "host=h dbname=d sslkey='/k\\'ey'");
}

}  // namespace
