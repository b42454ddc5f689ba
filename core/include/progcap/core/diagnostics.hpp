// progcap — configuration diagnostics with file:line:col locations.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace progcap::core {

/// A position in a configuration file; line and column are 1-based, 0 = unknown.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  [[nodiscard]] std::string str() const;
};

struct Diagnostic {
  Location where;
  std::string message;

  /// "file:line:col: message" (or "file: message" without a position).
  [[nodiscard]] std::string str() const;
};

/// A list of diagnostics; thrown as ConfigError when non-empty.
class Diagnostics {
 public:
  void add(Location where, std::string message) { items_.push_back({std::move(where), std::move(message)}); }
  void append(const Diagnostics& other) { items_.insert(items_.end(), other.items_.begin(), other.items_.end()); }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
  [[nodiscard]] const std::vector<Diagnostic>& items() const noexcept { return items_; }
  /// Throws ConfigError if any diagnostic was recorded.
  void throw_if_any() const;

 private:
  std::vector<Diagnostic> items_;
};

/// Invalid configuration: exit code 78 with one line per diagnostic.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Diagnostic> diags);
  ConfigError(Location where, const std::string& message);
  [[nodiscard]] const std::vector<Diagnostic>& diagnostics() const noexcept { return diags_; }

 private:
  std::vector<Diagnostic> diags_;
};

}  // namespace progcap::core
