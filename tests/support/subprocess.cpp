#include "subprocess.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char** environ;

namespace progcap::testing {

Process::Process(std::vector<std::string> argv, ProcessOptions opts) : opts_(std::move(opts)) {
  int out[2];
  int err[2];
  int in[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> env;
  if (opts_.clean_env) {
    for (const char* keep : {"PATH", "HOME", "LANG", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
      if (const char* v = std::getenv(keep)) env.push_back(std::string(keep) + "=" + v);
    }
  } else {
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  }
  auto drop = [&](const std::string& name) {
    for (auto it = env.begin(); it != env.end();) {
      if (it->compare(0, name.size() + 1, name + "=") == 0) {
        it = env.erase(it);
      } else {
        ++it;
      }
    }
  };
  for (const auto& u : opts_.unset_env) drop(u);
  for (const auto& [k, v] : opts_.env) {
    drop(k);
    env.push_back(k + "=" + v);
  }
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  start_ = std::chrono::steady_clock::now();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::setpgid(0, 0);
    // A fixture server must not outlive a test or benchmark that is killed.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    // Signals blocked by the test runner must not leak into the child.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!opts_.cwd.empty() && ::chdir(opts_.cwd.c_str()) != 0) ::_exit(127);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(in[0]);
  if (!opts_.stdin_text.empty()) {
    ssize_t n = ::write(in[1], opts_.stdin_text.data(), opts_.stdin_text.size());
    (void)n;
  }
  ::close(in[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
}

Process::~Process() {
  if (!done_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

void Process::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

void Process::pump(int timeout_ms) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (::poll(fds, 2, timeout_ms) <= 0) return;
  char buf[65536];
  for (int i = 0; i < 2; ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
    const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
    if (n > 0) (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
  }
}

std::string Process::peek_err() {
  pump(0);
  return err_;
}
std::string Process::peek_out() {
  pump(0);
  return out_;
}

ProcessResult Process::wait() {
  if (done_) return result_;
  int status = 0;
  while (true) {
    pump(20);
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() - start_ > opts_.timeout) {
      ::kill(pid_, SIGKILL);
      result_.timed_out = true;
    }
  }
  // Drain what is left in the pipes.
  for (int i = 0; i < 50; ++i) {
    const size_t before = out_.size() + err_.size();
    pump(10);
    if (out_.size() + err_.size() == before) break;
  }
  if (WIFEXITED(status)) result_.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result_.signal = WTERMSIG(status);
  result_.out = out_;
  result_.err = err_;
  done_ = true;
  return result_;
}

}  // namespace progcap::testing
