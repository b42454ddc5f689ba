// The only translation unit that includes cpprestsdk (slow headers, see
// docs/architecture.md). Everything else talks to http::Transport.
#include <progcap/core/http.hpp>

#include <cpprest/http_client.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace progcap::core::http {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// "scheme://host:port" of a URL, used to share one http_client per origin.
std::string origin_of(const std::string& url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  const size_t path_start = url.find('/', scheme_end + 3);
  return path_start == std::string::npos ? url : url.substr(0, path_start);
}

class CpprestTransport final : public Transport {
 public:
  explicit CpprestTransport(const TransportOptions& opts) {
    static std::once_flag once;
    std::call_once(once, [&] {
      try {
        crossplat::threadpool::initialize_with_threads(std::max(1U, opts.threads));
      } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): already initialised by an earlier user
      }
    });
  }

  Response send(const Request& req, const std::atomic<bool>* cancel) override {
    Response out;
    try {
      const std::string origin = origin_of(req.url);
      std::string path = req.url.substr(origin.size());
      if (path.empty()) path = "/";
      auto client = client_for(origin, req.timeout);
      web::http::http_request hr(web::http::method(req.method));
      hr.set_request_uri(web::uri(path));
      bool has_ua = false;
      for (const auto& [k, v] : req.headers) {
        if (lower(k) == "user-agent") has_ua = true;
        hr.headers().add(k, v);
      }
      if (!has_ua) hr.headers().add("User-Agent", "progcap");
      if (!req.body.empty()) {
        std::string ctype = "application/json";
        for (const auto& [k, v] : req.headers) {
          if (lower(k) == "content-type") ctype = v;
        }
        hr.set_body(req.body, ctype);
      }
      pplx::cancellation_token_source cts;
      auto task = client->request(hr, cts.get_token()).then([](web::http::http_response r) {
        Response resp;
        resp.status = r.status_code();
        for (const auto& [k, v] : r.headers()) resp.headers.emplace_back(lower(k), v);
        // Read the body straight into the response string as it arrives (sized
        // by Content-Length when known): cpprest frees each block once read, so
        // the body exists once, not as a block buffer plus extract_vector()'s
        // copy plus a string copy (GraphQL pages are megabytes).
        auto buf = r.body().streambuf();
        constexpr size_t kChunk = 64 * 1024;
        constexpr uint64_t kMaxReserve = 256ULL << 20;
        const uint64_t length = r.headers().content_length();
        const bool sized = length > 0 && length <= kMaxReserve;
        resp.body.resize(sized ? static_cast<size_t>(length) : kChunk);
        size_t used = 0;
        while (!(sized && used == length)) {
          if (used == resp.body.size()) resp.body.resize(std::max(2 * used, used + kChunk));  // unknown length: grow
          const size_t n = buf.getn(reinterpret_cast<uint8_t*>(resp.body.data() + used), resp.body.size() - used).get();
          if (n == 0) break;
          used += n;
        }
        resp.body.resize(used);
        return resp;
      });
      // Poll for completion so a cancelled run does not wait for the timeout.
      while (!task.is_done()) {
        if (cancel != nullptr && cancel->load()) {
          cts.cancel();
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      out = task.get();
    } catch (const pplx::task_canceled&) {
      out.status = 0;
      out.error = "cancelled";
    } catch (const std::exception& e) {
      out.status = 0;
      out.error = e.what();
      if (out.error.empty()) out.error = "HTTP transport error";
    }
    return out;
  }

 private:
  std::shared_ptr<web::http::client::http_client> client_for(const std::string& origin, std::chrono::milliseconds timeout) {
    std::lock_guard<std::mutex> g(mu_);
    const std::string key = origin + "#" + std::to_string(timeout.count());
    auto it = clients_.find(key);
    if (it != clients_.end()) return it->second;
    web::http::client::http_client_config cfg;
    cfg.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
    auto c = std::make_shared<web::http::client::http_client>(web::uri(origin), cfg);
    clients_.emplace(key, c);
    return c;
  }

  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<web::http::client::http_client>> clients_;
};

}  // namespace

std::unique_ptr<Transport> make_cpprest_transport(const TransportOptions& opts) {
  return std::make_unique<CpprestTransport>(opts);
}

}  // namespace progcap::core::http
