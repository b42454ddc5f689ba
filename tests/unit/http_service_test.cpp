// The host HTTP service (retries, Retry-After, stats, cancellation) against a
// local cpprest listener. Ports are explicit per process (cpprest cannot
// report an ephemeral port).
#include <progcap/core/http.hpp>

#include <cpprest/http_listener.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <unistd.h>

using namespace progcap::core;
using namespace web::http;

namespace {

class HttpServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = 20000 + static_cast<int>(::getpid() % 20000);
    base_ = "http://127.0.0.1:" + std::to_string(port_);
    listener_ = std::make_unique<experimental::listener::http_listener>(base_);
    listener_->support([this](http_request rq) {
      const int n = ++hits_;
      const std::string path = rq.relative_uri().path();
      http_response r(status_codes::OK);
      if (path == "/flaky" && n <= 2) {
        r.set_status_code(status_codes::ServiceUnavailable);
        r.headers().add("Retry-After", "0");
      } else if (path == "/missing") {
        r.set_status_code(status_codes::NotFound);
      } else if (path == "/always500") {
        r.set_status_code(status_codes::InternalError);
      } else if (path == "/slow") {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      } else if (path == "/echo") {
        r.headers().add("X-Seen-Auth", rq.headers().has("Authorization") ? rq.headers()["Authorization"] : "");
      }
      r.set_body("{\"path\":\"" + path + "\"}", "application/json");
      rq.reply(r).wait();
    });
    listener_->open().wait();
    svc_ = std::make_unique<http::Service>(http::make_cpprest_transport(),
                                           http::ServiceOptions{4, std::chrono::milliseconds(1), std::chrono::milliseconds(5)});
  }
  void TearDown() override { listener_->close().wait(); }

  http::Response get(const std::string& path, bool retry = true, unsigned* attempts = nullptr) {
    http::Call c;
    c.request.url = base_ + path;
    c.request.headers = {{"Authorization", "token abc"}};
    c.retry = retry;
    c.endpoint = "GET " + path;
    return svc_->execute(c, &cancel_, [](uint64_t) { return true; }, attempts);
  }

  int port_ = 0;
  std::string base_;
  std::unique_ptr<experimental::listener::http_listener> listener_;
  std::unique_ptr<http::Service> svc_;
  std::atomic<int> hits_{0};
  std::atomic<bool> cancel_{false};
};

TEST_F(HttpServiceTest, RetriesServiceUnavailableHonouringRetryAfter) {
  unsigned attempts = 0;
  auto r = get("/flaky", true, &attempts);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(attempts, 3u);
  EXPECT_EQ(r.body, "{\"path\":\"/flaky\"}");
  auto st = svc_->stats();
  EXPECT_EQ(st.by_endpoint["GET /flaky"].requests, 3u);
  EXPECT_EQ(st.by_endpoint["GET /flaky"].retries, 2u);
  EXPECT_EQ(st.by_endpoint["GET /flaky"].by_status[503], 2u);
}

TEST_F(HttpServiceTest, DoesNotRetryClientErrors) {
  unsigned attempts = 0;
  auto r = get("/missing", true, &attempts);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(attempts, 1u);
}

TEST_F(HttpServiceTest, GivesUpAfterMaxAttempts) {
  unsigned attempts = 0;
  auto r = get("/always500", true, &attempts);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(attempts, 4u);
  EXPECT_EQ(svc_->stats().by_endpoint["GET /always500"].errors, 1u);
}

TEST_F(HttpServiceTest, NoRetryWhenTheCallerHandlesIt) {
  unsigned attempts = 0;
  auto r = get("/always500", false, &attempts);
  EXPECT_EQ(attempts, 1u);
}

TEST_F(HttpServiceTest, HeadersArriveLowerCasedAndRequestHeadersAreSent) {
  auto r = get("/echo");
  ASSERT_EQ(r.status, 200);
  ASSERT_NE(r.header("x-seen-auth"), nullptr);
  EXPECT_EQ(*r.header("x-seen-auth"), "token abc");
  ASSERT_NE(r.header("content-type"), nullptr);
}

TEST_F(HttpServiceTest, ConnectionRefusedIsStatusZeroWithAMessage) {
  http::Call c;
  c.request.url = "http://127.0.0.1:1/nothing";
  c.retry = false;
  auto r = svc_->execute(c, &cancel_, [](uint64_t) { return true; });
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST_F(HttpServiceTest, CancellationAbandonsASlowRequest) {
  std::thread t([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel_ = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto r = get("/slow");
  t.join();
  EXPECT_EQ(r.status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1400));
}

TEST(HttpUrlTest, PathAndHost) {
  EXPECT_EQ(http::url_path("https://api.github.com/repos/a/b/pulls?page=2"), "/repos/a/b/pulls");
  EXPECT_EQ(http::url_host("https://api.github.com:443/x"), "api.github.com");
  EXPECT_EQ(http::url_path("http://h"), "/");
}

}  // namespace
