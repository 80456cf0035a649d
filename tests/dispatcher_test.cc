// Routing, grouping and timing with Alertmanager's semantics, on a
// controllable clock; the webhook payload and its signature.
#include "alerts/dispatcher.h"

#include <gtest/gtest.h>

namespace vigil::alerts {
namespace {

Alert A(const std::string& name, Labels extra = {}, double starts = 0) {
  Alert a;
  a.labels = extra;
  a.labels["alertname"] = name;
  a.annotations = {{"summary", name + " summary"}};
  a.starts_at = starts;
  return a;
}

std::unique_ptr<Dispatcher> Make(DispatchConfig cfg) {
  std::unique_ptr<Dispatcher> d;
  Status st = Dispatcher::Create(cfg, &d);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return d;
}

TEST(DispatcherTest, RoutesInOrderWithContinueAndDefault) {
  DispatchConfig cfg;
  cfg.routes = {{{{"severity", "critical"}}, {}, "pager", true},
                {{}, {{"pathology", "kv_.*"}}, "chat", false},
                {{}, {}, "catchall", false}};
  cfg.default_receiver = "log";
  auto d = Make(cfg);
  EXPECT_EQ(d->Receivers({{"severity", "critical"}, {"pathology", "kv_thrashing"}}),
            (std::vector<std::string>{"pager", "chat"}));
  EXPECT_EQ(d->Receivers({{"pathology", "kv_pressure"}}), std::vector<std::string>{"chat"});
  EXPECT_EQ(d->Receivers({{"pathology", "xkv_"}}), std::vector<std::string>{"catchall"});  // regexes are anchored
  cfg.routes.pop_back();
  auto d2 = Make(cfg);
  EXPECT_EQ(d2->Receivers({{"severity", "warning"}}), std::vector<std::string>{"log"});
  cfg.routes = {{{}, {{"x", "(unclosed"}}, "r", false}};
  std::unique_ptr<Dispatcher> bad;
  EXPECT_NE(Dispatcher::Create(cfg, &bad).message().find("alerts.routes[0].match_re.x"), std::string::npos);
  // A repetition count std::regex would overflow on (common/matcher.h).
  cfg.routes = {{{}, {{"x", "a{99999999999999999999}"}}, "r", false}};
  const std::string m = Dispatcher::Create(cfg, &bad).message();
  EXPECT_NE(m.find("alerts.routes[0].match_re.x: repetition count 99999999999999999999 is more than 1000"),
            std::string::npos)
      << m;
}

TEST(DispatcherTest, GroupWaitBatchesThenGroupIntervalThenRepeat) {
  DispatchConfig cfg;
  cfg.group_by = {"pathology"};
  cfg.group_wait_s = 10;
  cfg.group_interval_s = 60;
  cfg.repeat_interval_s = 3600;
  auto d = Make(cfg);
  d->Ingest(A("A", {{"pathology", "leak"}}), 0);
  d->Ingest(A("B", {{"pathology", "leak"}}), 5);
  EXPECT_TRUE(d->Tick(9).empty());  // still waiting
  auto n = d->Tick(10);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].alerts.size(), 2u);  // arrived together: one message
  EXPECT_EQ(n[0].receiver, "log");
  // A new alert in the group waits for the group interval.
  d->Ingest(A("C", {{"pathology", "leak"}}), 20);
  EXPECT_TRUE(d->Tick(60).empty());
  n = d->Tick(70);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].alerts.size(), 3u);
  // Nothing changes: silence until the repeat interval.
  EXPECT_TRUE(d->Tick(1000).empty());
  n = d->Tick(70 + 3600);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_TRUE(n[0].firing());
}

TEST(DispatcherTest, ResolvesAreSentOnceAndOnlyForAlertsSentFiring) {
  DispatchConfig cfg;
  cfg.group_wait_s = 10;
  cfg.group_interval_s = 30;
  auto d = Make(cfg);
  d->Ingest(A("X"), 0);
  ASSERT_EQ(d->Tick(10).size(), 1u);
  Alert r = A("X");
  r.ends_at = 40;
  d->Ingest(r, 40);
  auto n = d->Tick(40);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_FALSE(n[0].firing());
  EXPECT_TRUE(d->Tick(1e6).empty());  // gone after its resolve went out
  // Fired and resolved within group_wait: nobody heard it fire, nothing is sent.
  d->Ingest(A("Y"), 100);
  Alert ry = A("Y");
  ry.ends_at = 105;
  d->Ingest(ry, 105);
  EXPECT_TRUE(d->Tick(110).empty());
}

TEST(WebhookTest, AlertmanagerFormatAndSignature) {
  GroupNotification n{"pager", "pager{alertname=\"KV\",}", {{"alertname", "KV"}}, {}};
  Alert a = A("KV", {{"severity", "critical"}}, 1700000000.5);
  n.alerts.push_back(a);
  Alert b = A("KV", {{"severity", "critical"}, {"instance", "b"}}, 1700000001);
  b.ends_at = 1700000100;
  n.alerts.push_back(b);
  auto j = WebhookPayload(n, "http://vigil:8000");
  EXPECT_EQ(j["version"], "4");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["receiver"], "pager");
  EXPECT_EQ(j["commonLabels"], (nlohmann::json{{"alertname", "KV"}, {"severity", "critical"}}));
  EXPECT_EQ(j["alerts"][0]["startsAt"], "2023-11-14T22:13:20.500Z");
  EXPECT_EQ(j["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(j["alerts"][1]["status"], "resolved");
  EXPECT_EQ(j["alerts"][0]["fingerprint"].get<std::string>().size(), 16u);
  EXPECT_NE(j["alerts"][0]["fingerprint"], j["alerts"][1]["fingerprint"]);
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(FingerprintTest, DependsOnLabelsNotOrder) {
  EXPECT_EQ(Fingerprint({{"a", "1"}, {"b", "2"}}), Fingerprint({{"b", "2"}, {"a", "1"}}));
  EXPECT_NE(Fingerprint({{"a", "1"}, {"b", "2"}}), Fingerprint({{"a", "12"}}));
  EXPECT_NE(Fingerprint({{"ab", "c"}}), Fingerprint({{"a", "bc"}}));
}

}  // namespace
}  // namespace vigil::alerts
