// The hybrid routing rule and jobs.yaml: every rule at its boundaries,
// validation of requests, configuration errors with file:line:col.
#include <progcap/core/jobs.hpp>

#include <gtest/gtest.h>

using namespace progcap::core;
using namespace progcap::core::jobs;

namespace {

JobRequest req(std::optional<int64_t> days, std::vector<int64_t> prs = {}, std::optional<int64_t> max_items = std::nullopt,
               Trigger t = Trigger::Automatic) {
  JobRequest r;
  r.job_type = "pr-details";
  r.repository = "acme/widgets";
  r.time_range_days = days;
  r.pr_numbers = std::move(prs);
  r.max_items = max_items;
  r.trigger = t;
  return r;
}

std::vector<int64_t> numbers(int n) {
  std::vector<int64_t> v;
  for (int i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

TEST(JobRouting, EveryRuleAtItsBoundaries) {
  const RoutingConfig cfg;  // 1 day, 10 PRs, 50 items
  // Recent data: exactly 24 h is real-time, more is bulk.
  EXPECT_EQ(route(req(1), cfg).lane, "realtime");
  EXPECT_EQ(route(req(0), cfg).lane, "realtime");
  EXPECT_EQ(route(req(2), cfg).lane, "bulk");
  // A handful of PR numbers: exactly 10 is real-time, 11 bulk.
  EXPECT_EQ(route(req(std::nullopt, numbers(10)), cfg).lane, "realtime");
  EXPECT_EQ(route(req(std::nullopt, numbers(11)), cfg).lane, "bulk");
  EXPECT_EQ(route(req(std::nullopt, numbers(1)), cfg).lane, "realtime");
  // A small manual request: max_items exactly 50 is real-time, 51 bulk; not for automatic triggers.
  EXPECT_EQ(route(req(30, {}, 50, Trigger::Manual), cfg).lane, "realtime");
  EXPECT_EQ(route(req(30, {}, 51, Trigger::Manual), cfg).lane, "bulk");
  EXPECT_EQ(route(req(30, {}, 50, Trigger::Automatic), cfg).lane, "bulk");
  EXPECT_EQ(route(req(std::nullopt, {}, std::nullopt, Trigger::Manual), cfg).lane, "bulk");  // no size given: not "small"
  // Scheduled work is always bulk, even for recent data.
  EXPECT_EQ(route(req(1, {}, 10, Trigger::Scheduled), cfg).lane, "bulk");
  EXPECT_EQ(route(req(std::nullopt, numbers(2), std::nullopt, Trigger::Scheduled), cfg).lane, "bulk");
  // Older or larger: bulk; no time range given means the pipelines' default (30 days).
  EXPECT_EQ(route(req(std::nullopt), cfg).lane, "bulk");
}

TEST(JobRouting, TheDecidingRuleIsNamedAndDeterministic) {
  const RoutingConfig cfg;
  EXPECT_EQ(route(req(1), cfg).rule, "time_range 1 day(s) <= 1 (recent data)");
  EXPECT_EQ(route(req(std::nullopt, numbers(3)), cfg).rule, "3 PR number(s) <= 10");
  EXPECT_EQ(route(req(std::nullopt, numbers(12)), cfg).rule, "12 PR numbers > 10");
  EXPECT_EQ(route(req(30, {}, 20, Trigger::Manual), cfg).rule, "manual request of max_items 20 <= 50");
  EXPECT_EQ(route(req(1, {}, std::nullopt, Trigger::Scheduled), cfg).rule, "scheduled trigger");
  EXPECT_EQ(route(req(90, {}, 1000), cfg).rule, "time_range 90 day(s), max_items 1000: older or larger than real-time");
  for (int i = 0; i < 100; ++i) EXPECT_EQ(route(req(7, {}, 500), cfg).lane, "bulk");  // no randomness
  RoutingConfig wide;
  wide.realtime_max_time_range_days = 7;
  EXPECT_EQ(route(req(7), wide).lane, "realtime");
}

const char* kConfig = R"(routing: {realtime_max_time_range_days: 1}
lanes:
  realtime: {lease: 30s, max_attempts: 4, retry_backoff: 5s}
job_types:
  pr-details: {pipeline: capture-pr-details, workflow: capture-pr-details.yml, inputs: [repository_name, job_id]}
  bulk: {fan_out: [pr-details]}
)";

TEST(JobRouting, RequestsAreValidated) {
  const JobsConfig cfg = load_jobs_config_text(kConfig, "jobs.yaml");
  EXPECT_EQ(cfg.lane("realtime").lease, std::chrono::seconds(30));
  EXPECT_EQ(cfg.lane("realtime").max_attempts, 4);
  EXPECT_EQ(cfg.lane("bulk").lease, std::chrono::minutes(10));  // default
  auto why = [&](JobRequest r) -> std::string {
    try {
      validate(r, cfg);
      return "";
    } catch (const RequestError& e) {
      return e.what();
    }
  };
  EXPECT_EQ(why(req(1)), "");
  JobRequest bad = req(1);
  bad.job_type = "pr-detail";
  EXPECT_NE(why(bad).find("unknown job type 'pr-detail' (did you mean 'pr-details'?)"), std::string::npos) << why(bad);
  EXPECT_NE(why(req(3, {1, 2})).find("--pr-numbers and --time-range conflict"), std::string::npos);
  JobRequest repo = req(1);
  repo.repository = "widgets";
  EXPECT_NE(why(repo).find("must be OWNER/NAME"), std::string::npos);
  JobRequest shards = req(1);
  shards.shards = 4;
  EXPECT_NE(why(shards).find("apply to bulk job types"), std::string::npos);
  JobRequest bulk = req(30);
  bulk.job_type = "bulk";
  bulk.capture_types = {"reviews"};
  EXPECT_NE(why(bulk).find("capture type 'reviews' is not one of bulk's: pr-details"), std::string::npos);
  bulk.capture_types = {"pr-details"};
  bulk.shards = 65;
  EXPECT_NE(why(bulk).find("--shards must be 1..64"), std::string::npos);
}

TEST(JobRouting, ConfigurationErrorsNameFileLineAndColumn) {
  auto errors = [](const std::string& text) -> std::string {
    try {
      (void)load_jobs_config_text(text, "jobs.yaml");
      return "";
    } catch (const ConfigError& e) {
      std::string all;
      for (const auto& d : e.diagnostics()) all += d.str() + "\n";
      return all;
    }
  };
  EXPECT_NE(errors("job_types:\n  a: {pipeline: p, fan_out: [b]}\n").find("jobs.yaml:2:3: job type 'a' needs exactly one of pipeline, fan_out or builtin"),
            std::string::npos);
  EXPECT_NE(errors("lanes:\n  fast: {lease: 1s}\njob_types: {}\n").find("jobs.yaml:2:3: unknown lane 'fast'"), std::string::npos);
  EXPECT_NE(errors("lanes:\n  bulk: {lease: soon}\njob_types: {}\n").find("jobs.yaml:2:17: lanes.bulk.lease must be a duration"),
            std::string::npos);
  EXPECT_NE(errors("job_types:\n  b: {fan_out: [nope]}\n").find("fans out into 'nope', which is not a job type"), std::string::npos);
  EXPECT_NE(errors("job_types:\n  a: {pipeline: p, workflow: a.yml}\n").find("has a workflow but no inputs"), std::string::npos);
  EXPECT_NE(errors("routing: {realtime_max_pr_numbers: many}\njob_types: {}\n").find("jobs.yaml:1:36: routing.realtime_max_pr_numbers must be an integer"),
            std::string::npos);
  EXPECT_NE(errors("job_types: [\n").find("jobs.yaml:"), std::string::npos);
}

TEST(JobRouting, TheBundledConfigurationLoads) {
  const JobsConfig cfg = load_jobs_config(PROGCAP_SOURCE_DIR "/pipelines/jobs/jobs.yaml");
  for (const char* t : {"pr-details", "reviews", "comments", "historical-pr-sync", "bulk-capture"}) EXPECT_NE(cfg.type(t), nullptr) << t;
  EXPECT_EQ(cfg.type("bulk-capture")->fan_out, (std::vector<std::string>{"pr-details", "reviews", "comments"}));
  EXPECT_EQ(cfg.routing.realtime_max_time_range_days, 1);
  EXPECT_EQ(cfg.routing.realtime_max_pr_numbers, 10);
  EXPECT_EQ(cfg.routing.realtime_manual_max_items, 50);
}

}  // namespace
