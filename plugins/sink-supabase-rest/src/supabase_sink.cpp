#include "supabase_sink.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <random>

namespace progcap::plugins::supabase {

namespace {

using json = nlohmann::json;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string snippet(const std::string& body) {
  std::string s = body.substr(0, 160);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s + (body.size() > 160 ? "…" : "");
}

}  // namespace

ApiError parse_api_error(int status, const std::string& body) {
  ApiError e;
  e.status = status;
  if (body.empty()) {
    e.json = status >= 200 && status < 300;
    e.message = "HTTP " + std::to_string(status) + " with an empty body";
    return e;
  }
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    e.message = "HTTP " + std::to_string(status) + " with a non-JSON body: " + snippet(body);
    return e;
  }
  e.json = true;
  if (!j.is_object()) {
    e.message = "HTTP " + std::to_string(status);
    return e;
  }
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  e.code = str("code");
  std::string m = str("message");
  if (m.empty()) m = str("msg");  // Supabase's gateway (Kong) uses {"message"}; auth uses {"msg"}
  const std::string details = str("details");
  const std::string hint = str("hint");
  e.message = (e.code.empty() ? "" : e.code + ": ") + (m.empty() ? "HTTP " + std::to_string(status) : m);
  if (!details.empty() || !hint.empty()) {
    e.message += " (" + details + (details.empty() || hint.empty() ? "" : "; ") + (hint.empty() ? "" : "hint: " + hint) + ")";
  }
  return e;
}

Verdict classify(const ApiError& e) {
  const int s = e.status;
  if (s >= 200 && s < 300) return e.json ? Verdict::Ok : Verdict::Fatal;
  if (s == 0 || s == 408 || s == 429 || s == 502 || s == 503 || s == 504) return Verdict::Retry;
  if (s == 413) return Verdict::Split;
  if (s == 401 || s == 403) return Verdict::Auth;
  if (s == 500) {
    if (e.code == "57014") return Verdict::Split;   // statement timeout: smaller chunks
    if (e.code == "21000") return Verdict::Reject;  // one key twice in a statement: isolate the rows
    if (starts_with(e.code, "22") || starts_with(e.code, "23")) return Verdict::Reject;
    return Verdict::Retry;  // serialization failures, deadlocks, crashes, proxies' pages: transient
  }
  if (s == 404 || s == 406) {
    if (e.code == "PGRST202" || e.code == "PGRST205" || e.code == "42883" || e.code == "42P01" || e.code == "PGRST106" ||
        !e.json) {
      return Verdict::Config;
    }
    return Verdict::Fatal;
  }
  if (s == 400 || s == 409 || s == 422) {
    if (e.code == "42703" || e.code == "42P01" || e.code == "42883" || e.code == "PGRST204") return Verdict::Config;
    return Verdict::Reject;
  }
  return Verdict::Fatal;
}

struct SupabaseSink::Stats : cinfo::WriteTally {
  int64_t requests = 0;
  int64_t splits = 0;
};

std::string SupabaseSink::rest_base(const std::string& url) {
  if (!starts_with(url, "https://") && !starts_with(url, "http://")) {
    throw sdk::ConfigError("supabase-rest: url '" + url +
                           "' has no http(s):// scheme; use the project URL, e.g. https://<project-ref>.supabase.co");
  }
  std::string u = url;
  while (!u.empty() && u.back() == '/') u.pop_back();
  const size_t host = u.find("://") + 3;
  if (host >= u.size() || u[host] == '/') throw sdk::ConfigError("supabase-rest: url '" + url + "' has no host");
  if (u.size() >= 8 && u.compare(u.size() - 8, 8, "/rest/v1") == 0) return u;  // already the REST base
  return u + "/rest/v1";
}

SupabaseSink::SupabaseSink(sdk::Context ctx, const sdk::Config& cfg) : sdk::Sink(ctx) {
  base_ = rest_base(cfg.get(kUrl));
  key_ = cfg.get(kServiceKey);
  if (key_.empty()) throw sdk::ConfigError("supabase-rest: service_key is empty (is SUPABASE_SERVICE_KEY set?)");
  schema_ = cfg.get(kSchema);
  max_rows_ = static_cast<size_t>(cfg.get(kMaxRows));
  rows_now_ = max_rows_;
  max_bytes_ = static_cast<size_t>(cfg.get(kMaxBytes));
  target_ = std::chrono::seconds(cfg.get(kTargetSeconds));
  timeout_ms_ = static_cast<uint32_t>(cfg.get(kTimeout) * 1000);
  max_attempts_ = static_cast<int>(cfg.get(kMaxAttempts));
}

SupabaseSink::Answer SupabaseSink::post(const std::string& path, const std::string& body) {
  sdk::HttpRequest req;
  req.method = "POST";
  req.url = base_ + path;
  req.headers = {{"apikey", key_},
                 {"Authorization", "Bearer " + key_},
                 {"Content-Type", "application/json"},
                 {"Accept", "application/json"}};
  if (schema_ != "public") req.headers.push_back({"Content-Profile", schema_});
  req.body = body;
  req.flags = PROGCAP_HTTP_NO_RETRY;  // retried here: the verdict depends on PostgREST's error code
  req.timeout_ms = timeout_ms_;
  req.endpoint = "supabase POST " + path;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  for (int attempt = 1;; ++attempt) {
    sdk::HttpResponse resp = ctx_.http(req);
    Answer a;
    a.error = parse_api_error(resp.status, resp.body);
    if (resp.status == 0) a.error.message = "network error: " + resp.error;
    a.body = std::move(resp.body);
    if (classify(a.error) != Verdict::Retry || attempt >= max_attempts_) return a;
    uint64_t delay = 0;
    if (auto ra = resp.header("retry-after")) {
      try {
        delay = static_cast<uint64_t>(std::stoll(std::string(*ra))) * 1000;
      } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): an HTTP-date falls back to backoff
      }
    }
    if (delay == 0) {
      const double base = std::min(30000.0, 500.0 * std::pow(2.0, attempt - 1));
      delay = static_cast<uint64_t>(base * std::uniform_real_distribution<double>(0.8, 1.2)(rng));
    }
    ctx_.warn("supabase-rest: {} (attempt {}/{}); retrying in {} ms", a.error.message, attempt, max_attempts_, delay);
    ctx_.metric_add("supabase.retries");
    if (!ctx_.wait(delay)) throw sdk::CancelledError();
  }
}

void SupabaseSink::check_schema(const cinfo::Table& t) {
  json tables = json::array({std::string(t.name)});
  for (auto d : t.depends_on) tables.push_back(std::string(d));
  Answer a = post("/rpc/progcap_describe_columns", json{{"p_tables", tables}}.dump());
  const Verdict v = classify(a.error);
  if (v == Verdict::Auth) {
    throw sdk::AuthError("supabase-rest: the service key was refused (" + a.error.message +
                         "); use the project's service_role key, not the anon key");
  }
  if (a.error.code == "PGRST202") {
    throw sdk::ConfigError("supabase-rest: progcap's SQL functions are not installed in schema " + schema_ + " (" +
                           a.error.message + "): run `progcap db migrate` against the database first");
  }
  if (v == Verdict::Config) {
    throw sdk::ConfigError("supabase-rest: " + base_ + " does not look like a Supabase REST API: " + a.error.message);
  }
  if (v != Verdict::Ok) throw sdk::RetryError("supabase-rest: cannot inspect table " + std::string(t.name) + ": " + a.error.message);
  json rows = json::parse(a.body, nullptr, false);
  if (!rows.is_array()) throw sdk::FatalError("supabase-rest: unexpected answer from progcap_describe_columns: " + snippet(a.body));
  std::vector<cinfo::DescribedColumn> described;
  for (const auto& r : rows) {
    described.push_back({r.value("table_name", std::string()), r.value("column_name", std::string()),
                         r.value("data_type", std::string()), r.value("not_null", false)});
  }
  cinfo::require_target("supabase-rest", t, described);
}

void SupabaseSink::prepare(const progcap_schema& schema) {
  const std::string_view stream = sdk::from_abi(schema.stream);
  const cinfo::Table* t = &cinfo::table_for_stream("supabase-rest", stream);
  auto b = std::make_unique<cinfo::Binding>(*t, schema);
  if (!checked_[std::string(t->name)]) {
    check_schema(*t);
    checked_[std::string(t->name)] = true;
  }
  bindings_[std::string(stream)] = std::move(b);
}

void SupabaseSink::send(const cinfo::Binding& b, const std::vector<uint64_t>& rows, const std::vector<std::string>& objects,
                        size_t begin, size_t end, Stats& stats) {
  if (begin >= end) return;
  const std::string table(b.table().name);
  std::string body = "{\"rows\":[";
  for (size_t i = begin; i < end; ++i) {
    if (i != begin) body.push_back(',');
    body += objects[i];
  }
  body += "]}";
  const auto t0 = std::chrono::steady_clock::now();
  Answer a = post("/rpc/progcap_upsert_" + table, body);
  const auto took = std::chrono::steady_clock::now() - t0;
  ++stats.requests;
  const size_t n = end - begin;
  switch (classify(a.error)) {
    case Verdict::Ok: {
      for (const auto& rn : stats.add(cinfo::parse_merge_result(a.body), rows, begin, n)) {
        ctx_.info("supabase-rest: {} renamed {}", table, rn);
      }
      // Keep requests near the target duration (the statement timeout is 8 s on Supabase).
      if (took > target_ && rows_now_ > 1) {
        rows_now_ = std::max<size_t>(1, rows_now_ / 2);
      } else if (took < target_ / 4 && n >= rows_now_ && rows_now_ < max_rows_) {
        rows_now_ = std::min(max_rows_, rows_now_ + rows_now_ / 2 + 1);
      }
      return;
    }
    case Verdict::Split:
    case Verdict::Reject: {
      const bool too_big = a.error.status == 413;
      if (n == 1) {
        stats.rejected.emplace_back(rows[begin], too_big ? "the row alone (" + std::to_string(body.size()) +
                                                               " bytes) exceeds the endpoint's request size limit: " + a.error.message
                                                         : "database refused the row: " + a.error.message);
        return;
      }
      if (too_big) max_bytes_ = std::max<size_t>(1024, body.size() / 2);
      if (a.error.code == "57014") rows_now_ = std::max<size_t>(1, n / 2);
      ++stats.splits;
      const size_t mid = begin + n / 2;
      send(b, rows, objects, begin, mid, stats);
      send(b, rows, objects, mid, end, stats);
      return;
    }
    case Verdict::Retry:
      throw sdk::RetryError("supabase-rest: " + a.error.message + " (after " + std::to_string(max_attempts_) + " attempts)");
    case Verdict::Auth:
      throw sdk::AuthError("supabase-rest: the service key was refused: " + a.error.message);
    case Verdict::Config:
      throw sdk::ConfigError("supabase-rest: " + a.error.message + " (is the database migrated? run `progcap db migrate`)");
    case Verdict::Fatal: break;
  }
  throw sdk::FatalError("supabase-rest: unexpected answer to POST /rpc/progcap_upsert_" + table + ": " + a.error.message);
}

sdk::Status SupabaseSink::write(const sdk::BatchView& batch) {
  auto it = bindings_.find(batch.stream());
  if (it == bindings_.end()) throw sdk::FatalError("supabase-rest: stream '" + std::string(batch.stream()) + "' was not prepared");
  const cinfo::Binding& b = *it->second;
  cinfo::PreparedRows prep = cinfo::prepare_rows(b, batch);
  for (const auto& [row, why] : prep.rejected) reject(batch, row, why);
  std::vector<std::string> objects;
  objects.reserve(prep.rows.size());
  for (uint64_t r : prep.rows) {
    std::string o;
    cinfo::append_json_object(o, b, batch.row_values(r));
    objects.push_back(std::move(o));
  }
  Stats stats;
  // Chunks bounded by rows and bytes.
  size_t begin = 0;
  while (begin < objects.size()) {
    size_t end = begin;
    size_t bytes = 12;
    while (end < objects.size() && end - begin < rows_now_ && (end == begin || bytes + objects[end].size() + 1 <= max_bytes_)) {
      bytes += objects[end].size() + 1;
      ++end;
    }
    send(b, prep.rows, objects, begin, end, stats);
    begin = end;
  }
  for (const auto& [row, why] : stats.rejected) reject(batch, row, why);
  for (const auto& w : stats.warnings) ctx_.debug("supabase-rest: {} warning: {}", b.table().name, w);
  stats.publish(ctx_, "supabase", b.table().name, prep.duplicates);
  ctx_.metric_add("supabase.requests", stats.requests);
  if (stats.splits != 0) ctx_.metric_add("supabase.splits", stats.splits);
  ctx_.metric_set("supabase.chunk_rows", static_cast<double>(rows_now_));
  return sdk::Status::Ok;
}

}  // namespace progcap::plugins::supabase
