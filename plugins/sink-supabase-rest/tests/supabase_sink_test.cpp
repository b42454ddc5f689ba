// sink-supabase-rest through the C ABI with the SDK's FakeHost. The host's
// HTTP goes to a real PostgREST-protocol server (tests/fake-postgrest) over a
// real PostgreSQL database (ctest's `postgres` fixture).
#include "../src/supabase_sink.hpp"

#include "../../github-common/tests/capture_rows.hpp"

#include <progcap/github/records.hpp>
#include <progcap/sdk/plugin.hpp>
#include <progcap/sdk/testing/fake_host.hpp>

#include <postgres.hpp>
#include <services.hpp>

#include <gtest/gtest.h>

PROGCAP_DECLARE_PLUGIN("sink-supabase-rest", "test", "under test", progcap::plugins::supabase::SupabaseSink)

namespace {

using progcap::plugins::supabase::ApiError;
using progcap::plugins::supabase::classify;
using progcap::plugins::supabase::parse_api_error;
using progcap::plugins::supabase::SupabaseSink;
using progcap::plugins::supabase::Verdict;
using progcap::sdk::testing::FakeHost;
using progcap::sdk::testing::OwnedRow;
using progcap::sdk::testing::OwnedValue;
using progcap::testing::FakePostgrest;
using progcap::testing::TestDatabase;
namespace github = progcap::github;

// Rows of the capture streams (shared with the other sink's tests).
using progcap::github::testing::I;
using progcap::github::testing::S;
using progcap::github::testing::repo;
using progcap::github::testing::user;
using progcap::github::testing::pr;

/// Routes the FakeHost's HTTP to a real server (the fake PostgREST).
void route_http(FakeHost& host) {
  host.http_handler = [](const progcap::sdk::HttpRequest& req) {
    progcap::sdk::HttpResponse resp;
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& h : req.headers) {
      if (h.name != "Content-Type" && h.name != "Accept") headers.emplace_back(h.name, h.value);
    }
    try {
      auto r = progcap::testing::http_call(req.method, req.url, req.body, headers);
      resp.status = r.status;
      resp.body = r.body;
      for (auto& [k, v] : r.headers) resp.headers.push_back({k, v});
      if (r.status == 0) resp.error = "connection closed without a response";
    } catch (const std::exception& e) {
      resp.error = e.what();
    }
    return resp;
  };
}

class SupabaseSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    desc_ = progcap_plugin_entry(host_.api());
    ASSERT_NE(desc_, nullptr);
    route_http(host_);
  }
  FakeHost::Instance* make(const std::string& url, const std::string& key, int64_t max_rows = 1000, int64_t max_bytes = 1000000,
                           progcap_error* err = nullptr) {
    return host_.create(desc_, "supabase-rest",
                        {{"url", S(url)},
                         {"service_key", S(key)},
                         {"schema", S("public")},
                         {"max_rows", I(max_rows)},
                         {"max_bytes", I(max_bytes)},
                         {"target_seconds", I(3)},
                         {"timeout_s", I(30)},
                         {"max_attempts", I(6)}},
                        err);
  }
  void seed(FakeHost::Instance* sink) {
    ASSERT_EQ(host_.write(sink, github::repositories_stream().abi(), {repo(1, "acme/widgets")}), PROGCAP_OK)
        << host_.last_error.message;
    ASSERT_EQ(host_.write(sink, github::contributors_stream().abi(), {user(1, "alice"), user(2, "bob")}), PROGCAP_OK)
        << host_.last_error.message;
  }
  FakeHost host_;
  const progcap_plugin_descriptor* desc_ = nullptr;
};

TEST(SupabaseProtocol, RestBaseNeedsASchemeAndAHost) {
  EXPECT_EQ(SupabaseSink::rest_base("https://abc.supabase.co/"), "https://abc.supabase.co/rest/v1");
  EXPECT_EQ(SupabaseSink::rest_base("http://127.0.0.1:54321/rest/v1"), "http://127.0.0.1:54321/rest/v1");
  try {
    (void)SupabaseSink::rest_base("abc.supabase.co");
    FAIL() << "a URL without scheme must be refused";
  } catch (const progcap::sdk::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("has no http(s):// scheme"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)SupabaseSink::rest_base("https:///rest/v1"), progcap::sdk::ConfigError);
}

TEST(SupabaseProtocol, ErrorsAreParsedAndClassified) {
  const ApiError e = parse_api_error(409, R"({"code":"23505","details":"Key (github_id)=(1) already exists.","hint":null,
    "message":"duplicate key value violates unique constraint \"x\""})");
  EXPECT_EQ(e.code, "23505");
  EXPECT_EQ(e.message, "23505: duplicate key value violates unique constraint \"x\" (Key (github_id)=(1) already exists.)");
  EXPECT_EQ(classify(e), Verdict::Reject);
  auto v = [](int status, const std::string& body) { return classify(parse_api_error(status, body)); };
  EXPECT_EQ(v(200, R"({"inserted":1})"), Verdict::Ok);
  EXPECT_EQ(v(200, "<html>hello</html>"), Verdict::Fatal);
  EXPECT_EQ(v(0, ""), Verdict::Retry);
  EXPECT_EQ(v(408, R"({"message":"Request Timeout"})"), Verdict::Retry);
  EXPECT_EQ(v(429, R"({"message":"API rate limit exceeded"})"), Verdict::Retry);
  EXPECT_EQ(v(503, R"({"code":"PGRST001","message":"Database client error. Retrying the connection."})"), Verdict::Retry);
  EXPECT_EQ(v(502, "<html>bad gateway</html>"), Verdict::Retry);
  EXPECT_EQ(v(500, R"({"code":"40001","message":"could not serialize access"})"), Verdict::Retry);
  EXPECT_EQ(v(500, R"({"code":"57014","message":"canceling statement due to statement timeout"})"), Verdict::Split);
  EXPECT_EQ(v(500, R"({"code":"21000","message":"ON CONFLICT DO UPDATE command cannot affect row a second time"})"),
            Verdict::Reject);
  EXPECT_EQ(v(413, R"({"message":"Request size limit exceeded"})"), Verdict::Split);
  EXPECT_EQ(v(401, R"({"message":"Invalid API key"})"), Verdict::Auth);
  EXPECT_EQ(v(403, R"({"code":"42501","message":"permission denied for function x"})"), Verdict::Auth);
  EXPECT_EQ(v(404, R"({"code":"PGRST202","message":"Could not find the function"})"), Verdict::Config);
  EXPECT_EQ(v(404, "<html>not found</html>"), Verdict::Config);
  EXPECT_EQ(v(400, R"({"code":"22007","message":"invalid input syntax for type timestamp"})"), Verdict::Reject);
  EXPECT_EQ(v(400, R"({"code":"42703","message":"column x does not exist"})"), Verdict::Config);
  EXPECT_EQ(v(405, R"({"code":"PGRST101","message":"x"})"), Verdict::Fatal);
}

TEST_F(SupabaseSinkTest, UpsertsThroughRpcAndSkipsUnchangedRows) {
  TestDatabase db;
  FakePostgrest api(db.dsn());
  auto* sink = make(api.url(), api.service_key());
  ASSERT_NE(sink, nullptr) << host_.last_error.message;
  seed(sink);
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "first", 1), pr(101, 2, "second", 2)}), PROGCAP_OK)
      << host_.last_error.message;
  auto prs = db.query(
      "SELECT p.github_id, c.username AS author, r.full_name AS repo FROM pull_requests p JOIN contributors c ON c.id = "
      "p.author_id JOIN repositories r ON r.id = p.repository_id ORDER BY p.github_id");
  ASSERT_EQ(prs.size(), 2u);
  EXPECT_EQ(prs[1]["author"], "bob");
  EXPECT_EQ(prs[0]["repo"], "acme/widgets");
  // The requests are PostgREST RPC calls with the service key in both headers.
  const auto& last = host_.http_log.back();
  EXPECT_EQ(last.method, "POST");
  EXPECT_EQ(last.url, api.url() + "/rest/v1/rpc/progcap_upsert_pull_requests");
  bool apikey = false;
  bool bearer = false;
  for (const auto& h : last.headers) {
    apikey = apikey || (h.name == "apikey" && h.value == api.service_key());
    bearer = bearer || (h.name == "Authorization" && h.value == "Bearer " + api.service_key());
  }
  EXPECT_TRUE(apikey && bearer);
  const std::string xmin = db.scalar("SELECT string_agg(xmin::text, ',' ORDER BY github_id) FROM pull_requests");
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "first", 1), pr(101, 2, "second", 2)}), PROGCAP_OK);
  EXPECT_EQ(db.scalar("SELECT string_agg(xmin::text, ',' ORDER BY github_id) FROM pull_requests"), xmin);
  EXPECT_EQ(host_.counters["supabase.pull_requests.unchanged"], 2);
}

TEST_F(SupabaseSinkTest, ChunksByRowsAndBytesAndSplitsOn413) {
  TestDatabase db;
  FakePostgrest api(db.dsn(), {"--max-body-bytes", "6000"});
  auto* sink = make(api.url(), api.service_key(), 7, 1000000);
  ASSERT_NE(sink, nullptr) << host_.last_error.message;
  seed(sink);
  std::vector<OwnedRow> rows;
  for (int i = 0; i < 40; ++i) rows.push_back(pr(1000 + i, 10 + i, "title " + std::string(static_cast<size_t>(i) * 20, 'x'), 1));
  rows.push_back(pr(2000, 999, std::string(9000, 'y'), 1));  // alone larger than the gateway's limit
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), rows), PROGCAP_OK) << host_.last_error.message;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pull_requests"), "40");
  ASSERT_EQ(host_.rejected.size(), 1u);
  EXPECT_EQ(host_.rejected[0].first, 40u);
  EXPECT_NE(host_.rejected[0].second.find("exceeds the endpoint's request size limit"), std::string::npos);
  EXPECT_GT(host_.counters["supabase.splits"], 0);
  const auto stats = api.stats();
  EXPECT_GT(stats["by_status"].value("413", 0), 0);
  for (const auto& r : host_.http_log) EXPECT_LE(r.body.size(), 1000000u);
}

TEST_F(SupabaseSinkTest, TransientFaultsAreRetriedHonouringRetryAfter) {
  TestDatabase db;
  FakePostgrest api(db.dsn());
  auto* sink = make(api.url(), api.service_key());
  ASSERT_NE(sink, nullptr) << host_.last_error.message;
  seed(sink);
  api.faults(nlohmann::json::array({{{"kind", "status"}, {"status", 503}, {"count", 2}, {"retry_after", 7}, {"match", "progcap_upsert"}},
                                    {{"kind", "status"}, {"status", 429}, {"count", 1}, {"match", "progcap_upsert"}},
                                    {{"kind", "reset"}, {"count", 1}, {"match", "progcap_upsert"}}}));
  host_.waited_ms = 0;
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "survives faults", 1)}), PROGCAP_OK)
      << host_.last_error.message;
  EXPECT_EQ(db.scalar("SELECT title FROM pull_requests WHERE github_id = 100"), "survives faults");
  EXPECT_GE(host_.waited_ms, 14000u);  // two Retry-After: 7 waits
  EXPECT_EQ(host_.counters["supabase.retries"], 4);

  // A persistent 500 hands the batch back to the runtime (resumable), nothing half-written.
  api.faults({{"kind", "status"}, {"status", 500}, {"count", -1}, {"match", "progcap_upsert"}});
  EXPECT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(101, 2, "never", 1)}), PROGCAP_RETRY);
  EXPECT_NE(host_.last_error.message.find("after 6 attempts"), std::string::npos) << host_.last_error.message;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pull_requests"), "1");
}

TEST_F(SupabaseSinkTest, ADatabaseRefusalDeadLettersOnlyTheRowAtFault) {
  TestDatabase db;
  db.exec("ALTER TABLE pull_requests ADD CONSTRAINT no_bad_titles CHECK (title <> 'BAD')");
  FakePostgrest api(db.dsn());
  auto* sink = make(api.url(), api.service_key());
  ASSERT_NE(sink, nullptr) << host_.last_error.message;
  seed(sink);
  std::vector<OwnedRow> rows;
  for (int i = 0; i < 20; ++i) rows.push_back(pr(1000 + i, 10 + i, i == 13 ? "BAD" : "fine", 1));
  rows.push_back(pr(3000, 300, "tab\t'quote' \\back\\slash 🚀 \"); DROP TABLE pull_requests; --", 2));
  ASSERT_EQ(host_.write(sink, github::pull_requests_stream().abi(), rows), PROGCAP_OK) << host_.last_error.message;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pull_requests"), "20");
  ASSERT_EQ(host_.rejected.size(), 1u);
  EXPECT_EQ(host_.rejected[0].first, 13u);
  EXPECT_NE(host_.rejected[0].second.find("23514"), std::string::npos) << host_.rejected[0].second;
  EXPECT_NE(host_.rejected[0].second.find("no_bad_titles"), std::string::npos) << host_.rejected[0].second;
  EXPECT_EQ(db.scalar("SELECT title FROM pull_requests WHERE github_id = 3000"),
            "tab\t'quote' \\back\\slash 🚀 \"); DROP TABLE pull_requests; --");
}

TEST_F(SupabaseSinkTest, BadKeysUrlsAndDatabasesStopWithClearErrors) {
  TestDatabase db;
  FakePostgrest api(db.dsn());
  // Wrong service key: the gateway refuses it.
  auto* wrong = make(api.url(), "not-a-jwt");
  ASSERT_NE(wrong, nullptr);
  EXPECT_EQ(host_.write(wrong, github::repositories_stream().abi(), {repo(1, "acme/widgets")}), PROGCAP_ERR_AUTH);
  EXPECT_NE(host_.last_error.message.find("service key was refused"), std::string::npos) << host_.last_error.message;
  EXPECT_EQ(host_.last_error.message.find("not-a-jwt"), std::string::npos);
  // The anon key can read but not write.
  FakeHost h2;
  route_http(h2);
  auto* anon = h2.create(desc_, "supabase-rest", {{"url", S(api.url())}, {"service_key", S(api.anon_key())}, {"schema", S("public")},
                                                  {"max_rows", I(1000)}, {"max_bytes", I(1000000)}, {"target_seconds", I(3)},
                                                  {"timeout_s", I(30)}, {"max_attempts", I(2)}});
  ASSERT_NE(anon, nullptr);
  EXPECT_EQ(h2.write(anon, github::repositories_stream().abi(), {repo(1, "acme/widgets")}), PROGCAP_ERR_AUTH);
  EXPECT_NE(h2.last_error.message.find("permission denied"), std::string::npos) << h2.last_error.message;
  // A URL without scheme is a configuration error at creation.
  progcap_error err;
  EXPECT_EQ(make("abc.supabase.co", api.service_key(), 1000, 1000000, &err), nullptr);
  EXPECT_EQ(err.code, PROGCAP_ERR_CONFIG);
  EXPECT_NE(err.message.find("no http(s):// scheme"), std::string::npos);
  // An unmigrated database: the functions are missing.
  TestDatabase bare(false);
  FakePostgrest bare_api(bare.dsn());
  FakeHost h3;
  route_http(h3);
  auto* s3 = h3.create(desc_, "supabase-rest", {{"url", S(bare_api.url())}, {"service_key", S(bare_api.service_key())},
                                                {"schema", S("public")}, {"max_rows", I(1000)}, {"max_bytes", I(1000000)},
                                                {"target_seconds", I(3)}, {"timeout_s", I(30)}, {"max_attempts", I(2)}});
  ASSERT_NE(s3, nullptr);
  EXPECT_EQ(h3.write(s3, github::repositories_stream().abi(), {repo(1, "acme/widgets")}), PROGCAP_ERR_CONFIG);
  EXPECT_NE(h3.last_error.message.find("run `progcap db migrate`"), std::string::npos) << h3.last_error.message;
}

TEST_F(SupabaseSinkTest, ANonJsonAnswerIsAnErrorNotASuccess) {
  TestDatabase db;
  FakePostgrest api(db.dsn());
  auto* sink = make(api.url(), api.service_key());
  ASSERT_NE(sink, nullptr) << host_.last_error.message;
  seed(sink);
  api.faults({{"kind", "non-json"}, {"status", 200}, {"count", 1}, {"match", "progcap_upsert"}});
  EXPECT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "x", 1)}), PROGCAP_ERR_FATAL);
  EXPECT_NE(host_.last_error.message.find("non-JSON"), std::string::npos) << host_.last_error.message;
  // A proxy's HTML error page on 502 is transient and retried.
  api.faults({{"kind", "non-json"}, {"status", 502}, {"count", 1}, {"match", "progcap_upsert"}});
  EXPECT_EQ(host_.write(sink, github::pull_requests_stream().abi(), {pr(100, 1, "x", 1)}), PROGCAP_OK) << host_.last_error.message;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pull_requests"), "1");
}

}  // namespace
