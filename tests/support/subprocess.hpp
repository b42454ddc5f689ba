// Test support: run a program with a modified environment, capture stdout
// and stderr, send signals, wait with a timeout.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace progcap::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
  bool timed_out = false;
};

struct ProcessOptions {
  std::map<std::string, std::string> env;  // added/overridden
  std::vector<std::string> unset_env;
  std::string cwd;
  std::string stdin_text;
  std::chrono::milliseconds timeout{60000};
  bool clean_env = false;  // start from PATH/HOME/LANG only
};

class Process {
 public:
  Process(std::vector<std::string> argv, ProcessOptions opts = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  void signal(int sig) const;
  /// Reads output until the process exits (or the timeout kills it).
  ProcessResult wait();
  /// Output captured so far (while running), for polling.
  std::string peek_err();
  std::string peek_out();

 private:
  void pump(int timeout_ms);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  ProcessOptions opts_;
  std::chrono::steady_clock::time_point start_;
  bool done_ = false;
  ProcessResult result_;
};

inline ProcessResult run(std::vector<std::string> argv, ProcessOptions opts = {}) {
  Process p(std::move(argv), std::move(opts));
  return p.wait();
}

}  // namespace progcap::testing
