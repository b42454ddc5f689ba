#include <progcap/core/diagnostics.hpp>

namespace progcap::core {

std::string Location::str() const {
  if (file.empty()) return line > 0 ? std::to_string(line) + ":" + std::to_string(column) : std::string();
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string Diagnostic::str() const {
  std::string loc = where.str();
  return loc.empty() ? message : loc + ": " + message;
}

void Diagnostics::throw_if_any() const {
  if (!items_.empty()) throw ConfigError(items_);
}

namespace {
std::string first_message(const std::vector<Diagnostic>& d) { return d.empty() ? "invalid configuration" : d.front().str(); }
}  // namespace

ConfigError::ConfigError(std::vector<Diagnostic> diags) : std::runtime_error(first_message(diags)), diags_(std::move(diags)) {}

ConfigError::ConfigError(Location where, const std::string& message)
    : ConfigError(std::vector<Diagnostic>{Diagnostic{std::move(where), message}}) {}

}  // namespace progcap::core
