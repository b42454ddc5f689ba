// progcap SDK testing — an in-process implementation of progcap_host_api for
// plugin unit tests that link no progcap core (style: minifi's mock C API).
//
//   progcap::sdk::testing::FakeHost host;
//   auto* desc = progcap_plugin_entry(host.api());
//   auto sink = host.create(desc, "ndjson", {{"path", FakeHost::str("/tmp/x")}});
//   host.write(sink, schema, rows);
//
// Rows emitted by sources are captured per stream as owned values; HTTP
// requests go to a handler the test installs.
#pragma once

#include <progcap/abi/progcap_plugin.h>
#include <progcap/sdk/context.hpp>
#include <progcap/sdk/status.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

struct progcap_host_ctx {
  void* host;
  std::string component;
};
struct progcap_error {
  progcap_status code = PROGCAP_OK;
  std::string message;
};
struct progcap_emitter {
  void* host;
  const progcap_component_def* def;
  const progcap_schema* input_schema;
};
struct progcap_batch_ctx {
  void* host;
};

namespace progcap::sdk::testing {

/// A value that owns its string.
struct OwnedValue {
  progcap_type type = PROGCAP_TYPE_NULL;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;

  [[nodiscard]] progcap_value view() const {
    progcap_value v{type, 0, {}};
    switch (type) {
      case PROGCAP_TYPE_BOOL: v.v.b = b ? 1 : 0; break;
      case PROGCAP_TYPE_INT64:
      case PROGCAP_TYPE_TIMESTAMP: v.v.i64 = i; break;
      case PROGCAP_TYPE_DOUBLE: v.v.f64 = d; break;
      case PROGCAP_TYPE_STRING:
      case PROGCAP_TYPE_JSON: v.v.str = to_abi(s); break;
      default: break;
    }
    return v;
  }
  static OwnedValue from(const progcap_value& v) {
    OwnedValue o;
    o.type = v.type;
    switch (v.type) {
      case PROGCAP_TYPE_BOOL: o.b = v.v.b != 0; break;
      case PROGCAP_TYPE_INT64:
      case PROGCAP_TYPE_TIMESTAMP: o.i = v.v.i64; break;
      case PROGCAP_TYPE_DOUBLE: o.d = v.v.f64; break;
      case PROGCAP_TYPE_STRING:
      case PROGCAP_TYPE_JSON: o.s = std::string(from_abi(v.v.str)); break;
      default: break;
    }
    return o;
  }
};
using OwnedRow = std::vector<OwnedValue>;

class FakeHost {
 public:
  struct Instance {
    const progcap_component_def* def = nullptr;
    void* self = nullptr;
    std::unique_ptr<progcap_host_ctx> ctx;
  };
  using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

  FakeHost() {
    api_.struct_size = sizeof(api_);
    api_.abi_version = PROGCAP_ABI_VERSION;
    api_.log = [](progcap_host_ctx* c, progcap_log_level lvl, progcap_str m) {
      auto* h = of(c);
      if (h == nullptr) return;
      std::lock_guard<std::mutex> g(h->mu_);
      h->logs.emplace_back(lvl, std::string(from_abi(m)));
    };
    api_.log_enabled = [](progcap_host_ctx*, progcap_log_level) -> uint8_t { return 1; };
    api_.error_set = [](progcap_error* e, progcap_status code, progcap_str m) {
      if (e == nullptr) return;
      e->code = code;
      e->message = std::string(from_abi(m));
    };
    api_.emit_row = [](progcap_emitter* out, uint32_t stream, const progcap_value* vals, uint32_t n,
                       progcap_error*) -> progcap_status {
      auto* h = static_cast<FakeHost*>(out->host);
      if (h->cancel_) return PROGCAP_ERR_CANCELLED;
      const progcap_schema* schema = nullptr;
      if (stream == PROGCAP_STREAM_INPUT) {
        schema = out->input_schema;
      } else if (stream < out->def->stream_count) {
        schema = out->def->streams[stream];
      }
      if (schema == nullptr || n != schema->field_count) return PROGCAP_ERR_DATA;
      for (uint32_t f = 0; f < n; ++f) {
        if (vals[f].type != PROGCAP_TYPE_NULL && vals[f].type != schema->fields[f]->type) return PROGCAP_ERR_DATA;
      }
      OwnedRow row;
      for (uint32_t f = 0; f < n; ++f) row.push_back(OwnedValue::from(vals[f]));
      std::lock_guard<std::mutex> g(h->mu_);
      h->rows[std::string(from_abi(schema->stream))].push_back(std::move(row));
      return PROGCAP_OK;
    };
    api_.checkpoint = [](progcap_host_ctx* c, progcap_str k, progcap_str v) -> progcap_status {
      auto* h = of(c);
      std::lock_guard<std::mutex> g(h->mu_);
      h->checkpoints[std::string(from_abi(k))] = std::string(from_abi(v));
      h->state[std::string(from_abi(k))] = std::string(from_abi(v));
      return PROGCAP_OK;
    };
    api_.state_get = [](progcap_host_ctx* c, progcap_str k, progcap_str_cb cb, void* u) -> progcap_status {
      auto* h = of(c);
      std::string value;
      {
        std::lock_guard<std::mutex> g(h->mu_);
        auto it = h->state.find(std::string(from_abi(k)));
        if (it == h->state.end()) return PROGCAP_ERR_NOT_FOUND;
        value = it->second;
      }
      cb(u, to_abi(value));
      return PROGCAP_OK;
    };
    api_.state_put = [](progcap_host_ctx* c, progcap_str k, progcap_str v) -> progcap_status {
      auto* h = of(c);
      std::lock_guard<std::mutex> g(h->mu_);
      h->state[std::string(from_abi(k))] = std::string(from_abi(v));
      return PROGCAP_OK;
    };
    api_.state_delete = [](progcap_host_ctx* c, progcap_str k) -> progcap_status {
      auto* h = of(c);
      std::lock_guard<std::mutex> g(h->mu_);
      return h->state.erase(std::string(from_abi(k))) ? PROGCAP_OK : PROGCAP_ERR_NOT_FOUND;
    };
    api_.metric_add = [](progcap_host_ctx* c, progcap_str n, int64_t d) {
      auto* h = of(c);
      std::lock_guard<std::mutex> g(h->mu_);
      h->counters[std::string(from_abi(n))] += d;
    };
    api_.metric_set = [](progcap_host_ctx* c, progcap_str n, double v) {
      auto* h = of(c);
      std::lock_guard<std::mutex> g(h->mu_);
      h->gauges[std::string(from_abi(n))] = v;
    };
    api_.secret_get = [](progcap_host_ctx* c, progcap_str n, progcap_str_cb cb, void* u) -> progcap_status {
      auto* h = of(c);
      auto it = h->secrets.find(std::string(from_abi(n)));
      if (it == h->secrets.end()) return PROGCAP_ERR_NOT_FOUND;
      cb(u, to_abi(it->second));
      return PROGCAP_OK;
    };
    api_.info_get = [](progcap_host_ctx* c, progcap_str k, progcap_str_cb cb, void* u) -> progcap_status {
      auto* h = of(c);
      auto it = h->info.find(std::string(from_abi(k)));
      if (it == h->info.end()) return PROGCAP_ERR_NOT_FOUND;
      cb(u, to_abi(it->second));
      return PROGCAP_OK;
    };
    api_.http_request = [](progcap_host_ctx* c, const progcap_http_request* r, progcap_http_response_cb cb, void* u,
                           progcap_error*) -> progcap_status {
      auto* h = of(c);
      HttpRequest req;
      req.method = std::string(from_abi(r->method));
      req.url = std::string(from_abi(r->url));
      for (uint32_t i = 0; i < r->header_count; ++i) {
        req.headers.push_back({std::string(from_abi(r->headers[i].name)), std::string(from_abi(r->headers[i].value))});
      }
      req.body = std::string(from_abi(r->body));
      req.quota_key = std::string(from_abi(r->quota_key));
      req.endpoint = std::string(from_abi(r->endpoint));
      req.flags = r->flags;
      HttpResponse resp;
      if (h->http_handler) {
        resp = h->http_handler(req);
      } else {
        resp.error = "FakeHost: no HTTP handler installed";
      }
      {
        std::lock_guard<std::mutex> g(h->mu_);
        h->http_log.push_back(req);
      }
      std::vector<progcap_http_header> hs;
      for (const auto& hd : resp.headers) hs.push_back({to_abi(hd.name), to_abi(hd.value)});
      progcap_http_response out{sizeof(progcap_http_response), resp.status, static_cast<uint32_t>(hs.size()), 1,
                                hs.data(), to_abi(resp.body), to_abi(resp.error)};
      cb(u, &out);
      return PROGCAP_OK;
    };
    api_.reject_row = [](progcap_batch_ctx* b, uint64_t row, progcap_str reason) {
      auto* h = static_cast<FakeHost*>(b->host);
      std::lock_guard<std::mutex> g(h->mu_);
      h->rejected.emplace_back(row, std::string(from_abi(reason)));
    };
    api_.dead_letter = [](progcap_host_ctx* c, progcap_str stream, progcap_str rec, progcap_str reason) {
      auto* h = of(c);
      std::lock_guard<std::mutex> g(h->mu_);
      h->dead_letters.push_back(
          {std::string(from_abi(stream)), std::string(from_abi(rec)), std::string(from_abi(reason))});
    };
    api_.progress = [](progcap_host_ctx* c, progcap_str item, int64_t done, int64_t total) {
      auto* h = of(c);
      std::lock_guard<std::mutex> g(h->mu_);
      h->last_progress = {std::string(from_abi(item)), done, total};
    };
    api_.cancelled = [](progcap_host_ctx* c) -> uint8_t { return of(c)->cancel_ ? 1 : 0; };
    api_.wait = [](progcap_host_ctx* c, uint64_t ms) -> uint8_t {
      auto* h = of(c);
      std::lock_guard<std::mutex> g(h->mu_);
      h->waited_ms += ms;  // virtual time: tests never sleep
      return h->cancel_ ? 1 : 0;
    };
  }

  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;
  ~FakeHost() {
    for (auto& i : instances_) {
      if (i->self != nullptr) i->def->destroy(i->self);
    }
  }

  [[nodiscard]] const progcap_host_api* api() const noexcept { return &api_; }
  void cancel() noexcept { cancel_ = true; }

  // --- config values ---------------------------------------------------
  static OwnedValue str(std::string s) { OwnedValue v; v.type = PROGCAP_TYPE_STRING; v.s = std::move(s); return v; }
  static OwnedValue integer(int64_t i) { OwnedValue v; v.type = PROGCAP_TYPE_INT64; v.i = i; return v; }
  static OwnedValue boolean(bool b) { OwnedValue v; v.type = PROGCAP_TYPE_BOOL; v.b = b; return v; }
  static OwnedValue dbl(double d) { OwnedValue v; v.type = PROGCAP_TYPE_DOUBLE; v.d = d; return v; }
  static OwnedValue json(std::string s) { OwnedValue v; v.type = PROGCAP_TYPE_JSON; v.s = std::move(s); return v; }
  static OwnedValue timestamp(int64_t micros) { OwnedValue v; v.type = PROGCAP_TYPE_TIMESTAMP; v.i = micros; return v; }
  static OwnedValue null() { return {}; }

  /// Finds a component by type name in a descriptor.
  static const progcap_component_def* find(const progcap_plugin_descriptor* d, std::string_view type) {
    if (d == nullptr) throw std::runtime_error("plugin descriptor is NULL");
    for (uint32_t i = 0; i < d->component_count; ++i) {
      if (from_abi(d->components[i]->type_name) == type) return d->components[i];
    }
    throw std::runtime_error("no component '" + std::string(type) + "'");
  }

  /// Creates and starts an instance. Options are passed as given: the fake
  /// host does not apply defaults, so pass every option the component reads.
  Instance* create(const progcap_plugin_descriptor* d, std::string_view type,
                   const std::vector<std::pair<std::string, OwnedValue>>& options, progcap_error* err_out = nullptr) {
    auto inst = std::make_unique<Instance>();
    inst->def = find(d, type);
    inst->ctx = std::make_unique<progcap_host_ctx>(progcap_host_ctx{this, std::string(type)});
    std::vector<progcap_str> names;
    std::vector<progcap_value> values;
    for (const auto& [k, v] : options) {
      names.push_back(to_abi(k));
      values.push_back(v.view());
    }
    progcap_config cfg{sizeof(progcap_config), static_cast<uint32_t>(names.size()), names.data(), values.data()};
    progcap_error err;
    inst->self = inst->def->create(inst->ctx.get(), &cfg, &err);
    if (inst->self == nullptr) {
      if (err_out != nullptr) *err_out = err;
      last_error = err;
      return nullptr;
    }
    if (inst->def->start != nullptr && inst->def->start(inst->self, &err) != PROGCAP_OK) {
      last_error = err;
      if (err_out != nullptr) *err_out = err;
      inst->def->destroy(inst->self);
      return nullptr;
    }
    instances_.push_back(std::move(inst));
    return instances_.back().get();
  }

  /// Polls a source until DONE (or `max_polls`); returns the last status.
  progcap_status run_source(Instance* src, int max_polls = 1000000) {
    progcap_emitter em{this, src->def, nullptr};
    progcap_status s = PROGCAP_OK;
    for (int i = 0; i < max_polls; ++i) {
      progcap_error err;
      s = src->def->poll(src->self, &em, &err);
      if (s != PROGCAP_OK) {
        last_error = err;
        return s;
      }
    }
    return s;
  }

  /// Writes owned rows as one batch to a sink (calls prepare first once per schema).
  progcap_status write(Instance* sink, const progcap_schema* schema, const std::vector<OwnedRow>& batch_rows,
                       uint64_t sequence = 1) {
    progcap_error err;
    if (prepared_.insert_or_assign(schema, true).second && sink->def->prepare != nullptr) {
      progcap_status p = sink->def->prepare(sink->self, schema, &err);
      if (p != PROGCAP_OK) {
        last_error = err;
        return p;
      }
    }
    std::vector<progcap_value> vals;
    for (const auto& r : batch_rows) {
      for (const auto& v : r) vals.push_back(v.view());
    }
    progcap_batch_ctx bctx{this};
    progcap_batch b{sizeof(progcap_batch), PROGCAP_BATCH_FORMAT_ROWS, schema, batch_rows.size(), schema->field_count, 0,
                    vals.data(), sequence, &bctx};
    progcap_status s = sink->def->write(sink->self, &b, &err);
    if (s != PROGCAP_OK) last_error = err;
    return s;
  }

  progcap_status flush(Instance* sink, uint32_t flags = PROGCAP_FLUSH_END_OF_STREAM) {
    progcap_error err;
    progcap_status s = sink->def->flush(sink->self, flags, &err);
    if (s != PROGCAP_OK) last_error = err;
    return s;
  }

  /// Destroys an instance early (e.g. to simulate a crash without flush).
  void destroy(Instance* inst) {
    if (inst != nullptr && inst->self != nullptr) {
      inst->def->destroy(inst->self);
      inst->self = nullptr;
    }
  }

  // --- captured state (public for tests) --------------------------------
  struct DeadLetter {
    std::string stream, record, reason;
  };
  struct Progress {
    std::string item;
    int64_t done = 0, total = -1;
  };
  std::vector<std::pair<progcap_log_level, std::string>> logs;
  std::map<std::string, std::vector<OwnedRow>> rows;
  std::map<std::string, std::string> state;
  std::map<std::string, std::string> checkpoints;
  std::map<std::string, int64_t> counters;
  std::map<std::string, double> gauges;
  std::map<std::string, std::string> secrets;
  std::map<std::string, std::string> info;
  std::vector<std::pair<uint64_t, std::string>> rejected;
  std::vector<DeadLetter> dead_letters;
  std::vector<HttpRequest> http_log;
  HttpHandler http_handler;
  Progress last_progress;
  uint64_t waited_ms = 0;
  progcap_error last_error;

 private:
  static FakeHost* of(progcap_host_ctx* c) { return c == nullptr ? nullptr : static_cast<FakeHost*>(c->host); }

  progcap_host_api api_{};
  bool cancel_ = false;
  std::mutex mu_;
  std::map<const progcap_schema*, bool> prepared_;
  std::vector<std::unique_ptr<Instance>> instances_;
};

}  // namespace progcap::sdk::testing
