// Pipeline files: structure, inputs, interpolation and option validation,
// with the exact file:line:col diagnostics users see.
#include <progcap/core/host_services.hpp>
#include <progcap/core/pipeline.hpp>

#include <gtest/gtest.h>

#include <cstdlib>

using namespace progcap::core;

namespace {

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new PluginRegistry(host_api());
    registry_->discover({PROGCAP_PLUGIN_DIR});
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }

  /// Returns the diagnostics of loading+resolving `yaml` (empty when valid).
  static std::vector<std::string> errors(const std::string& yaml, ResolveOptions opts = {}) {
    try {
      auto spec = load_pipeline_text(yaml, "p.yaml");
      resolve_pipeline(spec, *registry_, opts);
      return {};
    } catch (const ConfigError& e) {
      std::vector<std::string> out;
      for (const auto& d : e.diagnostics()) out.push_back(d.str());
      return out;
    }
  }
  static ResolvedPipeline resolve(const std::string& yaml, ResolveOptions opts = {}) {
    return resolve_pipeline(load_pipeline_text(yaml, "p.yaml"), *registry_, opts);
  }
  static const ConfigValue* option(const ResolvedComponent& c, const std::string& name) {
    for (const auto& [k, v] : c.options) {
      if (k == name) return &v;
    }
    return nullptr;
  }

  static PluginRegistry* registry_;
};
PluginRegistry* PipelineTest::registry_ = nullptr;

const char* kMinimal = R"(name: t
steps:
  - name: s
    source: {type: synthetic}
    sinks: [{type: ndjson, options: {directory: /tmp/x}}]
)";

::testing::AssertionResult has(const std::vector<std::string>& errs, const std::string& needle) {
  for (const auto& e : errs) {
    if (e.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  }
  std::string all;
  for (const auto& e : errs) all += "\n  " + e;
  return ::testing::AssertionFailure() << "no diagnostic contains '" << needle << "'; got:" << all;
}

TEST_F(PipelineTest, MinimalPipelineResolvesWithDefaults) {
  auto p = resolve(kMinimal);
  ASSERT_EQ(p.steps.size(), 1u);
  const auto* records = option(p.steps[0].source, "records");
  ASSERT_NE(records, nullptr);
  EXPECT_EQ(records->type, PROGCAP_TYPE_INT64);
  EXPECT_EQ(records->i, 1000);
  EXPECT_EQ(option(p.steps[0].sinks[0], "mode")->s, "replace");
}

TEST_F(PipelineTest, MalformedYamlReportsLineAndColumn) {
  auto errs = errors("name: t\nsteps:\n  - name: [unclosed\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_TRUE(has(errs, "p.yaml:4:1: YAML syntax error")) << errs[0];
}

TEST_F(PipelineTest, UnknownKeysAreErrorsWithSuggestions) {
  auto errs = errors("name: t\nstesp: []\n");
  EXPECT_TRUE(has(errs, "p.yaml:2:1: unknown key 'stesp' in the pipeline (did you mean 'steps'?)"));
  EXPECT_TRUE(has(errs, "the pipeline needs 'steps'"));
}

TEST_F(PipelineTest, UnknownSourceTypeListsAvailableOnes) {
  auto errs = errors("name: t\nsteps:\n  - name: s\n    source: {type: synthetik}\n    sinks: [{type: blackhole}]\n");
  EXPECT_TRUE(has(errs, "p.yaml:4:20: step 's': unknown source type 'synthetik' (did you mean 'synthetic'?)"));
}

TEST_F(PipelineTest, UnknownOptionListsAllowedKeysWithDidYouMean) {
  auto errs = errors(R"(name: t
steps:
  - name: s
    source:
      type: synthetic
      options:
        recrods: 5
    sinks: [{type: blackhole}]
)");
  EXPECT_TRUE(has(errs, "p.yaml:7:9: source 'synthetic' has no option 'recrods' (did you mean 'records'?); allowed: records, seed"));
}

TEST_F(PipelineTest, WrongOptionTypeIsAnError) {
  auto errs = errors(R"(name: t
steps:
  - name: s
    source: {type: synthetic, options: {records: many, resume: perhaps}}
    sinks: [{type: ndjson, options: {directory: /tmp/x, mode: overwrite}}]
)");
  EXPECT_TRUE(has(errs, "p.yaml:4:50: option 'records' expects an integer, found 'many'"));
  EXPECT_TRUE(has(errs, "option 'resume' expects true or false, found 'perhaps'"));
  EXPECT_TRUE(has(errs, "option 'mode': 'overwrite' is not one of replace, append"));
}

TEST_F(PipelineTest, RangeChecksAndRequiredOptions) {
  auto errs = errors(R"(name: t
steps:
  - name: s
    source: {type: synthetic, options: {rows_per_poll: 0}}
    transforms: [{type: filter}]
    sinks: [{type: blackhole}]
)");
  EXPECT_TRUE(has(errs, "option 'rows_per_poll' must be between 1 and 1000000, found 0"));
  EXPECT_TRUE(has(errs, "transform 'filter' needs option 'field'"));
}

TEST_F(PipelineTest, InputsAreTypedInterpolatedAndValidated) {
  const char* yaml = R"(name: t
inputs:
  n: {type: int, default: 7, min: 1}
  repo: {type: string, required: true, pattern: '^[^/]+/[^/]+$'}
  dir: {default: /tmp/out}
steps:
  - name: s
    source: {type: synthetic, options: {records: "${inputs.n}"}}
    sinks: [{type: ndjson, options: {directory: "${inputs.dir}/${inputs.repo}"}}]
)";
  ResolveOptions o;
  o.overrides = {{"repo", "acme/widgets"}};
  auto p = resolve(yaml, o);
  EXPECT_EQ(option(p.steps[0].source, "records")->i, 7);
  EXPECT_EQ(option(p.steps[0].sinks[0], "directory")->s, "/tmp/out/acme/widgets");

  o.overrides = {{"repo", "not-a-repo"}, {"n", "0"}};
  auto errs = errors(yaml, o);
  EXPECT_TRUE(has(errs, "p.yaml:4:3: input 'repo' 'not-a-repo' does not match the pattern ^[^/]+/[^/]+$"));
  EXPECT_TRUE(has(errs, "input 'n' must be >= 1, found 0"));

  errs = errors(yaml);
  EXPECT_TRUE(has(errs, "p.yaml:4:3: missing required input 'repo'; pass --set repo=VALUE"));

  o.overrides = {{"rpo", "a/b"}};
  errs = errors(yaml, o);
  EXPECT_TRUE(has(errs, "--set rpo: the pipeline 't' has no input 'rpo' (did you mean 'repo'?)"));
}

TEST_F(PipelineTest, ListInputsAcceptCommaSeparatedAndCheckItems) {
  const char* yaml = R"(name: t
inputs:
  prs: {type: list, pattern: '^[0-9]+$', unique: true, default: []}
steps:
  - name: s
    source: {type: synthetic}
    transforms: [{type: filter, options: {field: note, op: contains, value: "prs=${inputs.prs}"}}]
    sinks: [{type: blackhole}]
)";
  ResolveOptions o;
  o.overrides = {{"prs", "12, 13,14"}};
  auto p = resolve(yaml, o);
  EXPECT_EQ(option(p.steps[0].transforms[0], "value")->s, "prs=12,13,14");
  o.overrides = {{"prs", "12,abc,12"}};
  auto errs = errors(yaml, o);
  EXPECT_TRUE(has(errs, "input 'prs' item 'abc' does not match the pattern"));
  EXPECT_TRUE(has(errs, "input 'prs' lists '12' more than once"));
}

TEST_F(PipelineTest, MissingEnvironmentVariableIsAnErrorNotEmpty) {
  ::unsetenv("PROGCAP_TEST_UNSET_VAR");
  const char* yaml = R"(name: t
steps:
  - name: s
    source: {type: synthetic}
    sinks: [{type: ndjson, options: {directory: "${env.PROGCAP_TEST_UNSET_VAR}"}}]
)";
  auto errs = errors(yaml);
  EXPECT_TRUE(has(errs, "p.yaml:5:49: environment variable PROGCAP_TEST_UNSET_VAR is not set"));
  // validate mode defers it
  ResolveOptions v;
  v.mode = ResolveMode::Validate;
  EXPECT_TRUE(errors(yaml, v).empty());
  // a default makes it optional
  auto p = resolve(R"(name: t
steps:
  - name: s
    source: {type: synthetic}
    sinks: [{type: ndjson, options: {directory: "${env.PROGCAP_TEST_UNSET_VAR:-/tmp/d}"}}]
)");
  EXPECT_EQ(option(p.steps[0].sinks[0], "directory")->s, "/tmp/d");
  ::setenv("PROGCAP_TEST_SET_VAR", "/tmp/e", 1);
  p = resolve(R"(name: t
steps:
  - name: s
    source: {type: synthetic}
    transforms: [{type: filter, options: {field: note, value: "$${literal}"}}]
    sinks: [{type: ndjson, options: {directory: "${env.PROGCAP_TEST_SET_VAR}"}}]
)",
              v);
  EXPECT_EQ(option(p.steps[0].sinks[0], "directory")->s, "/tmp/e");
  EXPECT_EQ(option(p.steps[0].transforms[0], "value")->s, "${literal}") << "$${ escapes a literal ${";
}

TEST_F(PipelineTest, UndeclaredInputReferenceIsAnError) {
  auto errs = errors(R"(name: t
inputs: {repository_name: {default: a/b}}
steps:
  - name: s
    source: {type: synthetic}
    sinks: [{type: ndjson, options: {directory: "${inputs.repository}"}}]
)");
  EXPECT_TRUE(has(errs, "${inputs.repository} refers to an undeclared input 'repository' (did you mean 'repository_name'?)"));
}

TEST_F(PipelineTest, ParallelGroupsAndStepSettings) {
  auto p = resolve(R"(name: t
defaults: {batch_size: 50, retry: {max_attempts: 3}}
steps:
  - name: first
    source: synthetic
    sinks: [blackhole]
  - parallel:
      - name: a
        source: synthetic
        sinks: [blackhole]
        timeout: 90s
      - name: b
        source: synthetic
        sinks: [blackhole]
        batch_size: 7
)");
  ASSERT_EQ(p.steps.size(), 3u);
  EXPECT_EQ(p.groups, 2);
  EXPECT_EQ(p.steps[0].group, 0);
  EXPECT_EQ(p.steps[1].group, 1);
  EXPECT_EQ(p.steps[2].group, 1);
  EXPECT_EQ(p.steps[0].batch_size, 50u);
  EXPECT_EQ(p.steps[2].batch_size, 7u);
  EXPECT_EQ(p.steps[1].retry.max_attempts, 3u);
  ASSERT_TRUE(p.steps[1].timeout.has_value());
  EXPECT_EQ(p.steps[1].timeout->count(), 90000);
}

TEST_F(PipelineTest, DuplicateStepNamesAndBadDurations) {
  auto errs = errors(R"(name: t
steps:
  - name: s
    source: synthetic
    sinks: [blackhole]
    timeout: soon
  - name: s
    source: synthetic
    sinks: []
)");
  EXPECT_TRUE(has(errs, "p.yaml:6:14: timeout must be a duration such as 500ms, 30s, 10m or 2h, found 'soon'"));
  EXPECT_TRUE(has(errs, "duplicate step name 's'"));
  EXPECT_TRUE(has(errs, "step 's' needs at least one sink"));
}

TEST_F(PipelineTest, DryRunReplacesEverySinkWithNdjson) {
  ResolveOptions o;
  o.dry_run_out = "/tmp/dry";
  auto p = resolve(R"(name: t
steps:
  - name: s
    source: synthetic
    sinks: [blackhole, {type: ndjson, options: {stdout: true}}]
)",
                   o);
  ASSERT_EQ(p.steps[0].sinks.size(), 1u);
  EXPECT_EQ(p.steps[0].sinks[0].type, "ndjson");
  EXPECT_EQ(option(p.steps[0].sinks[0], "directory")->s, "/tmp/dry");
}

TEST_F(PipelineTest, SinkStreamFilterMustNameAKnownStream) {
  auto errs = errors(R"(name: t
steps:
  - name: s
    source: synthetic
    sinks: [{type: blackhole, streams: [event]}]
)");
  EXPECT_TRUE(has(errs, "source 'synthetic' has no stream 'event' (did you mean 'events'?)"));
}


TEST_F(PipelineTest, SinkWhenSelectsSinksAndSkipsTheOptionsOfSwitchedOffOnes) {
  const char* yaml = R"(name: t
inputs:
  target: {type: string, default: files, enum: [files, nowhere]}
steps:
  - name: s
    source: synthetic
    sinks:
      - type: ndjson
        when: ${inputs.target} == files
        options: {directory: /tmp/x}
      - type: blackhole
        when: "${inputs.target} != 'files'"
      - type: ndjson
        name: needs-env
        when: ${inputs.target} == nowhere
        options: {directory: "${env.PROGCAP_TEST_UNSET_VARIABLE}"}
)";
  auto p = resolve(yaml);
  ASSERT_EQ(p.steps[0].sinks.size(), 1u);
  EXPECT_EQ(p.steps[0].sinks[0].type, "ndjson");
  ResolveOptions o;
  o.overrides = {{"target", "nowhere"}};
  auto errs = errors(yaml, o);
  EXPECT_TRUE(has(errs, "p.yaml:16:30:")) << (errs.empty() ? "" : errs[0]);  // the switched-on sink needs its variable
  EXPECT_TRUE(has(errs, "PROGCAP_TEST_UNSET_VARIABLE"));

  auto bad = errors(R"(name: t
steps:
  - name: s
    source: synthetic
    sinks: [{type: blackhole, when: maybe}]
)");
  EXPECT_TRUE(has(bad, "p.yaml:5:37: when: expected true, false, 'A == B' or 'A != B'")) << (bad.empty() ? "" : bad[0]);
  auto none = errors(R"(name: t
steps:
  - name: s
    source: synthetic
    sinks: [{type: blackhole, when: "false"}]
)");
  EXPECT_TRUE(has(none, "every sink is switched off"));
}
TEST_F(PipelineTest, FindsPipelinesByName) {
  ::setenv("PROGCAP_PIPELINE_PATH", PROGCAP_SOURCE_DIR "/pipelines", 1);
  auto p = find_pipeline("sample-synthetic", "/nonexistent/bin/progcap");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->filename(), "sample-synthetic.yaml");
  EXPECT_FALSE(find_pipeline("no-such-pipeline", "/nonexistent/bin/progcap").has_value());
  ::unsetenv("PROGCAP_PIPELINE_PATH");
}

}  // namespace
