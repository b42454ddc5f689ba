// Run reports: JSON for artifacts, Markdown for $GITHUB_STEP_SUMMARY.
#include <progcap/core/logging.hpp>
#include <progcap/core/runtime.hpp>
#include <progcap/core/text.hpp>

#include <progcap/sdk/codec.hpp>

#include <nlohmann/json.hpp>

namespace progcap::core {

namespace {

nlohmann::json component_json(const ComponentReport& c) {
  nlohmann::json j = {{"label", c.label}, {"type", c.type}, {"kind", c.kind}, {"records", c.records},
                      {"batches", c.batches}, {"retries", c.retries}, {"rejected", c.rejected}};
  if (!c.counters.empty()) j["metrics"] = c.counters;
  if (!c.gauges.empty()) j["gauges"] = c.gauges;
  return j;
}

uint64_t sum(const std::map<std::string, uint64_t>& m) {
  uint64_t n = 0;
  for (const auto& [k, v] : m) n += v;
  return n;
}

}  // namespace

std::string report_to_json(const RunReport& r) {
  nlohmann::json j;
  j["progcap_version"] = r.progcap_version;
  j["abi"] = r.abi;
  j["run_id"] = r.run_id;
  j["pipeline"] = r.pipeline;
  j["file"] = r.file;
  j["dry_run"] = r.dry_run;
  j["started_at"] = r.started_at;
  j["finished_at"] = r.finished_at;
  j["duration_ms"] = r.duration_ms;
  j["status"] = r.status;
  j["exit_code"] = r.exit_code;
  j["inputs"] = nlohmann::json::object();
  for (const auto& [k, v] : r.inputs) j["inputs"][k] = v;
  j["steps"] = nlohmann::json::array();
  for (const auto& s : r.steps) {
    nlohmann::json sj = {{"name", s.name},
                         {"status", s.status},
                         {"duration_ms", s.duration_ms},
                         {"source", component_json(s.source)},
                         {"dead_lettered", s.dead_lettered},
                         {"checkpoints_committed", s.checkpoints_committed},
                         {"checkpoints_pending", s.checkpoints_pending},
                         {"checkpoints_superseded", s.checkpoints_superseded}};
    if (!s.error.empty()) sj["error"] = s.error;
    sj["transforms"] = nlohmann::json::array();
    for (const auto& t : s.transforms) sj["transforms"].push_back(component_json(t));
    sj["sinks"] = nlohmann::json::array();
    for (const auto& k : s.sinks) sj["sinks"].push_back(component_json(k));
    if (!s.progress_item.empty()) sj["progress"] = {{"item", s.progress_item}, {"done", s.progress_done}, {"total", s.progress_total}};
    j["steps"].push_back(std::move(sj));
  }
  j["dead_lettered"] = r.dead_lettered;
  j["peak_rss_mb"] = r.peak_rss_mb;
  if (!r.dead_letter_file.empty()) j["dead_letter_file"] = r.dead_letter_file;
  if (!r.state_file.empty()) j["state_file"] = r.state_file;
  nlohmann::json h = {{"requests", r.http.requests}, {"retries", r.http.retries}, {"not_modified", r.http.not_modified},
                      {"wait_ms", r.http.wait_ms}};
  h["by_endpoint"] = nlohmann::json::object();
  for (const auto& [ep, st] : r.http.by_endpoint) {
    nlohmann::json e = {{"requests", st.requests}, {"retries", st.retries},     {"errors", st.errors},
                        {"not_modified", st.not_modified}, {"bytes_in", st.bytes_in}, {"avg_ms", st.requests ? st.total_ms / static_cast<double>(st.requests) : 0.0}};
    for (const auto& [code, n] : st.by_status) e["by_status"][std::to_string(code)] = n;
    h["by_endpoint"][ep] = std::move(e);
  }
  h["quota"] = nlohmann::json::array();
  for (const auto& q : r.quota) {
    h["quota"].push_back({{"key", q.key}, {"resource", q.resource}, {"limit", q.limit}, {"remaining", q.remaining}, {"used", q.used},
                          {"reset_at", q.reset_epoch > 0 ? sdk::format_rfc3339(q.reset_epoch * 1000000) : std::string()}});
  }
  j["http"] = std::move(h);
  std::string out = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  return Redactor::instance().redact(out) + "\n";
}

std::string report_to_markdown(const RunReport& r) {
  std::string md;
  const char* icon = r.status == "ok" ? "\u2705" : r.status == "dead_lettered" ? "\u26a0\ufe0f" : "\u274c";
  md += "### " + std::string(icon) + " progcap `" + r.pipeline + "` — " + r.status + "\n\n";
  md += "Run `" + r.run_id + "`" + (r.dry_run ? " (dry run)" : "") + " in " + text::human_duration(static_cast<long long>(r.duration_ms)) +
        ", exit code " + std::to_string(r.exit_code) + ".\n\n";
  md += "| step | status | records out | records written | retries | dead-lettered | checkpoints | duration |\n";
  md += "|---|---|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& s : r.steps) {
    uint64_t written = 0;
    uint64_t retries = s.source.retries;
    for (const auto& k : s.sinks) {
      written += sum(k.records);
      retries += k.retries;
    }
    md += "| " + s.name + " | " + s.status + " | " + std::to_string(sum(s.source.records)) + " | " + std::to_string(written) + " | " +
          std::to_string(retries) + " | " + std::to_string(s.dead_lettered) + " | " + std::to_string(s.checkpoints_committed) + " | " +
          text::human_duration(static_cast<long long>(s.duration_ms)) + " |\n";
  }
  for (const auto& s : r.steps) {
    if (!s.error.empty()) md += "\n**" + s.name + "**: " + s.error + "\n";
  }
  if (r.http.requests > 0) {
    md += "\nHTTP: " + std::to_string(r.http.requests) + " requests, " + std::to_string(r.http.not_modified) + " not modified (304), " +
          std::to_string(r.http.retries) + " retries, waited " + text::human_duration(static_cast<long long>(r.http.wait_ms)) + ".\n";
  }
  for (const auto& q : r.quota) {
    md += "\nQuota `" + q.key + "` " + q.resource + ": " + std::to_string(q.remaining) + " of " + std::to_string(q.limit) + " left";
    if (q.reset_epoch > 0) md += " (resets " + sdk::format_rfc3339(q.reset_epoch * 1000000) + ")";
    md += ".\n";
  }
  if (r.dead_lettered > 0) md += "\nDead letters: " + std::to_string(r.dead_lettered) + " in `" + r.dead_letter_file + "`.\n";
  return Redactor::instance().redact(md);
}

}  // namespace progcap::core
