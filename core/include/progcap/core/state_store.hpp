// progcap — durable key-value state for checkpoints and caches.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace progcap::core {

/// The state store interface (pluggable: a file by default; a database-backed
/// store can implement the same contract). Thread-safe.
class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual std::optional<std::string> get(std::string_view key) = 0;
  /// Visible immediately; durable at the next commit() or close.
  virtual void put(std::string_view key, std::string_view value) = 0;
  virtual bool erase(std::string_view key) = 0;
  /// put() + make everything written so far durable (fdatasync).
  virtual void commit(std::string_view key, std::string_view value) = 0;
  virtual void sync() = 0;
  /// All keys starting with `prefix` (for `progcap state` inspection).
  virtual std::map<std::string, std::string> scan(std::string_view prefix) = 0;
};

/// An append-only journal file `<dir>/<name>.state` (one JSON line per put
/// or delete), replayed on open and compacted when mostly garbage. A torn last
/// line (crash mid-write) is ignored. The file is locked (flock) for the
/// lifetime of the store: a second process using the same file gets a clear
/// error instead of corrupting it.
class FileStateStore final : public StateStore {
 public:
  FileStateStore(const std::filesystem::path& dir, const std::string& name);
  ~FileStateStore() override;
  FileStateStore(const FileStateStore&) = delete;
  FileStateStore& operator=(const FileStateStore&) = delete;

  std::optional<std::string> get(std::string_view key) override;
  void put(std::string_view key, std::string_view value) override;
  bool erase(std::string_view key) override;
  void commit(std::string_view key, std::string_view value) override;
  void sync() override;
  std::map<std::string, std::string> scan(std::string_view prefix) override;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void append_line(const std::string& line);
  void compact_locked();

  std::filesystem::path path_;
  int fd_ = -1;
  std::mutex mu_;
  std::map<std::string, std::string, std::less<>> data_;
  size_t file_bytes_ = 0;
  size_t live_bytes_ = 0;
  bool dirty_ = false;
};

/// Dry-run overlay: reads fall through to `base`, writes stay in memory, so a
/// dry run never moves the real checkpoints.
class OverlayStateStore final : public StateStore {
 public:
  explicit OverlayStateStore(std::shared_ptr<StateStore> base) : base_(std::move(base)) {}
  std::optional<std::string> get(std::string_view key) override;
  void put(std::string_view key, std::string_view value) override;
  bool erase(std::string_view key) override;
  void commit(std::string_view key, std::string_view value) override { put(key, value); }
  void sync() override {}
  std::map<std::string, std::string> scan(std::string_view prefix) override;

 private:
  std::shared_ptr<StateStore> base_;
  std::mutex mu_;
  std::map<std::string, std::optional<std::string>, std::less<>> overlay_;
};

/// A purely in-memory store (tests, --no-state).
class MemoryStateStore final : public StateStore {
 public:
  std::optional<std::string> get(std::string_view key) override;
  void put(std::string_view key, std::string_view value) override;
  bool erase(std::string_view key) override;
  void commit(std::string_view key, std::string_view value) override { put(key, value); }
  void sync() override {}
  std::map<std::string, std::string> scan(std::string_view prefix) override;

 private:
  std::mutex mu_;
  std::map<std::string, std::string, std::less<>> data_;
};

}  // namespace progcap::core
