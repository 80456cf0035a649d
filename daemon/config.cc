#include "daemon/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "common/units.h"
#include "monitor/signals.h"

namespace vigil::daemon {

namespace {

// A mapping node being read: typed getters record errors with positions and
// Finish() reports keys nobody asked for.
class Section {
 public:
  Section(YAML::Node node, std::string path, const std::string* file, std::vector<std::string>* errors)
      : node_(std::move(node)), path_(std::move(path)), file_(file), errors_(errors) {
    if (!node_) node_ = YAML::Node();
    if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
      Error(node_, "", "expected a mapping");
      node_ = YAML::Node();
    }
  }

  Section Child(const std::string& key) {
    seen_.insert(key);
    return Section(Get(key), Path(key), file_, errors_);
  }

  void String(const std::string& key, std::string* out) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    if (!n.IsScalar()) return Error(n, key, "expected a string");
    *out = n.Scalar();
  }
  void Bool(const std::string& key, bool* out) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    bool v;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
      return Error(n, key, "expected true or false, got " + Quote(n));
    *out = v;
  }
  template <typename T>
  void Int(const std::string& key, T* out, int64_t min, int64_t max, const char* what = "an integer") {
    YAML::Node n = Lookup(key);
    if (!n) return;
    int64_t v;
    if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v))
      return Error(n, key, std::string("expected ") + what + ", got " + Quote(n));
    if (v < min || v > max)
      return Error(n, key, std::string("expected ") + what + " in [" + std::to_string(min) + ", " +
                               std::to_string(max) + "], got " + std::to_string(v));
    *out = static_cast<T>(v);
  }
  void Double(const std::string& key, double* out, double min, double max) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    double v;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v))
      return Error(n, key, "expected a number, got " + Quote(n));
    if (!(v >= min && v <= max))
      return Error(n, key, "expected a number in [" + Num(min) + ", " + Num(max) + "], got " + Num(v));
    *out = v;
  }
  void Duration(const std::string& key, double* seconds, double min_s = 0) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    double v;
    Status st = n.IsScalar() ? ParseDuration(n.Scalar(), &v) : Status::InvalidArgument("expected a duration");
    if (!st.ok()) return Error(n, key, st.message());
    if (v < min_s) return Error(n, key, "must be at least " + FormatDuration(min_s));
    *seconds = v;
  }
  void Size(const std::string& key, int64_t* bytes, int64_t min = 1) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    int64_t v;
    Status st = n.IsScalar() ? ParseSize(n.Scalar(), &v) : Status::InvalidArgument("expected a size");
    if (!st.ok()) return Error(n, key, st.message());
    if (v < min) return Error(n, key, "must be at least " + std::to_string(min) + " bytes");
    *bytes = v;
  }
  void OneOf(const std::string& key, std::string* out, const std::set<std::string>& allowed) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    if (!n.IsScalar() || !allowed.count(n.Scalar())) return Error(n, key, "expected one of " + list + ", got " + Quote(n));
    *out = n.Scalar();
  }

  void Strings(const std::string& key, std::vector<std::string>* out) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    if (!n.IsSequence()) return Error(n, key, "expected a list of strings");
    out->clear();
    for (const YAML::Node& e : n) {
      if (!e.IsScalar()) return Error(e, key, "expected a list of strings");
      out->push_back(e.Scalar());
    }
  }
  // Signal names, checked against the catalogue.
  void Signals(const std::string& key, std::vector<std::string>* out) {
    YAML::Node n = Lookup(key);
    Strings(key, out);
    if (!n || !n.IsSequence()) return;
    for (const YAML::Node& e : n)
      if (e.IsScalar() && !monitor::FindSignal(e.Scalar())) Error(e, key, "unknown signal \"" + e.Scalar() + "\"");
  }
  std::vector<Section> Items(const std::string& key) {
    std::vector<Section> out;
    YAML::Node n = Lookup(key);
    if (!n) return out;
    if (!n.IsSequence()) {
      Error(n, key, "expected a list");
      return out;
    }
    for (size_t i = 0; i < n.size(); ++i) out.emplace_back(n[i], Path(key) + "[" + std::to_string(i) + "]", file_, errors_);
    return out;
  }
  std::vector<std::pair<std::string, Section>> Entries() {
    std::vector<std::pair<std::string, Section>> out;
    if (!node_.IsMap()) return out;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string key = it->first.Scalar();
      seen_.insert(key);
      out.emplace_back(key, Section(it->second, Path(key), file_, errors_));
    }
    return out;
  }
  const std::string& path() const { return path_; }

  void Finish() {
    if (!node_.IsMap()) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (!seen_.count(key)) Error(it->first, key, "unknown key");
    }
  }
  // Used when a key's value fails a check beyond its type.
  void Error(const std::string& key, const std::string& msg) {
    YAML::Node n = Get(key);
    Error(n ? n : node_, key, msg);
  }

 private:
  YAML::Node Get(const std::string& key) const {
    if (!node_.IsMap()) return YAML::Node();
    const YAML::Node& cn = node_;  // const: operator[] must not insert the key
    YAML::Node n = cn[key];
    return n ? n : YAML::Node();  // a missing key yields an "invalid" node that throws on use
  }
  YAML::Node Lookup(const std::string& key) {
    seen_.insert(key);
    YAML::Node n = Get(key);
    // Absent or null keys keep their defaults.
    if (!n || n.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
    return n;
  }
  std::string Path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  static std::string Quote(const YAML::Node& n) {
    if (n.IsScalar()) return "\"" + n.Scalar() + "\"";
    return n.IsSequence() ? "a list" : "a mapping";
  }
  static std::string Num(double v) {
    std::ostringstream ss;
    ss << v;
    return ss.str();
  }
  void Error(const YAML::Node& n, const std::string& key, const std::string& msg) {
    const YAML::Mark m = n.Mark();
    std::string where = *file_;
    if (!m.is_null()) where += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    const std::string path = key.empty() ? path_ : Path(key);
    errors_->push_back(where + ": " + (path.empty() ? "" : path + ": ") + msg);
  }

  YAML::Node node_;
  std::string path_;
  const std::string* file_;
  std::vector<std::string>* errors_;
  std::set<std::string> seen_;
};

void ReadServer(Section s, ServerConfig* c) {
  s.String("host", &c->host);
  s.Int("port", &c->port, 1, 65535, "a port number");
  s.Int("threads", &c->threads, 1, 4096, "a positive integer");
  s.Int("max_waiting_requests", &c->max_waiting_requests, 1, 1000000, "a positive integer");
  s.Duration("shutdown_grace", &c->shutdown_grace_s);
  s.String("api_keys_file", &c->api_keys_file);
  s.String("admin_token_file", &c->admin_token_file);
  s.String("state_dir", &c->state_dir);
  s.Size("max_request_bytes", &c->max_request_bytes, 1024);
  s.Duration("engine_stall_timeout", &c->engine_stall_timeout_s, 0.1);
  s.Finish();
}

void ReadEngine(Section s, engine::EngineConfig* e, ModelServingConfig* m) {
  s.String("model", &e->model);
  s.String("tokenizer", &m->tokenizer);
  s.String("served_model_name", &m->served_model_name);
  s.String("device", &e->device);
  s.OneOf("dtype", &e->dtype, {"auto", "float32", "bfloat16", "float16"});
  s.Int("block_size", &e->block_size, 1, 1024, "a positive integer");
  s.Int("num_blocks", &e->num_blocks, 0, int64_t{1} << 40, "a non-negative integer");
  s.Size("kv_cache_memory", &e->kv_cache_memory);
  s.Int("max_num_seqs", &e->max_num_seqs, 1, 1 << 20, "a positive integer");
  s.Int("max_num_batched_tokens", &e->max_num_batched_tokens, 1, 1 << 24, "a positive integer");
  s.Int("max_model_len", &e->max_model_len, 0, 1 << 24, "a non-negative integer");
  s.Bool("enable_chunked_prefill", &e->enable_chunked_prefill);
  s.Bool("enable_prefix_caching", &e->enable_prefix_caching);
  int64_t seed = 0;
  s.Int("seed", &seed, 0, std::numeric_limits<int64_t>::max(), "a non-negative integer");
  e->seed = static_cast<uint64_t>(seed);
  s.String("chat_message_template", &m->chat_message_template);
  s.String("chat_generation_prompt", &m->chat_generation_prompt);
  Section f = s.Child("faults");
  f.Double("leak_blocks_on_abort", &e->faults.leak_blocks_on_abort, 0.0, 1.0);
  double stall = 0;
  f.Duration("stall_step", &stall);
  e->faults.stall_step_ms = static_cast<int64_t>(stall * 1000);
  f.Finish();
  s.Finish();
}

void ReadZScore(Section& s, detectors::ZScoreConfig* z) {
  int64_t window = static_cast<int64_t>(z->window), min_samples = static_cast<int64_t>(z->min_samples);
  s.Int("window", &window, 2, 1000000, "an integer");
  s.Int("min_samples", &min_samples, 2, 1000000, "an integer");
  z->window = static_cast<size_t>(window);
  z->min_samples = static_cast<size_t>(min_samples);
  s.Double("threshold", &z->threshold, 0.1, 1000);
  std::string dir = detectors::DirectionName(z->direction);
  s.OneOf("direction", &dir, {"high", "low", "both"});
  z->direction = dir == "high" ? detectors::Direction::kHigh : dir == "low" ? detectors::Direction::kLow
                                                                            : detectors::Direction::kBoth;
}

void ReadMonitor(Section s, MonitorConfig* m) {
  s.Bool("enabled", &m->enabled);
  s.Duration("interval", &m->interval_s, 0.01);
  s.Duration("window", &m->window_s, 0.01);
  s.Duration("retention", &m->retention_s, 0.01);
  s.Duration("request_timeout", &m->request_timeout_s, 0.001);
  if (m->retention_s / m->interval_s > 10000000) s.Error("retention", "retention / interval exceeds 10 million points per signal");
  Section d = s.Child("detectors");
  detectors::DetectorsConfig& dc = m->detectors;
  Section z = d.Child("zscore");
  ReadZScore(z, &dc.zscore);
  z.Signals("signals", &dc.zscore_signals);
  Section ov = z.Child("overrides");
  for (auto& [name, sec] : ov.Entries()) {
    if (!monitor::FindSignal(name)) sec.Error("", "unknown signal \"" + name + "\"");
    detectors::ZScoreConfig c = dc.zscore;
    ReadZScore(sec, &c);
    sec.Finish();
    dc.zscore_overrides[name] = c;
  }
  ov.Finish();
  z.Finish();
  Section c = d.Child("correlation");
  std::vector<Section> pairs = c.Items("pairs");
  if (!pairs.empty()) dc.pairs.clear();
  for (Section& p : pairs) {
    detectors::CorrelationPair pair;
    std::vector<std::string> ab;
    p.String("a", &pair.a);
    p.String("b", &pair.b);
    if (!monitor::FindSignal(pair.a) || !monitor::FindSignal(pair.b)) p.Error("a", "a and b must be known signals");
    p.Double("threshold", &pair.threshold, -1, 1);
    int64_t w = static_cast<int64_t>(pair.window);
    p.Int("window", &w, 3, 100000, "an integer");
    pair.window = static_cast<size_t>(w);
    p.String("message", &pair.message);
    p.Finish();
    dc.pairs.push_back(pair);
  }
  c.Signals("matrix", &dc.matrix_signals);
  c.Finish();
  Section t = d.Child("trend");
  t.Duration("window", &dc.trend.window_s, 1);
  t.Double("min_r2", &dc.trend.min_r2, 0, 1);
  t.Duration("min_span", &dc.trend.min_span_s, 0);
  t.Signals("signals", &dc.trend.signals);
  t.Finish();
  d.Finish();
  s.Finish();
}

}  // namespace

Status ParseConfig(const std::string& text, const std::string& source, Config* out) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  Config c;
  c.path = source;
  std::vector<std::string> errors;
  Section top(root, "", &source, &errors);
  ReadServer(top.Child("server"), &c.server);
  ReadEngine(top.Child("engine"), &c.engine, &c.serving);
  Section logging = top.Child("logging");
  logging.OneOf("level", &c.logging.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  logging.Finish();
  ReadMonitor(top.Child("monitor"), &c.monitor);
  Section rules = top.Child("rules");
  std::vector<std::string> files;
  rules.Strings("files", &files);
  if (!files.empty()) {
    c.rules.files = files;
    c.rules.files_set = true;
  }
  rules.Finish();
  // Sections later capabilities fill; until then they must be empty.
  for (const char* later : {"alerts", "capture"}) top.Child(later).Finish();
  top.Finish();
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
    return Status::InvalidArgument(all);
  }
  *out = c;
  return Status::OK();
}

Status LoadConfig(const std::string& path, Config* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open config file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path, out);
}

std::vector<std::string> RestartRequiredChanges(const Config& a, const Config& b) {
  std::vector<std::string> out;
  const auto& x = a.engine;
  const auto& y = b.engine;
  if (x.model != y.model) out.push_back("engine.model");
  if (x.device != y.device) out.push_back("engine.device");
  if (x.dtype != y.dtype) out.push_back("engine.dtype");
  if (x.block_size != y.block_size) out.push_back("engine.block_size");
  if (x.num_blocks != y.num_blocks || x.kv_cache_memory != y.kv_cache_memory) out.push_back("engine KV cache size");
  if (x.max_num_seqs != y.max_num_seqs) out.push_back("engine.max_num_seqs");
  if (x.max_num_batched_tokens != y.max_num_batched_tokens) out.push_back("engine.max_num_batched_tokens");
  if (x.max_model_len != y.max_model_len) out.push_back("engine.max_model_len");
  if (x.enable_chunked_prefill != y.enable_chunked_prefill) out.push_back("engine.enable_chunked_prefill");
  if (x.enable_prefix_caching != y.enable_prefix_caching) out.push_back("engine.enable_prefix_caching");
  if (x.faults.leak_blocks_on_abort != y.faults.leak_blocks_on_abort || x.faults.stall_step_ms != y.faults.stall_step_ms)
    out.push_back("engine.faults");
  if (a.serving.tokenizer != b.serving.tokenizer) out.push_back("engine.tokenizer");
  if (a.server.host != b.server.host || a.server.port != b.server.port) out.push_back("server.host/port");
  if (a.server.threads != b.server.threads) out.push_back("server.threads");
  if (a.server.state_dir != b.server.state_dir) out.push_back("server.state_dir");
  return out;
}

}  // namespace vigil::daemon
