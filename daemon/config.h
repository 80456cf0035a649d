// vigild's configuration: one YAML file with sections server, engine,
// monitor, rules, alerts, capture and logging. Unknown keys, wrong types and
// out-of-range values are errors naming file:line:col and the key path.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rules/inhibit.h"
#include "alerts/outbox.h"
#include "alerts/receivers.h"
#include "capture/manager.h"
#include "common/status.h"
#include "detectors/detectors.h"
#include "engine/config.h"
#include "pipeline/target.h"

namespace vigil::daemon {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8000;
  int threads = 64;                 // HTTP workers for every route but the streams (which hold none)
  int max_waiting_requests = 4096;  // requests in the engine's queue; beyond it: 429 with Retry-After
  double shutdown_grace_s = 30;
  std::string api_keys_file;     // when set, /v1/* needs Authorization: Bearer KEY
  std::string admin_token_file;  // admin endpoints refuse without it
  std::string state_dir = "/var/lib/vigil";
  int64_t max_request_bytes = 1 << 20;  // larger bodies: 413
  double engine_stall_timeout_s = 10;   // /health 503 and no WATCHDOG=1 past this
  // Added to every alert vigild sends, unless the rule sets the label
  // itself (as Prometheus' external_labels): {cluster: prod-us, node: gpu-17}.
  std::map<std::string, std::string> external_labels;
  // The dashboard at / (assets under /ui/): the page's files come from
  // ui_dir (empty: the installed share/vigil/ui, else the source tree's
  // ui/), the chart library from Debian's libjs-dygraphs.
  bool ui = true;
  std::string ui_dir;
};

struct ModelServingConfig {
  std::string tokenizer;          // empty: <model dir>/tokenizer.json (built-in: bundled GPT-2)
  std::string served_model_name;  // empty: the model path or builtin name
  // Chat rendering: each message as message_template with {role} and
  // {content}, then generation_prompt.
  std::string chat_message_template = "<|{role}|>\n{content}\n";
  std::string chat_generation_prompt = "<|assistant|>\n";
};

struct MonitorConfig {
  bool enabled = true;
  double interval_s = 1;
  double window_s = 60;
  double retention_s = 3600;
  double request_timeout_s = 300;
  detectors::DetectorsConfig detectors;
};

struct RulesConfig {
  // Files or globs; relative ones resolve against the config file's folder.
  std::vector<std::string> files = {"rules/*.yaml"};
  bool files_set = false;  // the default may match nothing; an explicit list must
};

struct AlertsConfig {
  alerts::DispatchConfig dispatch;                  // group_by, group_wait, ..., default_receiver, routes
  std::vector<alerts::ReceiverConfig> receivers;    // a "log" receiver is always among them
  std::map<std::string, std::string> secret_files;  // receiver -> secret_file (read at start)
  alerts::RetryPolicy retry;                        // retry_base, retry_cap, max_age
  std::string external_url;                         // links back to vigild; empty: http://host:port
  double resend_delay_s = 60;                       // alertmanager receivers, while firing
  std::vector<rules::InhibitRule> inhibit_rules;    // added to those the rule files ship
};

struct LoggingConfig {
  std::string level = "info";
};

struct Config {
  std::string path;  // where it was loaded from
  ServerConfig server;
  // false: a pure sidecar (engine.model: none, or targets: without an
  // engine: section): no engine of its own and no /v1/*.
  bool engine_enabled = true;
  bool engine_section = false;  // the file has an engine: section
  engine::EngineConfig engine;
  ModelServingConfig serving;
  std::vector<pipeline::TargetConfig> targets;  // watched engines
  MonitorConfig monitor;
  RulesConfig rules;
  AlertsConfig alerts;
  capture::CaptureConfig capture;  // dir empty: <state_dir>/captures
  LoggingConfig logging;
};

// Every error found, one per line, each "file:line:col: key.path: message".
Status ParseConfig(const std::string& yaml_text, const std::string& source, Config* out);
Status LoadConfig(const std::string& path, Config* out);

// engine_enabled from engine.model, engine_section and targets (after
// --watch added its targets).
void FinalizeEngine(Config* c);

// host:port of a target URL: a target's name when none is given.
std::string DefaultTargetName(const std::string& url);

// What differs between two configs and needs a restart to take effect.
std::vector<std::string> RestartRequiredChanges(const Config& running, const Config& next);

}  // namespace vigil::daemon
