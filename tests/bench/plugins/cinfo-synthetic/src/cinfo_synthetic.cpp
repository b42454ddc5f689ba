// Benchmark-only source: deterministic rows in the capture streams' exact
// schemas (github-common), at any volume, without GitHub. `variant` changes
// every PR and child row (an all-changed reload). Never installed.
#include <progcap/github/records.hpp>
#include <progcap/sdk/plugin.hpp>

#include <string>

namespace progcap::bench {

namespace gh = progcap::github;

class CinfoSynthetic final : public sdk::Source {
 public:
  static constexpr std::string_view kType = "cinfo-synthetic";
  static constexpr std::string_view kDescription = "Deterministic contributor.info rows for benchmarks.";
  static inline const auto kPrs = sdk::option<int64_t>("prs").default_value(1000).range(0, 100000000);
  static inline const auto kUsers = sdk::option<int64_t>("users").default_value(5000).range(1, 10000000);
  static inline const auto kFiles = sdk::option<int64_t>("files_per_pr").default_value(1).range(0, 1000);
  static inline const auto kReviews = sdk::option<int64_t>("reviews_per_pr").default_value(2).range(0, 1000);
  static inline const auto kComments = sdk::option<int64_t>("comments_per_pr").default_value(2).range(0, 1000);
  static inline const auto kVariant = sdk::option<int64_t>("variant").default_value(0).range(0, 1000000);
  static sdk::OptionList options() { return {kPrs, kUsers, kFiles, kReviews, kComments, kVariant}; }
  static std::vector<const sdk::Stream*> streams() {
    return {&gh::repositories_stream(), &gh::contributors_stream(), &gh::pull_requests_stream(), &gh::pull_request_files_stream(),
            &gh::reviews_stream(), &gh::comments_stream()};
  }

  CinfoSynthetic(sdk::Context ctx, const sdk::Config& cfg)
      : sdk::Source(ctx), prs_(cfg.get(kPrs)), users_(cfg.get(kUsers)), files_(cfg.get(kFiles)), reviews_(cfg.get(kReviews)),
        comments_(cfg.get(kComments)), variant_(cfg.get(kVariant)) {}

  sdk::Status poll(sdk::Emitter& out) override {
    if (!started_) {
      started_ = true;
      emit_parents(out);
      return sdk::Status::Ok;
    }
    const int64_t end = std::min(prs_, next_ + 500);
    for (; next_ < end; ++next_) emit_pr(out, next_);
    return next_ >= prs_ ? sdk::Status::Done : sdk::Status::Ok;
  }

 private:
  static constexpr int64_t kRepo = 424242;
  static constexpr int64_t kT0 = 1704067200000000LL;  // 2024-01-01

  void emit_parents(sdk::Emitter& out) {
    sdk::Row r(gh::repositories_stream().size());
    r.set(0, kRepo).set(1, "bench/big").set(2, "bench").set(3, "big").set(4, "benchmark repository");
    out.emit(0, r);
    sdk::Row u(gh::contributors_stream().size());
    for (int64_t i = 1; i <= users_; ++i) {
      u.clear();
      const std::string login = "user" + std::to_string(i);
      u.set_owned(1, login);
      u.set(0, 1000 + i).set(5, false);
      u.set_owned(3, "https://avatars.example/u/" + std::to_string(i));
      u.set_owned(4, "https://github.com/" + login);
      out.emit(1, u);
    }
  }

  void emit_pr(sdk::Emitter& out, int64_t i) {
    const std::string v = std::to_string(variant_);
    const int64_t pr_id = 5000000000 + i;
    const int64_t author = 1000 + 1 + (i % users_);
    title_ = "Improve the pipeline number " + std::to_string(i) + " (v" + v + ")";
    body_ = "This pull request changes the batching of stage " + std::to_string(i) +
            ". It keeps checkpoints ordered, fixes a retry edge case and adds tests. Revision " + v + ".";
    sdk::Row p(gh::pull_requests_stream().size());
    p.set(0, pr_id).set(1, kRepo).set(2, "bench/big").set(3, i + 1).set(4, std::string_view(title_)).set(5, std::string_view(body_));
    p.set(6, i % 3 == 0 ? "closed" : "open").set(7, false).set(8, i % 3 == 0).set(11, author).set(12, "user");
    p.set(13, "main").set(16, (i * 7 + variant_) % 500).set(17, (i * 3) % 200);
    p.set_owned(14, "feature-" + std::to_string(i));
    p.set(18, files_).set(19, 1 + i % 5).set(22, sdk::Timestamp{kT0 + i * 60000000}).set(23, sdk::Timestamp{kT0 + i * 60000000 + variant_ * 1000000});
    if (i % 3 == 0) p.set(9, sdk::Timestamp{kT0 + i * 60000000 + 3600000000LL}).set(24, sdk::Timestamp{kT0 + i * 60000000 + 3600000000LL});
    url_ = "https://github.com/bench/big/pull/" + std::to_string(i + 1);
    p.set(25, std::string_view(url_));
    out.emit(2, p);
    sdk::Row f(gh::pull_request_files_stream().size());
    for (int64_t k = 0; k < files_; ++k) {
      f.clear();
      f.set(0, pr_id).set_owned(1, "src/module_" + std::to_string(k) + "/file_" + std::to_string(i % 97) + ".cpp");
      f.set(2, "bench/big").set(3, i + 1).set(4, "modified").set(5, k + variant_).set(6, k).set(7, 2 * k + variant_);
      out.emit(3, f);
    }
    sdk::Row rv(gh::reviews_stream().size());
    for (int64_t k = 0; k < reviews_; ++k) {
      rv.clear();
      rv.set(0, 7000000000 + i * 100 + k).set(1, pr_id).set(2, i + 1).set(3, "bench/big").set(4, 1000 + 1 + ((i + k + 1) % users_));
      rv.set(5, k % 2 == 0 ? "APPROVED" : "COMMENTED").set_owned(6, "Looks good, revision " + v).set(7, sdk::Timestamp{kT0 + i * 60000000 + k * 1000000});
      out.emit(4, rv);
    }
    sdk::Row c(gh::comments_stream().size());
    for (int64_t k = 0; k < comments_; ++k) {
      c.clear();
      const int64_t id = 9000000000 + i * 100 + k;
      c.set(0, id).set(1, k % 2 == 0 ? "issue_comment" : "review_comment").set(2, "bench/big").set(3, i + 1).set(4, pr_id);
      c.set(5, 1000 + 1 + ((i + 2 * k) % users_)).set_owned(6, "Comment " + std::to_string(k) + " on change " + std::to_string(i) + ", revision " + v);
      c.set(7, sdk::Timestamp{kT0 + i * 60000000 + k * 2000000}).set(8, sdk::Timestamp{kT0 + i * 60000000 + k * 2000000 + variant_ * 1000000});
      if (k % 2 == 1) c.set(14, "src/module_0/file.cpp").set(11, k).set(12, k);
      if (k >= 3 && k % 2 == 1) c.set(9, id - 2);  // a reply to the previous review comment
      out.emit(5, c);
    }
  }

  int64_t prs_, users_, files_, reviews_, comments_, variant_;
  int64_t next_ = 0;
  bool started_ = false;
  std::string title_, body_, url_;
};

}  // namespace progcap::bench

PROGCAP_DECLARE_PLUGIN("source-bench-cinfo", PROGCAP_PLUGIN_VERSION_STRING, "benchmark data", progcap::bench::CinfoSynthetic)
