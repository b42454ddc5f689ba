#include <progcap/core/exit_codes.hpp>
#include <progcap/core/runtime.hpp>

#include <csignal>
#include <cstring>
#include <unistd.h>

namespace progcap::core {

void CancelToken::cancel(StopReason why) {
  {
    std::lock_guard<std::mutex> g(mu_);
    int expected = 0;
    reason_.compare_exchange_strong(expected, static_cast<int>(why));
    flag_.store(true);
  }
  cv_.notify_all();
}

bool CancelToken::cancelled() const noexcept {
  if (flag_.load()) return true;
  return parent_ != nullptr && parent_->cancelled();
}

StopReason CancelToken::reason() const noexcept {
  const int r = reason_.load();
  if (r != 0) return static_cast<StopReason>(r);
  return parent_ != nullptr ? parent_->reason() : StopReason::None;
}

bool CancelToken::wait_for(uint64_t ms) const {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  std::unique_lock<std::mutex> lock(mu_);
  while (!cancelled()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return false;
    // Parents notify their own waiters only, so wake up periodically.
    cv_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(end - now, std::chrono::milliseconds(50)));
  }
  return true;
}

bool CancelToken::check_deadline(std::chrono::steady_clock::time_point now) {
  if (has_deadline_ && !flag_.load() && now >= deadline_) {
    cancel(StopReason::Timeout);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Crash handler
// ---------------------------------------------------------------------------

namespace {
thread_local const char* t_label = nullptr;
thread_local const char* t_op = nullptr;

void write_str(const char* s) {
  if (s == nullptr) return;
  ssize_t n = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)n;
}

void on_fatal_signal(int sig) {
  const char* name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE" : sig == SIGILL ? "SIGILL" : "signal";
  write_str("\nprogcap: fatal: ");
  write_str(name);
  if (t_label != nullptr) {
    write_str(" in plugin call ");
    write_str(t_op);
    write_str(" of ");
    write_str(t_label);
    write_str("; the plugin crashed the process.");
  } else {
    write_str(" outside any plugin call (a progcap bug; please report it).");
  }
  write_str(" Checkpoints acknowledged before the crash are saved; rerunning resumes from them.\n");
  ::_exit(kExitPluginCrash);
}
}  // namespace

void install_crash_handler() {
  struct sigaction sa {};
  sa.sa_handler = &on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
}

PluginCallScope::PluginCallScope(const char* label, const char* op) noexcept : prev_label_(t_label), prev_op_(t_op) {
  t_label = label;
  t_op = op;
}

PluginCallScope::~PluginCallScope() {
  t_label = prev_label_;
  t_op = prev_op_;
}

}  // namespace progcap::core
