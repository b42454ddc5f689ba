// jobs.yaml and the hybrid routing rule.
#include <progcap/core/jobs.hpp>
#include <progcap/core/pipeline.hpp>
#include <progcap/core/text.hpp>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace progcap::core::jobs {

namespace fs = std::filesystem;

const JobTypeConfig* JobsConfig::type(std::string_view name) const {
  for (const auto& t : types) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const LaneConfig& JobsConfig::lane(std::string_view name) const {
  static const LaneConfig kDefault;
  auto it = lanes.find(std::string(name));
  return it == lanes.end() ? kDefault : it->second;
}

std::vector<std::string> JobsConfig::type_names() const {
  std::vector<std::string> out;
  for (const auto& t : types) out.push_back(t.name);
  return out;
}

namespace {

class Reader {
 public:
  explicit Reader(Diagnostics& d) : diags_(d) {}

  void keys(const Value& v, const std::vector<std::string>& allowed, const std::string& what) {
    for (const auto& e : v.entries) {
      if (std::find(allowed.begin(), allowed.end(), e.key) == allowed.end()) {
        diags_.add(e.key_where, "unknown key '" + e.key + "' in " + what + text::did_you_mean(e.key, allowed) +
                                    "; allowed: " + text::join(allowed));
      }
    }
  }
  bool map(const Value& v, const std::string& what) {
    if (v.kind == Value::Kind::Map) return true;
    diags_.add(v.where, what + " must be a mapping");
    return false;
  }
  std::optional<int64_t> integer(const Value& v, const std::string& what, int64_t lo, int64_t hi) {
    try {
      size_t pos = 0;
      const long long x = std::stoll(v.scalar, &pos);
      if (v.kind == Value::Kind::Scalar && pos == v.scalar.size() && x >= lo && x <= hi) return x;
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): reported below
    }
    diags_.add(v.where, what + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + " (got '" + v.scalar + "')");
    return std::nullopt;
  }
  std::optional<std::chrono::milliseconds> duration(const Value& v, const std::string& what) {
    long long ms = 0;
    if (v.kind == Value::Kind::Scalar && text::parse_duration_ms(v.scalar, ms) && ms > 0) return std::chrono::milliseconds(ms);
    diags_.add(v.where, what + " must be a duration such as 30s, 10m or 2h (got '" + v.scalar + "')");
    return std::nullopt;
  }
  std::string string(const Value& v, const std::string& what) {
    if (v.kind == Value::Kind::Scalar) return v.scalar;
    diags_.add(v.where, what + " must be a string");
    return {};
  }
  std::vector<std::string> strings(const Value& v, const std::string& what) {
    std::vector<std::string> out;
    if (v.kind != Value::Kind::List) {
      diags_.add(v.where, what + " must be a list of strings");
      return out;
    }
    for (const auto& i : v.items) out.push_back(string(i, what + "[]"));
    return out;
  }
  Diagnostics& diags() { return diags_; }

 private:
  Diagnostics& diags_;
};

}  // namespace

JobsConfig load_jobs_config_text(const std::string& text, const std::string& file) {
  Diagnostics diags;
  Value root = load_yaml_text(text, file);
  root = interpolate_env(root, diags);
  JobsConfig cfg;
  cfg.file = file;
  cfg.lanes["realtime"] = LaneConfig{};
  cfg.lanes["bulk"] = LaneConfig{std::chrono::minutes(10), 3, std::chrono::minutes(2), "github_actions"};
  Reader r(diags);
  if (root.kind != Value::Kind::Map) {
    diags.add(Location{file, 1, 1}, "the jobs configuration must be a mapping with routing, lanes, dispatch and job_types");
    diags.throw_if_any();
  }
  r.keys(root, {"routing", "lanes", "dispatch", "job_types"}, "the jobs configuration");
  if (const Value* v = root.get("routing"); v != nullptr && r.map(*v, "routing")) {
    r.keys(*v, {"realtime_max_time_range_days", "realtime_max_pr_numbers", "realtime_manual_max_items"}, "routing");
    if (const Value* x = v->get("realtime_max_time_range_days")) {
      cfg.routing.realtime_max_time_range_days = r.integer(*x, "routing.realtime_max_time_range_days", 0, 36500).value_or(1);
    }
    if (const Value* x = v->get("realtime_max_pr_numbers")) {
      cfg.routing.realtime_max_pr_numbers = r.integer(*x, "routing.realtime_max_pr_numbers", 0, 100000).value_or(10);
    }
    if (const Value* x = v->get("realtime_manual_max_items")) {
      cfg.routing.realtime_manual_max_items = r.integer(*x, "routing.realtime_manual_max_items", 0, 1000000).value_or(50);
    }
  }
  if (const Value* v = root.get("lanes"); v != nullptr && r.map(*v, "lanes")) {
    for (const auto& e : v->entries) {
      if (e.key != "realtime" && e.key != "bulk") {
        diags.add(e.key_where, "unknown lane '" + e.key + "' (lanes: realtime, bulk)");
        continue;
      }
      if (!r.map(e.value, "lanes." + e.key)) continue;
      LaneConfig& l = cfg.lanes[e.key];
      r.keys(e.value, {"lease", "max_attempts", "retry_backoff", "processor_type"}, "lanes." + e.key);
      if (const Value* x = e.value.get("lease")) l.lease = r.duration(*x, "lanes." + e.key + ".lease").value_or(l.lease);
      if (const Value* x = e.value.get("max_attempts")) {
        l.max_attempts = static_cast<int>(r.integer(*x, "lanes." + e.key + ".max_attempts", 1, 100).value_or(3));
      }
      if (const Value* x = e.value.get("retry_backoff")) {
        l.retry_backoff = r.duration(*x, "lanes." + e.key + ".retry_backoff").value_or(l.retry_backoff);
      }
      if (const Value* x = e.value.get("processor_type")) l.processor_type = r.string(*x, "lanes." + e.key + ".processor_type");
    }
  }
  if (const Value* v = root.get("dispatch"); v != nullptr && r.map(*v, "dispatch")) {
    r.keys(*v, {"repository", "ref", "claim_timeout"}, "dispatch");
    if (const Value* x = v->get("repository")) cfg.dispatch.repository = r.string(*x, "dispatch.repository");
    if (const Value* x = v->get("ref")) cfg.dispatch.ref = r.string(*x, "dispatch.ref");
    if (const Value* x = v->get("claim_timeout")) {
      cfg.dispatch.claim_timeout = r.duration(*x, "dispatch.claim_timeout").value_or(cfg.dispatch.claim_timeout);
    }
  }
  const Value* types = root.get("job_types");
  if (types == nullptr) {
    diags.add(root.where, "the jobs configuration needs job_types");
  } else if (r.map(*types, "job_types")) {
    for (const auto& e : types->entries) {
      JobTypeConfig t;
      t.name = e.key;
      t.where = e.key_where;
      if (!r.map(e.value, "job_types." + e.key)) continue;
      r.keys(e.value, {"pipeline", "fan_out", "builtin", "workflow", "inputs"}, "job_types." + e.key);
      if (const Value* x = e.value.get("pipeline")) t.pipeline = r.string(*x, "job_types." + e.key + ".pipeline");
      if (const Value* x = e.value.get("fan_out")) t.fan_out = r.strings(*x, "job_types." + e.key + ".fan_out");
      if (const Value* x = e.value.get("builtin")) {
        t.builtin = r.string(*x, "job_types." + e.key + ".builtin");
        if (t.builtin != "noop") diags.add(x->where, "job_types." + e.key + ".builtin: the only builtin is noop");
      }
      if (const Value* x = e.value.get("workflow")) t.workflow = r.string(*x, "job_types." + e.key + ".workflow");
      if (const Value* x = e.value.get("inputs")) t.inputs = r.strings(*x, "job_types." + e.key + ".inputs");
      const int kinds = (t.pipeline.empty() ? 0 : 1) + (t.fan_out.empty() ? 0 : 1) + (t.builtin.empty() ? 0 : 1);
      if (kinds != 1) diags.add(e.key_where, "job type '" + e.key + "' needs exactly one of pipeline, fan_out or builtin");
      if (!t.workflow.empty() && t.inputs.empty()) {
        diags.add(e.key_where, "job type '" + e.key + "' has a workflow but no inputs (the exact inputs dispatch sends)");
      }
      cfg.types.push_back(std::move(t));
    }
    // fan_out must name pipeline job types.
    for (const auto& t : cfg.types) {
      for (const auto& child : t.fan_out) {
        const JobTypeConfig* c = cfg.type(child);
        if (c == nullptr) {
          diags.add(t.where, "job type '" + t.name + "' fans out into '" + child + "', which is not a job type" +
                                 text::did_you_mean(child, cfg.type_names()));
        } else if (!c->fan_out.empty()) {
          diags.add(t.where, "job type '" + t.name + "' fans out into '" + child + "', which fans out itself (one level only)");
        }
      }
    }
  }
  diags.throw_if_any();
  return cfg;
}

JobsConfig load_jobs_config(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(Location{file.string(), 0, 0}, "cannot read the jobs configuration");
  std::stringstream ss;
  ss << in.rdbuf();
  return load_jobs_config_text(ss.str(), file.string());
}

std::optional<fs::path> find_jobs_config(const fs::path& exe) {
  std::vector<fs::path> searched;
  (void)find_pipeline("-", exe, &searched);  // the pipeline search path, in order
  std::error_code ec;
  for (const auto& dir : searched) {
    const fs::path p = dir / "jobs" / "jobs.yaml";
    if (fs::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

std::string_view to_string(Trigger t) {
  switch (t) {
    case Trigger::Manual: return "manual";
    case Trigger::Automatic: return "automatic";
    case Trigger::Scheduled: return "scheduled";
  }
  return "manual";
}

std::optional<Trigger> parse_trigger(std::string_view s) {
  if (s == "manual") return Trigger::Manual;
  if (s == "automatic") return Trigger::Automatic;
  if (s == "scheduled") return Trigger::Scheduled;
  return std::nullopt;
}

Route route(const JobRequest& req, const RoutingConfig& cfg) {
  if (req.trigger == Trigger::Scheduled) return {"bulk", "scheduled trigger"};
  if (!req.pr_numbers.empty() && static_cast<int64_t>(req.pr_numbers.size()) <= cfg.realtime_max_pr_numbers) {
    return {"realtime", std::to_string(req.pr_numbers.size()) + " PR number(s) <= " + std::to_string(cfg.realtime_max_pr_numbers)};
  }
  if (req.time_range_days && *req.time_range_days <= cfg.realtime_max_time_range_days) {
    return {"realtime", "time_range " + std::to_string(*req.time_range_days) + " day(s) <= " +
                            std::to_string(cfg.realtime_max_time_range_days) + " (recent data)"};
  }
  if (req.trigger == Trigger::Manual && req.max_items && *req.max_items >= 1 && *req.max_items <= cfg.realtime_manual_max_items) {
    return {"realtime", "manual request of max_items " + std::to_string(*req.max_items) + " <= " +
                            std::to_string(cfg.realtime_manual_max_items)};
  }
  if (!req.pr_numbers.empty()) {
    return {"bulk", std::to_string(req.pr_numbers.size()) + " PR numbers > " + std::to_string(cfg.realtime_max_pr_numbers)};
  }
  return {"bulk", "time_range " + (req.time_range_days ? std::to_string(*req.time_range_days) + " day(s)" : std::string("default")) +
                      (req.max_items ? ", max_items " + std::to_string(*req.max_items) : std::string()) + ": older or larger than real-time"};
}

void validate(const JobRequest& req, const JobsConfig& cfg) {
  const JobTypeConfig* t = cfg.type(req.job_type);
  if (t == nullptr) {
    throw RequestError("unknown job type '" + req.job_type + "'" + text::did_you_mean(req.job_type, cfg.type_names()) +
                       "; job types (" + cfg.file.string() + "): " + text::join(cfg.type_names()));
  }
  if (req.repository.empty()) throw RequestError("a job needs --repository OWNER/NAME");
  const auto slash = req.repository.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= req.repository.size() ||
      req.repository.find('/', slash + 1) != std::string::npos) {
    throw RequestError("--repository must be OWNER/NAME (got '" + req.repository + "')");
  }
  if (!req.pr_numbers.empty() && req.time_range_days) {
    throw RequestError("--pr-numbers and --time-range conflict: PR numbers select exactly those PRs, a time range selects by date; "
                       "give one");
  }
  for (int64_t n : req.pr_numbers) {
    if (n <= 0) throw RequestError("PR numbers are positive integers (got " + std::to_string(n) + ")");
  }
  if (req.time_range_days && *req.time_range_days < 0) throw RequestError("--time-range must be >= 0 days");
  if (req.max_items && *req.max_items < 0) throw RequestError("--max-items must be >= 0");
  if (t->fan_out.empty()) {
    if (!req.capture_types.empty() || req.shards != 1) {
      throw RequestError("--capture-types and --shards apply to bulk job types (" + req.job_type + " runs one pipeline)");
    }
  } else {
    if (req.shards < 1 || req.shards > 64) throw RequestError("--shards must be 1..64");
    for (const auto& c : req.capture_types) {
      if (std::find(t->fan_out.begin(), t->fan_out.end(), c) == t->fan_out.end()) {
        throw RequestError("capture type '" + c + "' is not one of " + req.job_type + "'s: " + text::join(t->fan_out));
      }
    }
  }
  if (!req.target.empty() && req.target != "supabase" && req.target != "postgres" && req.target != "ndjson") {
    throw RequestError("--target must be supabase, postgres or ndjson");
  }
}

}  // namespace progcap::core::jobs
