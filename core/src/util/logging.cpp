#include <progcap/core/logging.hpp>

#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unistd.h>

extern char** environ;

namespace progcap::core {

struct Redactor::Impl {
  // Longer secrets first, so a secret that contains another is replaced whole.
  struct LongerFirst {
    bool operator()(const std::string& a, const std::string& b) const {
      return a.size() != b.size() ? a.size() > b.size() : a < b;
    }
  };
  mutable std::shared_mutex mu;
  std::set<std::string, LongerFirst> secrets;
};

Redactor::Redactor() : impl_(std::make_shared<Impl>()) {}

Redactor& Redactor::instance() {
  static Redactor r;
  return r;
}

void Redactor::add(std::string_view secret) {
  constexpr size_t kMin = 6;
  std::unique_lock lock(impl_->mu);
  if (secret.size() >= kMin) impl_->secrets.emplace(secret);
  if (secret.find('\n') != std::string_view::npos) {
    size_t start = 0;
    while (start < secret.size()) {
      size_t end = secret.find('\n', start);
      if (end == std::string_view::npos) end = secret.size();
      std::string_view line = secret.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() >= 16 && line.find("-----") == std::string_view::npos) impl_->secrets.emplace(line);
      start = end + 1;
    }
  }
}

void Redactor::add_from_environment() {
  static const char* kMarkers[] = {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "DSN", "DATABASE_URL", "CREDENTIAL"};
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = kv.substr(0, eq);
    for (const char* m : kMarkers) {
      if (name.find(m) != std::string_view::npos) {
        add(kv.substr(eq + 1));
        break;
      }
    }
  }
}

void Redactor::redact_in_place(std::string& s) const {
  std::shared_lock lock(impl_->mu);
  for (const auto& secret : impl_->secrets) {
    size_t pos = 0;
    while ((pos = s.find(secret, pos)) != std::string::npos) {
      s.replace(pos, secret.size(), "***");
      pos += 3;
    }
  }
}

std::string Redactor::redact(std::string_view s) const {
  std::string out(s);
  redact_in_place(out);
  return out;
}

void Redactor::clear_for_testing() {
  std::unique_lock lock(impl_->mu);
  impl_->secrets.clear();
}

namespace {

std::atomic<ConsoleGuard*> g_guard{nullptr};

/// Forwards to child sinks with secrets removed from the payload.
class RedactingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void add_child(spdlog::sink_ptr s) { children_.push_back(std::move(s)); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text(msg.payload.data(), msg.payload.size());
    Redactor::instance().redact_in_place(text);
    spdlog::details::log_msg copy(msg.time, msg.source, msg.logger_name, msg.level, text);
    ConsoleGuard* guard = g_guard.load();
    if (guard != nullptr) guard->before_log();
    for (auto& c : children_) {
      if (c->should_log(copy.level)) c->log(copy);
    }
    if (guard != nullptr) guard->after_log();
  }
  void flush_() override {
    for (auto& c : children_) c->flush();
  }

 private:
  std::vector<spdlog::sink_ptr> children_;
};

std::shared_ptr<spdlog::logger>& logger_slot() {
  static std::shared_ptr<spdlog::logger> l;
  return l;
}

}  // namespace

void set_console_guard(ConsoleGuard* guard) { g_guard.store(guard); }

void init_logging(const LogOptions& opts) {
  auto redacting = std::make_shared<RedactingSink>();
  auto console = std::make_shared<spdlog::sinks::ansicolor_stderr_sink_mt>(
      opts.color && isatty(STDERR_FILENO) != 0 ? spdlog::color_mode::automatic : spdlog::color_mode::never);
  console->set_pattern("%^%L %H:%M:%S.%e%$ %v");
  console->set_level(spdlog::level::from_str(opts.level));
  redacting->add_child(console);
  spdlog::level::level_enum sink_level = console->level();
  if (!opts.file.empty()) {
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(opts.file, /*truncate=*/true);
    file->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%fZ %l [%t] %v", spdlog::pattern_time_type::utc));
    file->set_level(spdlog::level::debug);
    redacting->add_child(file);
    sink_level = std::min(sink_level, spdlog::level::debug);
  }
  auto l = std::make_shared<spdlog::logger>("progcap", redacting);
  l->set_level(sink_level);
  l->flush_on(spdlog::level::warn);
  logger_slot() = l;
  spdlog::set_default_logger(l);
}

void shutdown_logging() {
  if (logger_slot()) logger_slot()->flush();
}

std::shared_ptr<spdlog::logger> logger() {
  auto& l = logger_slot();
  if (!l) {
    LogOptions o;
    o.level = "warn";
    init_logging(o);
  }
  return l;
}

}  // namespace progcap::core
