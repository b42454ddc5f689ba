#include "services.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <netdb.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace progcap::testing {

std::string source_path(const std::string& rel) { return std::string(PROGCAP_SOURCE_DIR) + "/" + rel; }

HttpResult http_call(const std::string& method, const std::string& url, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
  // http://host:port/path
  const size_t hs = url.find("://") + 3;
  const size_t ps = url.find('/', hs);
  const std::string hostport = url.substr(hs, ps - hs);
  const std::string path = ps == std::string::npos ? "/" : url.substr(ps);
  const size_t colon = hostport.find(':');
  const std::string host = hostport.substr(0, colon);
  const int port = std::stoi(hostport.substr(colon + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to " + url);
  }
  std::ostringstream req;
  req << method << " " << path << " HTTP/1.1\r\nHost: " << hostport << "\r\nConnection: close\r\nAccept: application/json\r\n";
  for (const auto& [k, v] : headers) req << k << ": " << v << "\r\n";
  if (!body.empty()) req << "Content-Type: application/json\r\n";
  req << "Content-Length: " << body.size() << "\r\n\r\n" << body;
  const std::string out = req.str();
  for (size_t off = 0; off < out.size();) {
    const ssize_t n = ::send(fd, out.data() + off, out.size() - off, 0);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[65536];
  ssize_t n = 0;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  HttpResult r;
  if (resp.size() > 12) r.status = std::stoi(resp.substr(9, 3));
  const size_t hdr_end = resp.find("\r\n\r\n");
  std::string headers_text = resp.substr(0, hdr_end);
  std::string payload = hdr_end == std::string::npos ? "" : resp.substr(hdr_end + 4);
  // Chunked transfer encoding (node's default for streamed bodies).
  std::string lower = headers_text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t pos = lower.find("\r\n"); pos != std::string::npos && pos < lower.size();) {
    const size_t next = lower.find("\r\n", pos + 2);
    const std::string line = lower.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    const size_t sep = line.find(':');
    if (sep != std::string::npos) {
      const std::string orig = headers_text.substr(pos + 2 + sep + 1, line.size() - sep - 1);
      const size_t v = orig.find_first_not_of(' ');
      r.headers.emplace_back(line.substr(0, sep), v == std::string::npos ? "" : orig.substr(v));
    }
    pos = next;
  }
  if (lower.find("transfer-encoding: chunked") != std::string::npos) {
    std::string decoded;
    size_t pos = 0;
    while (pos < payload.size()) {
      const size_t eol = payload.find("\r\n", pos);
      const size_t len = std::stoul(payload.substr(pos, eol - pos), nullptr, 16);
      if (len == 0) break;
      decoded.append(payload, eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    payload = decoded;
  }
  r.body = payload;
  return r;
}

NodeServer::NodeServer(const std::string& what, const std::string& script, std::vector<std::string> args) {
  dir_ = (fs::temp_directory_path() / (what + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()))).string();
  fs::create_directories(dir_);
  const std::string ready = dir_ + "/ready.json";
  std::vector<std::string> argv = {"/usr/bin/env", "node", source_path(script), "--port", "0", "--quiet", "--ready-file", ready};
  for (auto& a : args) argv.push_back(std::move(a));
  ProcessOptions o;
  o.timeout = std::chrono::hours(1);
  proc_ = std::make_unique<Process>(argv, o);
  for (int i = 0; i < 600 && !fs::exists(ready); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (i % 20 == 19 && ::kill(proc_->pid(), 0) != 0) break;
  }
  if (!fs::exists(ready)) {
    throw std::runtime_error(what + " did not start (is `npm ci` done in its directory?): " + proc_->peek_err());
  }
  std::ifstream in(ready);
  in >> ready_;
}

NodeServer::~NodeServer() {
  if (proc_) {
    proc_->signal(SIGTERM);
    proc_->wait();
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

pid_t NodeServer::pid() const { return proc_->pid(); }

namespace {
std::vector<std::string> with(std::vector<std::string> head, std::vector<std::string> tail) {
  for (auto& t : tail) head.push_back(std::move(t));
  return head;
}
nlohmann::json control_call(const std::string& what, const std::string& base, const std::string& method, const std::string& path,
                            const nlohmann::json& body) {
  HttpResult r = http_call(method, base + path, body.is_null() ? "" : body.dump());
  if (r.status >= 400) throw std::runtime_error(what + " " + method + " " + path + " answered " + std::to_string(r.status) + ": " + r.body);
  return r.body.empty() ? nlohmann::json() : r.json();
}
}  // namespace

FakeGitHub::FakeGitHub(std::vector<std::string> args)
    : server_("fake-github", "tests/fake-github/bin/fake-github.mjs", with({"--now", "2026-11-29T00:00:00Z"}, std::move(args))),
      url_(server_.ready().at("url").get<std::string>()) {}

nlohmann::json FakeGitHub::control(const std::string& method, const std::string& path, const nlohmann::json& body) const {
  return control_call("fake GitHub", url_, method, path, body);
}

nlohmann::json FakeGitHub::truth(const std::string& repo, const std::string& extra) const {
  return control("GET", "/_fake/truth?repo=" + repo + extra);
}

FakePostgrest::FakePostgrest(const std::string& db_dsn, std::vector<std::string> args)
    : server_("fake-postgrest", "tests/fake-postgrest/bin/fake-postgrest.mjs", with({"--db", db_dsn}, std::move(args))),
      url_(server_.ready().at("url").get<std::string>()),
      service_key_(server_.ready().at("service_key").get<std::string>()),
      anon_key_(server_.ready().at("anon_key").get<std::string>()) {}

nlohmann::json FakePostgrest::control(const std::string& method, const std::string& path, const nlohmann::json& body) const {
  return control_call("fake PostgREST", url_, method, path, body);
}

}  // namespace progcap::testing
