#include "ndjson_sink.hpp"

#include <progcap/sdk/codec.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <csignal>
#include <cstdlib>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace progcap::plugins::ndjson {

struct NdjsonSink::Output {
  std::string target;  // final name
  std::string temp;    // where bytes go until flush
  int fd = -1;
  uint64_t lines = 0;
  bool to_stdout = false;
};

namespace {

[[noreturn]] void throw_errno(const std::string& what, const std::string& path) {
  const int e = errno;
  if (e == ENOSPC || e == EDQUOT || e == EFBIG) {
    throw sdk::FatalError(what + " " + path + ": no space left (" + std::strerror(e) + "); nothing was renamed into place");
  }
  if (e == EACCES || e == EPERM || e == EROFS) throw sdk::ConfigError(what + " " + path + ": " + std::strerror(e));
  throw sdk::IoError(what + " " + path + ": " + std::strerror(e));
}

/// Removes temporary files of replace-mode runs whose process is gone
/// (killed before it could clean up): ".<name>.tmp-<pid>-<n>".
void remove_stale_temps(const fs::path& dir, const sdk::Context& ctx) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir.empty() ? fs::path(".") : dir, ec)) {
    const std::string n = e.path().filename().string();
    const size_t t = n.rfind(".tmp-");
    if (n.empty() || n[0] != '.' || t == std::string::npos) continue;
    const size_t dash = n.find('-', t + 5);
    if (dash == std::string::npos) continue;
    const long pid = std::strtol(n.substr(t + 5, dash - t - 5).c_str(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      fs::remove(e.path(), ec);
      ctx.info("removed {} left by an earlier run that did not finish", e.path().string());
    }
  }
}

std::string temp_name(const std::string& target) {
  std::random_device rd;
  const fs::path t(target);
  return (t.parent_path() / ("." + t.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000)))
      .string();
}

/// Append mode: a crash can leave a torn last line (a batch that was never
/// acknowledged). Cut it off so the next appends start on a line boundary.
void repair_torn_tail(int fd, const std::string& path, const sdk::Context& ctx) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size == 0) return;
  off_t end = st.st_size;
  char c = 0;
  if (::pread(fd, &c, 1, end - 1) == 1 && c == '\n') return;
  char buf[4096];
  off_t pos = end;
  off_t cut = 0;
  while (pos > 0) {
    const off_t start = pos > static_cast<off_t>(sizeof buf) ? pos - static_cast<off_t>(sizeof buf) : 0;
    const ssize_t n = ::pread(fd, buf, static_cast<size_t>(pos - start), start);
    if (n <= 0) break;
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (buf[i] == '\n') {
        cut = start + i + 1;
        pos = 0;
        break;
      }
    }
    if (pos != 0) pos = start;
  }
  if (::ftruncate(fd, cut) != 0) throw_errno("cannot repair", path);
  ctx.warn("{}: removed a torn last line ({} bytes) left by an interrupted run", path, static_cast<long long>(end - cut));
}

}  // namespace

NdjsonSink::NdjsonSink(sdk::Context ctx, const sdk::Config& cfg) : sdk::Sink(ctx) {
  directory_ = cfg.get_optional(kDirectory).value_or("");
  path_ = cfg.get_optional(kPath).value_or("");
  stdout_ = cfg.get(kStdout);
  append_ = cfg.get(kMode) == "append";
  fsync_ = cfg.get(kFsync);
  const int targets = (directory_.empty() ? 0 : 1) + (path_.empty() ? 0 : 1) + (stdout_ ? 1 : 0);
  if (targets != 1) {
    throw sdk::ConfigError("set exactly one of 'directory', 'path' or 'stdout: true' (found " + std::to_string(targets) + ")");
  }
  std::error_code ec;
  if (!directory_.empty()) {
    fs::create_directories(directory_, ec);
    if (ec) throw sdk::ConfigError("cannot create directory " + directory_ + ": " + ec.message());
    if (::access(directory_.c_str(), W_OK) != 0) throw sdk::ConfigError("directory " + directory_ + " is not writable: " + std::strerror(errno));
    remove_stale_temps(directory_, ctx);
  }
  if (!path_.empty()) {
    const fs::path parent = fs::path(path_).parent_path();
    if (!parent.empty()) {
      fs::create_directories(parent, ec);
      if (ec) throw sdk::ConfigError("cannot create directory " + parent.string() + ": " + ec.message());
    }
    const std::string dir = parent.empty() ? "." : parent.string();
    if (::access(dir.c_str(), W_OK) != 0) throw sdk::ConfigError("directory " + dir + " is not writable: " + std::strerror(errno));
    remove_stale_temps(dir, ctx);
  }
}

NdjsonSink::~NdjsonSink() {
  // Reached without flush() only when the host gives up on the step: remove
  // temporary files so nothing half-written is left behind.
  for (auto& [name, out] : outputs_) {
    if (out->fd >= 0) {
      ::close(out->fd);
      if (!out->temp.empty()) ::unlink(out->temp.c_str());
    }
  }
}

NdjsonSink::Output& NdjsonSink::output_for(std::string_view stream) {
  std::string target;
  if (stdout_) {
    target = "-";
  } else if (!path_.empty()) {
    target = path_;
  } else {
    target = (fs::path(directory_) / (std::string(stream) + ".ndjson")).string();
  }
  auto it = outputs_.find(target);
  if (it != outputs_.end()) return *it->second;
  auto out = std::make_unique<Output>();
  out->target = target;
  if (stdout_) {
    out->to_stdout = true;
  } else if (append_) {
    // Append: every acknowledged batch is durable in the target itself, so
    // checkpoints committed after it survive a crash (at-least-once).
    out->fd = ::open(target.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out->fd < 0) throw_errno("cannot open", target);
    repair_torn_tail(out->fd, target, ctx());
  } else {
    // Replace: write aside, rename into place when the step completes.
    out->temp = temp_name(target);
    out->fd = ::open(out->temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out->fd < 0) throw_errno("cannot create", out->temp);
  }
  auto& ref = *out;
  outputs_.emplace(target, std::move(out));
  return ref;
}

void NdjsonSink::prepare(const progcap_schema& schema) { output_for(sdk::from_abi(schema.stream)); }

void NdjsonSink::write_out(Output& out, const std::string& data) {
  if (out.to_stdout) {
    if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size()) throw_errno("cannot write", "stdout");
    return;
  }
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(out.fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", out.temp.empty() ? out.target : out.temp);
    }
    off += static_cast<size_t>(n);
  }
}

sdk::Status NdjsonSink::write(const sdk::BatchView& batch) {
  Output& out = output_for(batch.stream());
  const bool tag = stdout_ || !path_.empty();
  buf_.clear();
  const progcap_schema& schema = batch.schema();
  for (uint64_t r = 0; r < batch.rows(); ++r) {
    if (tag) {
      buf_ += "{\"_stream\":";
      sdk::append_json_string(buf_, batch.stream());
      const size_t mark = buf_.size();
      sdk::append_json_row(buf_, schema, batch.row_values(r));
      // splice: {"_stream":"x"{"a":1}  ->  {"_stream":"x","a":1}
      if (buf_.size() > mark + 2) {
        buf_[mark] = ',';
      } else {
        buf_.resize(mark);
        buf_ += '}';
      }
    } else {
      sdk::append_json_row(buf_, schema, batch.row_values(r));
    }
    buf_ += '\n';
    if (buf_.size() >= (1U << 20)) {
      write_out(out, buf_);
      buf_.clear();
    }
  }
  write_out(out, buf_);
  out.lines += batch.rows();
  if (out.to_stdout) return sdk::Status::Ok;
  if (append_) {
    if (fsync_ && ::fdatasync(out.fd) != 0) throw_errno("cannot sync", out.target);
    return sdk::Status::Ok;
  }
  // Replace mode: the rows reach their final name only when the step
  // completes, so checkpoints must wait for that flush.
  return sdk::Status::Pending;
}

void NdjsonSink::flush(uint32_t flags) {
  if (stdout_) {
    std::fflush(stdout);
    return;
  }
  const bool complete = (flags & PROGCAP_FLUSH_END_OF_STREAM) != 0;
  for (auto& [name, out] : outputs_) {
    if (out->fd < 0) continue;
    if (append_) {
      if (fsync_ && ::fsync(out->fd) != 0) throw_errno("cannot sync", out->target);
      ::close(out->fd);
      out->fd = -1;
      continue;
    }
    if (fsync_ && ::fsync(out->fd) != 0) throw_errno("cannot sync", out->temp);
    if (::close(out->fd) != 0) {
      out->fd = -1;
      throw_errno("cannot close", out->temp);
    }
    out->fd = -1;
    const std::string final_name = complete ? out->target : out->target + ".partial";
    if (::rename(out->temp.c_str(), final_name.c_str()) != 0) throw_errno("cannot rename into place", final_name);
    if (fsync_) {
      // Make the rename itself durable.
      const std::string dir = fs::path(final_name).parent_path().empty() ? "." : fs::path(final_name).parent_path().string();
      const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
      }
    }
    if (complete) {
      ctx().debug("wrote {} ({} lines)", final_name, out->lines);
    } else {
      ctx().warn("step did not complete: kept {} lines in {} (the final file was not replaced)", out->lines, final_name);
    }
  }
  outputs_.clear();
}

}  // namespace progcap::plugins::ndjson
