#include "daemon/config.h"

#include <gtest/gtest.h>

#include "common/units.h"
#include "test_util.h"

namespace vigil::daemon {
namespace {

TEST(UnitsTest, DurationsAndSizes) {
  double s = 0;
  ASSERT_TRUE(ParseDuration("500ms", &s).ok());
  EXPECT_DOUBLE_EQ(s, 0.5);
  ASSERT_TRUE(ParseDuration("1h30m", &s).ok());
  EXPECT_DOUBLE_EQ(s, 5400);
  EXPECT_FALSE(ParseDuration("5", &s).ok());
  EXPECT_FALSE(ParseDuration("5 minutes", &s).ok());
  EXPECT_FALSE(ParseDuration("", &s).ok());
  int64_t b = 0;
  ASSERT_TRUE(ParseSize("512MiB", &b).ok());
  EXPECT_EQ(b, 512LL << 20);
  ASSERT_TRUE(ParseSize("2GiB", &b).ok());
  EXPECT_EQ(b, 2LL << 30);
  ASSERT_TRUE(ParseSize("1024", &b).ok());
  EXPECT_EQ(b, 1024);
  EXPECT_FALSE(ParseSize("12 parsecs", &b).ok());
  EXPECT_EQ(FormatDuration(5400), "1h30m");
  EXPECT_EQ(FormatDuration(0.5), "500ms");
}

TEST(ConfigTest, TheShippedConfigIsValid) {
  Config c;
  Status st = LoadConfig(std::string(VIGIL_TEST_DATA_DIR) + "/../../etc/vigil.yaml", &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.server.port, 8000);
  EXPECT_EQ(c.engine.model, "builtin:tiny-llama");
  EXPECT_EQ(c.engine.kv_cache_memory, 256LL << 20);
}

TEST(ConfigTest, DefaultsWhenEmpty) {
  Config c;
  ASSERT_TRUE(ParseConfig("", "v.yaml", &c).ok());
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 8000);
  EXPECT_DOUBLE_EQ(c.server.shutdown_grace_s, 30);
  EXPECT_EQ(c.server.state_dir, "/var/lib/vigil");
  EXPECT_EQ(c.engine.block_size, 16);
  EXPECT_TRUE(c.engine.enable_prefix_caching);
}

struct Bad {
  const char* yaml;
  const char* expect;
};

TEST(ConfigTest, ErrorsNameFileLineColumnAndKeyPath) {
  std::vector<Bad> cases = {
      {"engine:\n  max_num_seqs: abc\n",
       "vigil.yaml:2:17: engine.max_num_seqs: expected a positive integer, got \"abc\""},
      {"engine:\n  max_num_seqs: 0\n", "engine.max_num_seqs: expected a positive integer in [1,"},
      {"server:\n  port: 70000\n", "server.port: expected a port number in [1, 65535], got 70000"},
      {"server:\n  shutdown_grace: soon\n", "server.shutdown_grace: expected a duration"},
      {"engine:\n  kv_cache_memory: lots\n", "engine.kv_cache_memory: expected a size"},
      {"engine:\n  dtype: float8\n", "engine.dtype: expected one of"},
      {"engine:\n  enable_prefix_caching: maybe\n", "engine.enable_prefix_caching: expected true or false"},
      {"engine:\n  faults:\n    leak_blocks_on_abort: 1.5\n",
       "engine.faults.leak_blocks_on_abort: expected a number in [0, 1]"},
      {"engine:\n  modle: x\n", "vigil.yaml:2:3: engine.modle: unknown key"},
      {"servre:\n  port: 1\n", "vigil.yaml:1:1: servre: unknown key"},
      {"server: 5\n", "server: expected a mapping"},
      {"logging:\n  level: loud\n", "logging.level: expected one of"},
      {"monitor:\n  interval: fast\n", "monitor.interval: expected a duration"},
      {"monitor:\n  detectors:\n    zscore:\n      signals: [ttft_p96]\n", "unknown signal \"ttft_p96\""},
      {"rules:\n  files: x\n", "rules.files: expected a list of strings"},
      {"capture:\n  enabled: maybe\n", "capture.enabled: expected true or false"},
      {"capture:\n  cooldown: {rule: 10m, globl: 1m}\n", "capture.cooldown.globl: unknown key"},
      {"capture:\n  retention: {max_count: 0}\n", "capture.retention.max_count: expected a positive integer"},
      {"server:\n  port: [1\n", "vigil.yaml:"},
  };
  for (const Bad& b : cases) {
    Config c;
    Status st = ParseConfig(b.yaml, "vigil.yaml", &c);
    EXPECT_FALSE(st.ok()) << b.yaml;
    EXPECT_NE(st.message().find(b.expect), std::string::npos) << "got: " << st.message() << "\nwant: " << b.expect;
  }
}

TEST(ConfigTest, AllErrorsAreReportedAtOnce) {
  Config c;
  Status st = ParseConfig("server:\n  port: x\n  threads: y\n", "v.yaml", &c);
  EXPECT_NE(st.message().find("server.port"), std::string::npos);
  EXPECT_NE(st.message().find("server.threads"), std::string::npos);
}

TEST(ConfigTest, AlertsSectionFromTheIssue) {
  Config c;
  Status st = ParseConfig(R"(alerts:
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 4h
  default_receiver: log
  receivers:
    - {name: pager, type: webhook, url: "https://hooks.example/vigil", secret_file: /etc/vigil/hook.secret}
    - {name: am, type: alertmanager, urls: ["http://127.0.0.1:9093"]}
    - {name: chat, type: slack, url: "https://hooks.slack.example/T000"}
    - {name: log, type: log}
  routes:
    - {match: {severity: critical}, receiver: pager, continue: true}
    - {match_re: {pathology: "kv_.*"}, receiver: chat}
)",
                          "vigil.yaml", &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const AlertsConfig& a = c.alerts;
  EXPECT_EQ(a.dispatch.group_wait_s, 10);
  EXPECT_EQ(a.dispatch.repeat_interval_s, 4 * 3600);
  ASSERT_EQ(a.receivers.size(), 4u);
  EXPECT_EQ(a.receivers[1].type, alerts::ReceiverType::kAlertmanager);
  EXPECT_EQ(a.secret_files.at("pager"), "/etc/vigil/hook.secret");
  ASSERT_EQ(a.dispatch.routes.size(), 2u);
  EXPECT_TRUE(a.dispatch.routes[0].continue_matching);
  EXPECT_EQ(a.dispatch.routes[1].match_re.at("pathology"), "kv_.*");
  // With no receivers at all, the log receiver is still there.
  Config d;
  ASSERT_TRUE(ParseConfig("alerts: {}\n", "v.yaml", &d).ok());
  ASSERT_EQ(d.alerts.receivers.size(), 1u);
  EXPECT_EQ(d.alerts.receivers[0].name, "log");
}

TEST(ConfigTest, AlertsErrorsNameTheField) {
  Config c;
  Status st = ParseConfig(R"(alerts:
  default_receiver: nobody
  receivers:
    - {name: a, type: pagerduty}
    - {name: b, type: webhook}
    - {name: b, type: webhook, url: "ftp://x"}
  routes:
    - {match_re: {x: "("}, receiver: ghost}
)",
                          "vigil.yaml", &c);
  ASSERT_FALSE(st.ok());
  const std::string m = st.message();
  for (const char* want :
       {"vigil.yaml:2:21: alerts.default_receiver: no receiver named \"nobody\"",
        "alerts.receivers[0].type: expected one of", "alerts.receivers[1].url: a webhook receiver needs a url",
        "alerts.receivers[2].name: receiver \"b\" is defined twice", "is not an http:// or https:// URL",
        "alerts.routes[0].match_re: x: \"(\" is not a valid regex",
        "alerts.routes[0].receiver: no receiver named \"ghost\""})
    EXPECT_NE(m.find(want), std::string::npos) << want << "\n" << m;
}

TEST(ConfigTest, CaptureSection) {
  Config c;
  Status st = ParseConfig(R"(capture:
  enabled: true
  dir: /var/lib/vigil/captures
  max_duration: 5s
  max_steps: 100
  max_bytes: 64MiB
  cooldown: {rule: 10m, global: 1m}
  retention: {max_count: 5, max_total_bytes: 1GiB}
  record_shapes: true
)",
                          "vigil.yaml", &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.capture.max_duration_s, 5);
  EXPECT_EQ(c.capture.max_steps, 100);
  EXPECT_EQ(c.capture.max_bytes, 64LL << 20);
  EXPECT_EQ(c.capture.rule_cooldown_s, 600);
  EXPECT_EQ(c.capture.global_cooldown_s, 60);
  EXPECT_EQ(c.capture.max_count, 5);
  EXPECT_TRUE(c.capture.record_shapes);
  Config d;
  ASSERT_TRUE(ParseConfig("capture: {cooldown: 30m}\n", "v.yaml", &d).ok());
  EXPECT_EQ(d.capture.rule_cooldown_s, 1800);
  EXPECT_EQ(d.capture.global_cooldown_s, 60);
}

TEST(ConfigTest, TargetsAndTheSidecar) {
  Config c;
  Status st = ParseConfig(R"(targets:
  - name: vllm-a
    url: http://10.0.0.5:8000
    engine: vllm
    scrape_timeout: 1s
    bearer_token_file: /etc/vigil/vllm-token
    health_path: /healthz
    max_bytes: 4MiB
    profile: {enabled: true, dir: /var/tmp/vllm-traces, duration: 3s, stop_timeout: 2m}
  - url: http://10.0.0.6:30000/metrics
)",
                          "v.yaml", &c);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(c.targets.size(), 2u);
  const auto& a = c.targets[0];
  EXPECT_EQ(a.name, "vllm-a");
  EXPECT_EQ(a.engine, scrape::EngineKind::kVllm);
  EXPECT_DOUBLE_EQ(a.scrape_timeout_s, 1);
  EXPECT_EQ(a.health_path, "/healthz");
  EXPECT_EQ(a.limits.max_bytes, 4u << 20);
  EXPECT_TRUE(a.profile.enabled);
  EXPECT_DOUBLE_EQ(a.profile.stop_timeout_s, 120);
  EXPECT_EQ(c.targets[1].name, "10.0.0.6:30000");                // host:port when unnamed
  EXPECT_EQ(c.targets[1].engine, scrape::EngineKind::kUnknown);  // auto
  EXPECT_DOUBLE_EQ(c.targets[1].scrape_timeout_s, 2);
  // targets: without an engine: section is a sidecar; with one it hosts too.
  EXPECT_FALSE(c.engine_enabled);
  ASSERT_TRUE(ParseConfig("engine:\n  num_blocks: 64\ntargets:\n  - url: http://h:1\n", "v.yaml", &c).ok());
  EXPECT_TRUE(c.engine_enabled);
  ASSERT_TRUE(ParseConfig("engine:\n  model: none\ntargets:\n  - url: http://h:1\n", "v.yaml", &c).ok());
  EXPECT_FALSE(c.engine_enabled);
  ASSERT_TRUE(ParseConfig("", "v.yaml", &c).ok());
  EXPECT_TRUE(c.engine_enabled);
}

TEST(ConfigTest, ExternalLabels) {
  Config c;
  const std::map<std::string, std::string> want = {{"cluster", "prod-us"}, {"node", "gpu-17"}};
  ASSERT_TRUE(ParseConfig("server:\n  external_labels: {cluster: prod-us, node: gpu-17}\n", "v.yaml", &c).ok());
  EXPECT_EQ(c.server.external_labels, want);
  Status st = ParseConfig("server:\n  external_labels: {\"no-dash\": x}\n", "v.yaml", &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("v.yaml:2:20: server.external_labels: \"no-dash\" is not a Prometheus label name"),
            std::string::npos)
      << st.message();
}

TEST(ConfigTest, InstanceLabelsIsTheOldNameOfExternalLabels) {
  Config c;
  ASSERT_TRUE(ParseConfig("server:\n  instance_labels: {cluster: prod-us}\n", "v.yaml", &c).ok());
  EXPECT_EQ(c.server.external_labels, (std::map<std::string, std::string>{{"cluster", "prod-us"}}));
  Status st = ParseConfig("server:\n  instance_labels: {\"no-dash\": x}\n", "v.yaml", &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("v.yaml:2:20: server.instance_labels: \"no-dash\""), std::string::npos) << st.message();
  st = ParseConfig("server:\n  external_labels: {a: b}\n  instance_labels: {a: c}\n", "v.yaml", &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("v.yaml:3:20: server.instance_labels: the old name of server.external_labels"),
            std::string::npos)
      << st.message();
}

TEST(ConfigTest, TargetErrorsNameTheField) {
  struct Bad {
    std::string yaml, expect;
  } cases[] = {
      {"targets:\n  - name: a\n", "v.yaml:2:5: targets[0].url: required"},
      {"targets:\n  - url: ftp://h:1\n", "v.yaml:2:10: targets[0].url: \"ftp://h:1\": only http:// and https://"},
      {"targets:\n  - url: http://h:1\n    engine: triton\n", "v.yaml:3:13: targets[0].engine: expected one of"},
      {"targets:\n  - {name: a, url: http://h:1}\n  - {name: a, url: http://h:2}\n",
       "targets[1].name: \"a\" is used twice"},
      {"targets:\n  - {name: local, url: http://h:1}\n", "targets[0].name: \"local\" is used twice"},
      {"targets:\n  - {name: \"a b\", url: http://h:1}\n", "targets[0].name: \"a b\": use letters"},
      {"targets:\n  - {url: http://h:1, health_path: health}\n", "targets[0].health_path: must start with /"},
      {"targets:\n  - {url: http://h:1, scrape_timeout: 0s}\n", "targets[0].scrape_timeout: must be at least"},
      {"targets:\n  - {url: http://h:1, profile: {enabled: yes, dri: /x}}\n", "targets[0].profile.dri: unknown key"},
      {"targets:\n  - {url: http://h:1, scrape_interval: 5s}\n", "targets[0].scrape_interval: unknown key"},
      {"targets: {url: http://h:1}\n", "targets: expected a list"},
  };
  for (const auto& b : cases) {
    Config c;
    Status st = ParseConfig(b.yaml, "v.yaml", &c);
    ASSERT_FALSE(st.ok()) << b.yaml;
    EXPECT_NE(st.message().find(b.expect), std::string::npos) << b.yaml << " -> " << st.message();
  }
}

TEST(ConfigTest, RestartRequiredChanges) {
  Config a, b;
  b.engine.model = "/models/x";
  b.server.max_waiting_requests = 5;
  auto changes = RestartRequiredChanges(a, b);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], "engine.model");
  Config c = a;
  c.alerts.dispatch.group_wait_s = 1;
  c.capture.max_steps = 7;
  changes = RestartRequiredChanges(a, c);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0], "alerts");
  EXPECT_EQ(changes[1], "capture");
}

}  // namespace
}  // namespace vigil::daemon
