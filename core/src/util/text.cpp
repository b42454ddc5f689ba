#include <progcap/core/text.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace progcap::core::text {

size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: insertions, deletions, substitutions and
  // adjacent transpositions ("stesp" -> "steps" is one edit).
  auto eq = [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y)); };
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (eq(a[i - 1], b[j - 1]) ? 0 : 1)});
      if (i > 1 && j > 1 && eq(a[i - 1], b[j - 2]) && eq(a[i - 2], b[j - 1])) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::string::npos;
  // Accept up to a third of the word's length (at least 1, at most 3 edits).
  const size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3);
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    // A word that is a prefix of a candidate ("repository" of
    // "repository_name") is a likely abbreviation.
    if (d > limit && word.size() >= 4 && c.size() > word.size() && std::string_view(c).substr(0, word.size()) == word) d = limit;
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best_d <= limit ? best : std::string();
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string c = closest(word, candidates);
  return c.empty() ? std::string() : " (did you mean '" + c + "'?)";
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += sep;
    out += items[i];
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool parse_duration_ms(std::string_view s, long long& out_ms) {
  s = trim(s);
  if (s.empty()) return false;
  size_t i = 0;
  long long value = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (value > 1'000'000'000'000LL) return false;
    value = value * 10 + (s[i] - '0');
    ++i;
  }
  if (i == 0) return false;
  const std::string_view unit = s.substr(i);
  long long mult = 0;
  if (unit.empty() || unit == "ms") {
    mult = 1;
  } else if (unit == "s") {
    mult = 1000;
  } else if (unit == "m" || unit == "min") {
    mult = 60'000;
  } else if (unit == "h") {
    mult = 3'600'000;
  } else if (unit == "d") {
    mult = 86'400'000;
  } else {
    return false;
  }
  out_ms = value * mult;
  return true;
}

std::string human_duration(long long ms) {
  char buf[64];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", ms);
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", ms / 60'000, (ms / 1000) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", ms / 3'600'000, (ms / 60'000) % 60);
  }
  return buf;
}

}  // namespace progcap::core::text
