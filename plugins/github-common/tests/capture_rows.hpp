// Test support for the sinks' unit tests: rows of the GitHub capture streams
// (github-common's records.hpp), built as FakeHost values in stream field order.
#pragma once

#include <progcap/github/records.hpp>
#include <progcap/sdk/testing/fake_host.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace progcap::github::testing {

using sdk::testing::FakeHost;
using sdk::testing::OwnedRow;
using sdk::testing::OwnedValue;

inline constexpr int64_t kT0 = 1735689600000000LL;  // 2025-01-01T00:00:00Z

inline OwnedValue I(int64_t v) { return FakeHost::integer(v); }
inline OwnedValue S(std::string v) { return FakeHost::str(std::move(v)); }
inline OwnedValue B(bool v) { return FakeHost::boolean(v); }
inline OwnedValue N() { return FakeHost::null(); }
inline OwnedValue TS(int64_t micros) { return FakeHost::timestamp(micros); }

/// repositories: github_id, full_name, owner, name, the rest null.
inline OwnedRow repo(int64_t id, const std::string& full_name) {
  const auto slash = full_name.find('/');
  OwnedRow r = {I(id), S(full_name), S(full_name.substr(0, slash)), S(full_name.substr(slash + 1))};
  while (r.size() < repositories_stream().size()) r.push_back(N());
  return r;
}
/// contributors
inline OwnedRow user(int64_t id, const std::string& login) {
  return {I(id), S(login), N(), S("https://avatars/" + login), S("https://github.com/" + login), B(false)};
}
/// pull_requests of acme/widgets (repository github_id 1); `additions` null = unknown.
inline OwnedRow pr(int64_t id, int64_t number, const std::string& title, int64_t author, std::optional<int64_t> additions = 10) {
  return {I(id),          I(1),          S("acme/widgets"), I(number),    S(title), S("body of " + title),
          S("open"),      B(false),      B(false),          N(),          N(),      I(author),
          S("login"),     S("main"),     S("feature"),      S("abc123"),  additions ? I(*additions) : N(),
          I(2),           I(3),          I(1),              N(),          N(),      TS(kT0),
          TS(kT0 + 1000), N(),           S("https://github.com/acme/widgets/pull/" + std::to_string(number)),
          N(),            N()};
}
/// reviews
inline OwnedRow review(int64_t id, int64_t pr_id, int64_t author, const std::string& state) {
  return {I(id), I(pr_id), I(1), S("acme/widgets"), I(author), S(state), S("lgtm"), TS(kT0 + 5000), S("abc123"), N()};
}

}  // namespace progcap::github::testing
