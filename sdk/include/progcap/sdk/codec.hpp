// progcap C++ SDK — small, allocation-light codecs shared by plugins and the
// host: RFC 3339 timestamps and JSON rendering of rows (exact int64, UTC
// timestamps, shortest round-trip doubles).
#pragma once

#include <progcap/abi/progcap_plugin.h>
#include <progcap/sdk/status.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace progcap::sdk {

namespace detail {
// Howard Hinnant's days_from_civil / civil_from_days (public domain).
constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
struct Civil {
  int64_t y;
  unsigned m, d;
};
constexpr Civil civil_from_days(int64_t z) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{y + (m <= 2 ? 1 : 0), m, d};
}
inline void put2(std::string& out, unsigned v) {
  out += static_cast<char>('0' + v / 10);
  out += static_cast<char>('0' + v % 10);
}
}  // namespace detail

/// Appends `micros` (since the epoch, UTC) as RFC 3339: 2024-05-01T12:00:00Z,
/// with .mmm or .uuuuuu only when the sub-second part is non-zero.
inline void append_rfc3339(std::string& out, int64_t micros) {
  int64_t secs = micros / 1000000;
  int64_t frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  const auto c = detail::civil_from_days(days);
  char ybuf[24];
  auto [p, ec] = std::to_chars(ybuf, ybuf + sizeof(ybuf), c.y);
  (void)ec;
  for (auto n = p - ybuf; n < 4; ++n) out += '0';
  out.append(ybuf, p);
  out += '-';
  detail::put2(out, c.m);
  out += '-';
  detail::put2(out, c.d);
  out += 'T';
  detail::put2(out, static_cast<unsigned>(rem / 3600));
  out += ':';
  detail::put2(out, static_cast<unsigned>((rem / 60) % 60));
  out += ':';
  detail::put2(out, static_cast<unsigned>(rem % 60));
  if (frac != 0) {
    out += '.';
    if (frac % 1000 == 0) {
      auto ms = static_cast<unsigned>(frac / 1000);
      out += static_cast<char>('0' + ms / 100);
      detail::put2(out, ms % 100);
    } else {
      char fb[8];
      auto f = static_cast<unsigned>(frac);
      for (int i = 5; i >= 0; --i) {
        fb[i] = static_cast<char>('0' + f % 10);
        f /= 10;
      }
      out.append(fb, 6);
    }
  }
  out += 'Z';
}

inline std::string format_rfc3339(int64_t micros) {
  std::string s;
  append_rfc3339(s, micros);
  return s;
}

/// Parses RFC 3339 / ISO 8601 date-times such as 2024-05-01T12:00:00Z,
/// 2024-05-01T12:00:00.123+02:00 or 2024-05-01 12:00:00Z. Returns microseconds
/// since the epoch (UTC), or nullopt when malformed.
inline std::optional<int64_t> parse_rfc3339(std::string_view s) {
  auto num = [&](size_t pos, size_t len, int& out) -> bool {
    if (pos + len > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!num(0, 4, y) || s.size() < 10 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' || !num(8, 2, d)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  if (s.size() == 10) {  // date only: midnight UTC
    return detail::days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400LL * 1000000LL;
  }
  if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !num(11, 2, h) || s.size() < 19 || s[13] != ':' ||
      !num(14, 2, mi) || s[16] != ':' || !num(17, 2, se)) {
    return std::nullopt;
  }
  if (h > 23 || mi > 59 || se > 60) return std::nullopt;
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 6) {
        frac = frac * 10 + (s[i] - '0');
        ++digits;
      }
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 6; ++digits) frac *= 10;
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (!num(i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !num(i + 4, 2, om)) return std::nullopt;
    offset = (oh * 3600LL + om * 60LL) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return std::nullopt;  // a zone is required
  }
  if (i != s.size()) return std::nullopt;
  const int64_t days = detail::days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const int64_t secs = days * 86400 + h * 3600LL + mi * 60LL + se - offset;
  return secs * 1000000LL + frac;
}

/// Appends `s` as a JSON string literal (UTF-8 passes through unchanged).
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t run = 0;  // start of the pending unescaped run
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

/// Appends one value as JSON. Timestamps become RFC 3339 strings, int64 is
/// exact, non-finite doubles become null, JSON values are embedded verbatim.
inline void append_json_value(std::string& out, const progcap_value& v) {
  switch (v.type) {
    case PROGCAP_TYPE_BOOL: out += v.v.b ? "true" : "false"; break;
    case PROGCAP_TYPE_INT64: {
      char buf[24];
      auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v.v.i64);
      (void)ec;
      out.append(buf, p);
      break;
    }
    case PROGCAP_TYPE_DOUBLE: {
      if (!std::isfinite(v.v.f64)) {
        out += "null";
        break;
      }
      char buf[32];
      auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v.v.f64);
      (void)ec;
      out.append(buf, p);
      break;
    }
    case PROGCAP_TYPE_STRING: append_json_string(out, from_abi(v.v.str)); break;
    case PROGCAP_TYPE_TIMESTAMP:
      out += '"';
      append_rfc3339(out, v.v.i64);
      out += '"';
      break;
    case PROGCAP_TYPE_JSON:
      if (v.v.str.len == 0) {
        out += "null";
      } else {
        out += from_abi(v.v.str);
      }
      break;
    default: out += "null"; break;
  }
}

/// Appends one row as a JSON object whose keys are the schema's field names.
inline void append_json_row(std::string& out, const progcap_schema& schema, const progcap_value* row) {
  out += '{';
  for (uint32_t f = 0; f < schema.field_count; ++f) {
    if (f != 0) out += ',';
    append_json_string(out, from_abi(schema.fields[f]->name));
    out += ':';
    append_json_value(out, row[f]);
  }
  out += '}';
}

}  // namespace progcap::sdk
