// progcap — logging setup (spdlog stays inside the host) and secret redaction.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace progcap::core {

/// Process-wide registry of secret values; every log line, report and
/// summary the host writes passes through redact().
class Redactor {
 public:
  static Redactor& instance();
  /// Registers a secret (values shorter than 6 characters are ignored to
  /// avoid redacting common words; multi-line values also register each
  /// long line, e.g. of a PEM key).
  void add(std::string_view secret);
  /// Registers values of environment variables whose names look secret
  /// (*TOKEN*, *SECRET*, *PASSWORD*, *KEY*, DATABASE_URL, *DSN*).
  void add_from_environment();
  /// Replaces every registered secret in `s` with "***".
  [[nodiscard]] std::string redact(std::string_view s) const;
  void redact_in_place(std::string& s) const;
  void clear_for_testing();

 private:
  Redactor();
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

struct LogOptions {
  std::string level = "info";     // trace|debug|info|warn|error|off
  std::string file;               // also write everything (debug and up) here
  bool color = true;              // on a TTY
};

/// Lets a live progress line get out of the way of console log lines.
class ConsoleGuard {
 public:
  virtual ~ConsoleGuard() = default;
  virtual void before_log() = 0;  // called with the console lock held
  virtual void after_log() = 0;
};
void set_console_guard(ConsoleGuard* guard);

/// Configures the default logger "progcap" (stderr + optional file, redacting).
void init_logging(const LogOptions& opts);
/// Flushes and closes log files (call before exit).
void shutdown_logging();
std::shared_ptr<spdlog::logger> logger();

}  // namespace progcap::core
