// progcap — small text helpers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace progcap::core::text {

/// Levenshtein distance (for did-you-mean suggestions).
size_t edit_distance(std::string_view a, std::string_view b);

/// The closest candidate within a sensible distance, or "".
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

/// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

/// "a, b, c"
std::string join(const std::vector<std::string>& items, std::string_view sep = ", ");

std::vector<std::string> split(std::string_view s, char sep);
std::string_view trim(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);

/// Parses "250ms", "30s", "5m", "2h", "1d" or a plain integer (milliseconds).
/// Returns false when malformed.
bool parse_duration_ms(std::string_view s, long long& out_ms);

/// Formats milliseconds for humans: "850ms", "12.3s", "4m05s", "2h10m".
std::string human_duration(long long ms);

}  // namespace progcap::core::text
