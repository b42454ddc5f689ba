// github-common through the SDK's FakeHost: Link parsing, streaming JSON parsing, App JWTs (verified
// with the public key), JSON -> row mapping (ghosts, bots, big ids, bad JSON
// dead-lettered) and settings validation.
#include <progcap/github/client.hpp>
#include <progcap/github/records.hpp>
#include <progcap/github/settings.hpp>
#include <progcap/sdk/testing/fake_host.hpp>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <sstream>

using namespace progcap;
using progcap::sdk::testing::FakeHost;
using json = nlohmann::json;

namespace {

std::string slurp(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string b64url_decode(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4 != 0) s += '=';
  std::string out(s.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(s.data()),
                                static_cast<int>(s.size()));
  out.resize(static_cast<size_t>(std::max(0, n)));
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

TEST(GithubClientTest, ParsesGitHubLinkHeaders) {
  const std::string h =
      "<https://api.github.com/repositories/1/pulls?page=2>; rel=\"next\", <https://api.github.com/repositories/1/pulls?page=5>; rel=\"last\"";
  EXPECT_EQ(github::link_rel(h, "next").value(), "https://api.github.com/repositories/1/pulls?page=2");
  EXPECT_EQ(github::link_rel(h, "last").value(), "https://api.github.com/repositories/1/pulls?page=5");
  EXPECT_FALSE(github::link_rel(h, "prev").has_value());
  EXPECT_FALSE(github::link_rel("", "next").has_value());
}

TEST(GithubClientTest, StreamingParseHandsOverSelectedElementsAndKeepsTheRest) {
  const std::string text = R"({"data":{"rateLimit":{"cost":1},"repository":{"pullRequests":{
      "nodes":[{"number":1,"files":{"nodes":[{"path":"a"}],"pageInfo":{"hasNextPage":false}}},{"number":2},7,[1,2]],
      "pageInfo":{"hasNextPage":true,"endCursor":"Y3Vy"}},
      "p0":{"files":{"nodes":[{"path":"x"},{"path":"y"}]}}}},"errors":[{"message":"partial"}]})";
  std::vector<std::string> seen;
  const github::JsonStream stream{
      [](std::span<const std::string> path) {
        return (path.size() == 4 && path[2] == "pullRequests" && path[3] == "nodes") || (path.size() == 5 && path[2] == "p0");
      },
      [&](std::span<const std::string> path, json& element) {
        seen.push_back(std::string(path[2]) + ":" + element.dump());
        element = json();  // the visitor may take the element apart
      }};
  const json doc = github::parse_streaming(text, stream);
  // Elements of every kind (objects with nested arrays, scalars, arrays), in document order;
  // the nested files array of PR 1 is not selected, so it stays inside the element.
  const std::vector<std::string> want = {
      R"(pullRequests:{"files":{"nodes":[{"path":"a"}],"pageInfo":{"hasNextPage":false}},"number":1})", R"(pullRequests:{"number":2})",
      "pullRequests:7", "pullRequests:[1,2]", R"(p0:{"path":"x"})", R"(p0:{"path":"y"})"};
  EXPECT_EQ(seen, want);
  // Everything else is parsed as usual; the streamed arrays are left empty.
  EXPECT_EQ(doc["data"]["repository"]["pullRequests"]["nodes"], json::array());
  EXPECT_EQ(doc["data"]["repository"]["p0"]["files"]["nodes"], json::array());
  EXPECT_EQ(doc["data"]["repository"]["pullRequests"]["pageInfo"]["endCursor"], "Y3Vy");
  EXPECT_EQ(doc["data"]["rateLimit"]["cost"], 1);
  EXPECT_EQ(doc["errors"][0]["message"], "partial");
}

TEST(GithubClientTest, StreamingParseVisitsNothingOfATruncatedAnswer) {
  int visited = 0;
  const github::JsonStream stream{[](std::span<const std::string> path) { return path.size() == 1 && path[0] == "nodes"; },
                                  [&](std::span<const std::string>, json&) { ++visited; }};
  EXPECT_THROW((void)github::parse_streaming(R"({"nodes":[{"a":1},{"a":2},{"a":)", stream), json::parse_error);
  EXPECT_EQ(visited, 0) << "a truncated answer is retried whole; nothing of it may have been captured";
  // A key spelled "[]" is a key, not an array element.
  EXPECT_EQ(github::parse_streaming(R"({"nodes":[{"a":1},{"a":2}],"[]":3})", stream), json::parse(R"({"nodes":[],"[]":3})"));
  EXPECT_EQ(visited, 2);
}

TEST(GithubAuthTest, AppJwtIsRs256AndVerifiesWithThePublicKey) {
  const std::string jwt = github::make_app_jwt("12345", slurp(PROGCAP_TEST_APP_KEY), 1700000000);
  const size_t d1 = jwt.find('.');
  const size_t d2 = jwt.find('.', d1 + 1);
  ASSERT_NE(d2, std::string::npos);
  EXPECT_EQ(json::parse(b64url_decode(jwt.substr(0, d1)))["alg"], "RS256");
  const json payload = json::parse(b64url_decode(jwt.substr(d1 + 1, d2 - d1 - 1)));
  EXPECT_EQ(payload["iss"], "12345");
  EXPECT_EQ(payload["iat"], 1700000000 - 60);
  EXPECT_EQ(payload["exp"].get<int64_t>() - payload["iat"].get<int64_t>(), 600);

  const std::string pub = slurp(PROGCAP_TEST_APP_PUBKEY);
  BIO* bio = BIO_new_mem_buf(pub.data(), static_cast<int>(pub.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  ASSERT_NE(key, nullptr);
  std::string sig = jwt.substr(d2 + 1);
  for (char& c : sig) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (sig.size() % 4 != 0) sig += '=';
  std::vector<unsigned char> raw(sig.size());
  int n = EVP_DecodeBlock(raw.data(), reinterpret_cast<const unsigned char*>(sig.data()), static_cast<int>(sig.size()));
  n -= static_cast<int>(std::count(sig.end() - 2, sig.end(), '='));
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key), 1);
  const std::string input = jwt.substr(0, d2);
  EXPECT_EQ(EVP_DigestVerify(md, raw.data(), static_cast<size_t>(n), reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(key);
  BIO_free(bio);

  // Literal "\n" sequences (a PEM pasted into one line) work too.
  std::string pem = slurp(PROGCAP_TEST_APP_KEY);
  std::string escaped;
  for (char c : pem) escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
  EXPECT_NO_THROW(github::make_app_jwt("12345", escaped, 1700000000));
}

TEST(GithubAuthTest, BadKeyIsAClearError) {
  try {
    github::make_app_jwt("1", "-----BEGIN RSA PRIVATE KEY-----\nnot base64\n-----END RSA PRIVATE KEY-----\n", 0);
    FAIL();
  } catch (const sdk::AuthError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a PEM private key"), std::string::npos) << e.what();
  }
}

class RecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    streams_ = {github::repositories_stream().abi(), github::contributors_stream().abi(), github::pull_requests_stream().abi(),
                github::pull_request_files_stream().abi(), github::reviews_stream().abi(), github::comments_stream().abi()};
    def_.struct_size = sizeof def_;
    def_.stream_count = static_cast<uint32_t>(streams_.size());
    def_.streams = streams_.data();
    em_ = progcap_emitter{&host_, &def_, nullptr};
    emitter_ = std::make_unique<sdk::Emitter>(host_.api(), &em_);
    ctx_ = std::make_unique<sdk::Context>(host_.api(), &hctx_);
    writer_ = std::make_unique<github::RecordWriter>(*ctx_, github::StreamIndex{0, 1, 2, 3, 4, 5}, "acme/widgets");
    writer_->bind(*emitter_);
  }
  FakeHost host_;
  progcap_host_ctx hctx_{&host_, "test"};
  std::vector<const progcap_schema*> streams_;
  progcap_component_def def_{};
  progcap_emitter em_{};
  std::unique_ptr<sdk::Emitter> emitter_;
  std::unique_ptr<sdk::Context> ctx_;
  std::unique_ptr<github::RecordWriter> writer_;
};

json rest_pr() {
  return json::parse(R"({"id": 3000000123, "number": 7, "state": "closed", "title": "t", "body": null, "draft": false,
    "user": null, "merged": true, "merged_at": "2026-01-02T03:04:05Z", "merged_by": {"login": "dependabot[bot]", "id": 49699333, "type": "Bot",
    "avatar_url": "a", "html_url": "h"}, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T03:04:05Z",
    "closed_at": "2026-01-02T03:04:05Z", "head": {"ref": "feature", "sha": "abc"}, "base": {"ref": "main"},
    "additions": 1, "deletions": 2, "changed_files": 3, "commits": 4, "mergeable": null, "mergeable_state": "unknown",
    "html_url": "https://github.com/acme/widgets/pull/7"})");
}

TEST_F(RecordsTest, MapsRestPullRequestsWithGhostAuthorsAndBots) {
  auto id = writer_->pull_request(rest_pr(), true);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, 3000000123);
  ASSERT_EQ(host_.rows["pull_requests"].size(), 1u);
  const auto& row = host_.rows["pull_requests"][0];
  EXPECT_EQ(row[github::f::kPrAuthorGithubId].type, PROGCAP_TYPE_NULL) << "a deleted author is null, not a made-up id";
  EXPECT_EQ(row[github::f::kPrMergedByGithubId].i, 49699333);
  EXPECT_EQ(row[github::f::kPrState].s, "closed");
  EXPECT_TRUE(row[github::f::kPrMerged].b);
  EXPECT_EQ(row[github::f::kPrCommits].i, 4);
  ASSERT_EQ(host_.rows["contributors"].size(), 1u);
  EXPECT_EQ(host_.rows["contributors"][0][github::f::kUserUsername].s, "dependabot[bot]");
  EXPECT_TRUE(host_.rows["contributors"][0][github::f::kUserIsBot].b);

  // The same PR from a list payload: no stats, and they stay null (unknown).
  json list = rest_pr();
  for (const char* k : {"additions", "deletions", "changed_files", "commits", "merged", "mergeable", "mergeable_state", "merged_by"}) list.erase(k);
  writer_->pull_request(list, false);
  const auto& row2 = host_.rows["pull_requests"][1];
  EXPECT_EQ(row2[github::f::kPrAdditions].type, PROGCAP_TYPE_NULL);
  EXPECT_TRUE(row2[github::f::kPrMerged].b) << "merged follows merged_at in list payloads";
}

TEST_F(RecordsTest, BadJsonIsDeadLetteredAndTheRestGoesOn) {
  json bad = rest_pr();
  bad.erase("number");
  EXPECT_FALSE(writer_->pull_request(bad, true).has_value());
  json wrong = rest_pr();
  wrong["id"] = "abc";
  EXPECT_FALSE(writer_->pull_request(wrong, true).has_value());
  EXPECT_TRUE(writer_->pull_request(rest_pr(), true).has_value());
  ASSERT_EQ(host_.dead_letters.size(), 2u);
  EXPECT_EQ(host_.dead_letters[0].stream, "pull_requests");
  EXPECT_EQ(host_.dead_letters[0].reason, "pull request JSON from GitHub: field 'number' is missing");
  EXPECT_EQ(host_.dead_letters[1].reason, "pull request JSON from GitHub: field 'id' is not an integer (\"abc\")");
  EXPECT_EQ(host_.rows["pull_requests"].size(), 1u);
}

TEST_F(RecordsTest, GraphqlIdsBotsAndStates) {
  json pr = json::parse(R"({"fullDatabaseId": "9007199254740993", "number": 9, "title": "x", "body": "", "state": "MERGED", "isDraft": false,
    "merged": true, "mergedAt": "2026-01-02T00:00:00Z", "closedAt": "2026-01-02T00:00:00Z", "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-02T00:00:00Z", "url": "https://github.com/acme/widgets/pull/9", "additions": 1, "deletions": 0,
    "changedFiles": 1, "baseRefName": "main", "headRefName": "f", "headRefOid": "abc", "mergeable": "UNKNOWN",
    "author": {"__typename": "Bot", "login": "renovate", "avatarUrl": "a", "url": "u", "databaseId": 29139614},
    "mergedBy": null, "commits": {"totalCount": 2}})");
  ASSERT_EQ(writer_->gql_pull_request(pr).value(), 9007199254740993LL);
  const auto& row = host_.rows["pull_requests"][0];
  EXPECT_EQ(row[github::f::kPrState].s, "closed");
  EXPECT_EQ(row[github::f::kPrAuthorLogin].s, "renovate[bot]");
  EXPECT_EQ(row[github::f::kPrDiffUrl].s, "https://github.com/acme/widgets/pull/9.diff");
  EXPECT_EQ(host_.rows["contributors"][0][github::f::kUserUsername].s, "renovate[bot]");
  EXPECT_EQ(row[github::f::kPrMergeable].type, PROGCAP_TYPE_NULL);
}

TEST_F(RecordsTest, HttpWithAConsumerSeesTheHostsBufferAndRethrowsItsExceptionsAfterTheCall) {
  host_.http_handler = [](const sdk::HttpRequest&) {
    sdk::HttpResponse r;
    r.status = 200;
    r.headers = {{"etag", "\"v1\""}};
    r.body = R"({"nodes":[1,2,3]})";
    return r;
  };
  // The consumer parses in place and may call back into the host (here: emit rows).
  size_t seen = 0;
  sdk::HttpRequest req;
  req.url = "http://x/";
  const sdk::HttpResponse r = ctx_->http(req, [&](sdk::HttpResponse& head, std::string_view body) {
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("etag").value_or(""), "\"v1\"");
    EXPECT_TRUE(head.body.empty()) << "the body is not copied";
    seen = json::parse(body)["nodes"].size();
    writer_->pull_request(rest_pr(), true);
  });
  EXPECT_EQ(seen, 3u);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.header("etag").value_or(""), "\"v1\"");
  EXPECT_EQ(host_.rows["pull_requests"].size(), 1u);
  // The plain overload still copies the body.
  EXPECT_EQ(ctx_->http(req).body, R"({"nodes":[1,2,3]})");
  // A throwing consumer: the exception comes out of http(), after the host call returned.
  EXPECT_THROW((void)ctx_->http(req, [](sdk::HttpResponse&, std::string_view) { throw sdk::RetryError("consumer failed"); }),
               sdk::RetryError);
}

TEST_F(RecordsTest, PendingReviewsAreSkippedAndRenamedUsersReEmitted) {
  json pending = json::parse(R"({"id": 1, "state": "PENDING", "user": {"id": 5, "login": "a"}, "body": ""})");
  writer_->review(pending, github::PrRef{1, 10});
  EXPECT_EQ(writer_->counts().skipped_pending, 1);
  EXPECT_TRUE(host_.rows["reviews"].empty());
  writer_->user(json::parse(R"({"id": 5, "login": "old-name"})"));
  writer_->user(json::parse(R"({"id": 5, "login": "old-name"})"));
  writer_->user(json::parse(R"({"id": 5, "login": "new-name"})"));
  ASSERT_EQ(host_.rows["contributors"].size(), 2u) << "one row per id, again when the login changes";
  EXPECT_EQ(host_.rows["contributors"][1][github::f::kUserUsername].s, "new-name");
}

TEST(GithubSettingsTest, ValidatesCombinations) {
  auto make = [](std::vector<std::pair<std::string, progcap::sdk::testing::OwnedValue>> kv) {
    std::vector<progcap_str> names;
    std::vector<progcap_value> values;
    static std::vector<std::pair<std::string, progcap::sdk::testing::OwnedValue>> keep;
    keep = std::move(kv);
    for (auto& [k, v] : keep) {
      names.push_back(sdk::to_abi(k));
      values.push_back(v.view());
    }
    progcap_config cfg{sizeof(progcap_config), static_cast<uint32_t>(names.size()), names.data(), values.data()};
    return github::Settings::from(sdk::Config(&cfg));
  };
  auto expect_error = [&](auto kv, const std::string& needle) {
    try {
      make(kv);
      FAIL() << "expected: " << needle;
    } catch (const sdk::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  using KV = std::vector<std::pair<std::string, progcap::sdk::testing::OwnedValue>>;
  expect_error(KV{{"repository", FakeHost::str("a/b")}, {"api_url", FakeHost::str("http://x")}}, "no GitHub credentials");
  expect_error(KV{{"repository", FakeHost::str("a/b")}, {"api_url", FakeHost::str("http://x")}, {"token", FakeHost::str("t")},
                  {"pr_numbers", FakeHost::json(R"(["1","2","1"])")}},
               "pr_numbers lists #1 more than once");
  expect_error(KV{{"repository", FakeHost::str("a/b")}, {"api_url", FakeHost::str("http://x")}, {"app_id", FakeHost::str("5")}},
               "app_private_key is empty");
  auto s = make(KV{{"repository", FakeHost::str("acme/widgets")}, {"api_url", FakeHost::str("http://x/")}, {"token", FakeHost::str("t")},
                   {"pr_numbers", FakeHost::json(R"(["3","2"])")}});
  EXPECT_EQ(s.owner, "acme");
  EXPECT_EQ(s.api_url, "http://x");
  EXPECT_EQ(s.pr_numbers, (std::vector<int64_t>{3, 2}));
}

}  // namespace
