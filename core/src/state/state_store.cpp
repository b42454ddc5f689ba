#include <progcap/core/diagnostics.hpp>
#include <progcap/core/logging.hpp>
#include <progcap/core/state_store.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace progcap::core {

namespace {

std::runtime_error sys_error(const std::string& what, const fs::path& p) {
  return std::runtime_error(what + " " + p.string() + ": " + std::strerror(errno));
}

void write_all(int fd, const char* data, size_t len, const fs::path& p) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("cannot write state file", p);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
}

std::string put_line(std::string_view k, std::string_view v) {
  nlohmann::json j = {{"k", k}, {"v", v}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string del_line(std::string_view k) {
  nlohmann::json j = {{"d", k}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

FileStateStore::FileStateStore(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create state directory " + dir.string() + ": " + ec.message());
  path_ = dir / (name + ".state");
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) throw sys_error("cannot open state file", path_);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("state file " + path_.string() +
                             " is in use by another progcap process; wait for it to finish or use a different --state-dir");
  }
  // Replay the journal.
  std::string content;
  {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw sys_error("cannot stat state file", path_);
    content.resize(static_cast<size_t>(st.st_size));
    size_t off = 0;
    while (off < content.size()) {
      ssize_t n = ::pread(fd_, content.data() + off, content.size() - off, static_cast<off_t>(off));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw sys_error("cannot read state file", path_);
      }
      if (n == 0) break;
      off += static_cast<size_t>(n);
    }
    content.resize(off);
  }
  size_t pos = 0;
  size_t good_end = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) {
      logger()->warn("state file {}: ignoring a torn last record ({} bytes; the process stopped mid-write)", path_.string(),
                     content.size() - pos);
      break;
    }
    std::string_view line(content.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      if (j.contains("k")) {
        data_[j["k"].get<std::string>()] = j["v"].get<std::string>();
      } else if (j.contains("d")) {
        data_.erase(j["d"].get<std::string>());
      }
      good_end = pos;
    } catch (const std::exception&) {
      logger()->warn("state file {}: ignoring a corrupt record at byte {}", path_.string(), pos);
    }
  }
  file_bytes_ = content.size();
  if (good_end < content.size() && ::ftruncate(fd_, static_cast<off_t>(good_end)) == 0) file_bytes_ = good_end;
  for (const auto& [k, v] : data_) live_bytes_ += put_line(k, v).size();
  if (file_bytes_ > 1024 * 1024 && file_bytes_ > 3 * live_bytes_) {
    std::lock_guard<std::mutex> g(mu_);
    compact_locked();
  }
}

FileStateStore::~FileStateStore() {
  if (fd_ >= 0) {
    try {
      sync();
    } catch (const std::exception& e) {
      logger()->error("{}", e.what());
    }
    ::close(fd_);  // releases the flock
  }
}

void FileStateStore::append_line(const std::string& line) {
  write_all(fd_, line.data(), line.size(), path_);
  file_bytes_ += line.size();
  dirty_ = true;
}

std::optional<std::string> FileStateStore::get(std::string_view key) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

void FileStateStore::put(std::string_view key, std::string_view value) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = data_.find(key);
  if (it != data_.end() && it->second == value) return;
  const std::string line = put_line(key, value);
  append_line(line);
  if (it != data_.end()) live_bytes_ -= std::min(live_bytes_, put_line(key, it->second).size());
  data_[std::string(key)] = std::string(value);
  live_bytes_ += line.size();
  if (file_bytes_ > 4 * 1024 * 1024 && file_bytes_ > 3 * live_bytes_) compact_locked();
}

bool FileStateStore::erase(std::string_view key) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return false;
  live_bytes_ -= std::min(live_bytes_, put_line(key, it->second).size());
  data_.erase(it);
  append_line(del_line(key));
  return true;
}

void FileStateStore::commit(std::string_view key, std::string_view value) {
  put(key, value);
  sync();
}

void FileStateStore::sync() {
  std::lock_guard<std::mutex> g(mu_);
  if (!dirty_) return;
  if (::fdatasync(fd_) != 0) throw sys_error("cannot sync state file", path_);
  dirty_ = false;
}

std::map<std::string, std::string> FileStateStore::scan(std::string_view prefix) {
  std::lock_guard<std::mutex> g(mu_);
  std::map<std::string, std::string> out;
  for (auto it = data_.lower_bound(prefix); it != data_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    out.emplace(it->first, it->second);
  }
  return out;
}

void FileStateStore::compact_locked() {
  // Write the live set to a temporary file, fsync, rename over the journal,
  // then switch descriptors (taking the lock on the new file first).
  const fs::path tmp = path_.string() + ".compact";
  int nfd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (nfd < 0) throw sys_error("cannot create", tmp);
  std::string buf;
  for (const auto& [k, v] : data_) buf += put_line(k, v);
  write_all(nfd, buf.data(), buf.size(), tmp);
  if (::fdatasync(nfd) != 0 || ::flock(nfd, LOCK_EX | LOCK_NB) != 0) {
    ::close(nfd);
    throw sys_error("cannot finish compaction of", tmp);
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    ::close(nfd);
    throw sys_error("cannot replace", path_);
  }
  ::close(fd_);
  fd_ = nfd;
  file_bytes_ = buf.size();
  live_bytes_ = buf.size();
  dirty_ = false;
}

// ---------------------------------------------------------------------------

std::optional<std::string> OverlayStateStore::get(std::string_view key) {
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = overlay_.find(key);
    if (it != overlay_.end()) return it->second;
  }
  return base_ ? base_->get(key) : std::nullopt;
}

void OverlayStateStore::put(std::string_view key, std::string_view value) {
  std::lock_guard<std::mutex> g(mu_);
  overlay_[std::string(key)] = std::string(value);
}

bool OverlayStateStore::erase(std::string_view key) {
  const bool existed = get(key).has_value();
  std::lock_guard<std::mutex> g(mu_);
  overlay_[std::string(key)] = std::nullopt;
  return existed;
}

std::map<std::string, std::string> OverlayStateStore::scan(std::string_view prefix) {
  auto out = base_ ? base_->scan(prefix) : std::map<std::string, std::string>{};
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [k, v] : overlay_) {
    if (k.compare(0, prefix.size(), prefix) != 0) continue;
    if (v) {
      out[k] = *v;
    } else {
      out.erase(k);
    }
  }
  return out;
}

std::optional<std::string> MemoryStateStore::get(std::string_view key) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

void MemoryStateStore::put(std::string_view key, std::string_view value) {
  std::lock_guard<std::mutex> g(mu_);
  data_[std::string(key)] = std::string(value);
}

bool MemoryStateStore::erase(std::string_view key) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return false;
  data_.erase(it);
  return true;
}

std::map<std::string, std::string> MemoryStateStore::scan(std::string_view prefix) {
  std::lock_guard<std::mutex> g(mu_);
  std::map<std::string, std::string> out;
  for (auto it = data_.lower_bound(prefix); it != data_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    out.emplace(it->first, it->second);
  }
  return out;
}

}  // namespace progcap::core
