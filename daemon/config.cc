#include "daemon/config.h"
#include "common/os_util.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "common/units.h"
#include "daemon/config_section.h"
#include "monitor/signals.h"

namespace vigil::daemon {

namespace {

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
  // external_labels, as Prometheus names them; instance_labels is its old
  // name (it suggested the monitored instances), still read with a warning.
  const std::string labels_key =
      s.DeprecatedAlias("instance_labels", "external_labels") ? "instance_labels" : "external_labels";
  s.StringMap(labels_key, &c->external_labels);
  s.Bool("ui", &c->ui);
  s.String("ui_dir", &c->ui_dir);
  for (const auto& [k, v] : c->external_labels) {
    bool ok = !k.empty() && !isdigit(static_cast<unsigned char>(k[0])) && k.rfind("__", 0) != 0;
    for (char ch : k) ok = ok && (isalnum(static_cast<unsigned char>(ch)) || ch == '_');
    if (!ok) s.Error(labels_key, "\"" + k + "\" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not __*)");
  }
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
  s.Double("min_relative_change", &z->min_relative_change, 0, 1000);
  s.Double("min_absolute_change", &z->min_absolute_change, 0, 1e18);
  std::string dir = detectors::DirectionName(z->direction);
  s.OneOf("direction", &dir, {"high", "low", "both"});
  z->direction = dir == "high"  ? detectors::Direction::kHigh
                 : dir == "low" ? detectors::Direction::kLow
                                : detectors::Direction::kBoth;
}

void ReadMonitor(Section s, MonitorConfig* m) {
  s.Bool("enabled", &m->enabled);
  s.Duration("interval", &m->interval_s, 0.01);
  s.Duration("window", &m->window_s, 0.01);
  s.Duration("retention", &m->retention_s, 0.01);
  s.Duration("request_timeout", &m->request_timeout_s, 0.001);
  if (m->retention_s / m->interval_s > 10000000)
    s.Error("retention", "retention / interval exceeds 10 million points per signal");
  Section d = s.Child("detectors");
  detectors::DetectorsConfig& dc = m->detectors;
  d.OneOf("method", &dc.method, {"novelty", "zscore"});
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
  ReadAlerts(top.Child("alerts"), &c.alerts);
  ReadCapture(top.Child("capture"), &c.capture);
  ReadTargets(top, &c.targets);
  const YAML::Node& croot = root;
  c.engine_section = croot.IsMap() && croot["engine"];
  FinalizeEngine(&c);
  top.Finish();
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
    return Status::InvalidArgument(all);
  }
  *out = c;
  return Status::OK();
}

void FinalizeEngine(Config* c) {
  c->engine_enabled = c->engine.model != "none" && (c->engine_section || c->targets.empty());
}

Status LoadConfig(const std::string& path, Config* out) {
  std::string text;
  VIGIL_RETURN_IF_ERROR(ReadWholeFile(path, "config file", &text));
  return ParseConfig(text, path, out);
}

namespace {
// Everything in the alerts section, for change detection.
std::string AlertsText(const AlertsConfig& a) {
  std::ostringstream s;
  const auto& d = a.dispatch;
  for (const auto& g : d.group_by) s << g << ',';
  s << '|' << d.group_wait_s << '|' << d.group_interval_s << '|' << d.repeat_interval_s << '|' << d.default_receiver;
  for (const auto& r : d.routes) {
    s << "|route:" << r.receiver << ':' << r.continue_matching;
    for (const auto& [k, v] : r.match) s << ':' << k << '=' << v;
    for (const auto& [k, v] : r.match_re) s << ':' << k << "=~" << v;
  }
  for (const auto& r : a.receivers) {
    s << "|recv:" << r.name << ':' << static_cast<int>(r.type) << ':' << r.timeout_s << ':' << r.ca_file << ':'
      << r.insecure_skip_verify;
    for (const auto& u : r.urls) s << ':' << u;
    for (const auto& [k, v] : r.headers) s << ':' << k << '=' << v;
  }
  for (const auto& [k, v] : a.secret_files) s << "|secret:" << k << '=' << v;
  s << '|' << a.retry.base_s << '|' << a.retry.cap_s << '|' << a.retry.max_age_s << '|' << a.external_url << '|'
    << a.resend_delay_s;
  return s.str();
}
}  // namespace

std::vector<std::string> RestartRequiredChanges(const Config& a, const Config& b) {
  std::vector<std::string> out;
  const auto& x = a.engine;
  const auto& y = b.engine;
  if (x.model != y.model) out.push_back("engine.model");
  if (a.engine_enabled != b.engine_enabled) out.push_back("engine (hosted or not)");
  auto targets_text = [](const Config& c) {
    std::ostringstream s;
    for (const auto& t : c.targets)
      s << t.name << '|' << t.url << '|' << static_cast<int>(t.engine) << '|' << t.scrape_timeout_s << '|'
        << t.bearer_token_file << '|' << t.health_path << '|' << t.health_interval_s << '|' << t.limits.max_bytes << '|'
        << t.limits.max_series << '|' << t.profile.enabled << '|' << t.profile.dir << '|' << t.profile.duration_s << '|'
        << t.profile.stop_timeout_s << ';';
    return s.str();
  };
  if (targets_text(a) != targets_text(b)) out.push_back("targets");
  if (x.device != y.device) out.push_back("engine.device");
  if (x.dtype != y.dtype) out.push_back("engine.dtype");
  if (x.block_size != y.block_size) out.push_back("engine.block_size");
  if (x.num_blocks != y.num_blocks || x.kv_cache_memory != y.kv_cache_memory) out.push_back("engine KV cache size");
  if (x.max_num_seqs != y.max_num_seqs) out.push_back("engine.max_num_seqs");
  if (x.max_num_batched_tokens != y.max_num_batched_tokens) out.push_back("engine.max_num_batched_tokens");
  if (x.max_model_len != y.max_model_len) out.push_back("engine.max_model_len");
  if (x.enable_chunked_prefill != y.enable_chunked_prefill) out.push_back("engine.enable_chunked_prefill");
  if (x.enable_prefix_caching != y.enable_prefix_caching) out.push_back("engine.enable_prefix_caching");
  if (x.faults.leak_blocks_on_abort != y.faults.leak_blocks_on_abort ||
      x.faults.stall_step_ms != y.faults.stall_step_ms)
    out.push_back("engine.faults");
  if (a.serving.tokenizer != b.serving.tokenizer) out.push_back("engine.tokenizer");
  if (a.server.host != b.server.host || a.server.port != b.server.port) out.push_back("server.host/port");
  if (a.server.threads != b.server.threads) out.push_back("server.threads");
  if (a.server.external_labels != b.server.external_labels) out.push_back("server.external_labels");
  if (a.server.state_dir != b.server.state_dir) out.push_back("server.state_dir");
  if (AlertsText(a.alerts) != AlertsText(b.alerts)) out.push_back("alerts");
  const auto& p = a.capture;
  const auto& q = b.capture;
  if (p.enabled != q.enabled || p.dir != q.dir || p.max_duration_s != q.max_duration_s || p.max_steps != q.max_steps ||
      p.max_bytes != q.max_bytes || p.rule_cooldown_s != q.rule_cooldown_s ||
      p.global_cooldown_s != q.global_cooldown_s || p.max_count != q.max_count ||
      p.max_total_bytes != q.max_total_bytes || p.record_shapes != q.record_shapes || p.with_stack != q.with_stack)
    out.push_back("capture");
  return out;
}

}  // namespace vigil::daemon
