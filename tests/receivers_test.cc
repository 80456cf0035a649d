// Receiver formats (Alertmanager webhook, Alertmanager API, Slack, log) and
// TLS against a real HTTPS receiver with a generated CA.
#include "alerts/receivers.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "common/time_util.h"
#include "test_receiver.h"
#include "test_util.h"

namespace vigil::alerts {
namespace {

using json = nlohmann::json;
using vigil::testing::TempDir;

GroupNotification Group(bool resolved = false) {
  Alert a;
  a.labels = {{"alertname", "KVCacheThrashing"}, {"severity", "critical"}, {"pathology", "kv_thrashing"}};
  a.annotations = {{"summary", "KV cache is thrashing"},
                   {"evidence", "kv_cache_usage=0.98, preemptions_rate=4.2"},
                   {"recommendation", "raise kv_cache_memory or lower max_num_seqs"}};
  a.starts_at = 1700000000;
  if (resolved) a.ends_at = 1700000600;
  a.generator_url = "http://vigil:8000/health/report";
  return {"chat", "chat{alertname=\"KVCacheThrashing\",}", {{"alertname", "KVCacheThrashing"}}, {a}};
}

TEST(ReceiversTest, WebhookBodyIsAlertmanagersFormat) {
  ReceiverConfig r;
  r.type = ReceiverType::kWebhook;
  const json j = json::parse(Render(r, Group(), {"http://vigil:8000", 1700000100}));
  EXPECT_EQ(j["version"], "4");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["externalURL"], "http://vigil:8000");
  for (const char* k : {"receiver", "groupKey", "groupLabels", "commonLabels", "commonAnnotations", "alerts"})
    EXPECT_TRUE(j.contains(k)) << k;
  const json& a = j["alerts"][0];
  for (const char* k : {"status", "labels", "annotations", "startsAt", "endsAt", "fingerprint", "generatorURL"})
    EXPECT_TRUE(a.contains(k)) << k;
  EXPECT_EQ(a["startsAt"], FormatRfc3339(1700000000));
  EXPECT_EQ(a["endsAt"], "0001-01-01T00:00:00Z");
}

TEST(ReceiversTest, AlertmanagerAlertsEndAheadWhileFiringAndAtTheResolve) {
  RenderContext ctx{"http://vigil:8000", 1700000100, 240};
  json firing = json::parse(RenderAlertmanager(Group().alerts, ctx));
  ASSERT_TRUE(firing.is_array());
  EXPECT_EQ(firing[0]["labels"]["alertname"], "KVCacheThrashing");
  EXPECT_EQ(firing[0]["endsAt"], FormatRfc3339(1700000100 + 240));
  EXPECT_FALSE(firing[0].contains("status"));  // not part of postableAlert
  json resolved = json::parse(RenderAlertmanager(Group(true).alerts, ctx));
  EXPECT_EQ(resolved[0]["endsAt"], FormatRfc3339(1700000600));
}

// An Alertmanager cluster shares no alerts between replicas: each must be
// posted to, and one that is down does not fail the delivery.
TEST(ReceiversTest, AlertmanagerReplicasEachGetTheAlertsAndOneDownIsNotAFailure) {
  vigil::testing::TestReceiver am1, am2;
  ReceiverConfig r;
  r.name = "am";
  r.type = ReceiverType::kAlertmanager;
  r.timeout_s = 2;
  r.urls = {am1.Url("/"), am2.Url("")};
  Notification n;
  n.idempotency_key = "k1";
  n.payload = RenderAlertmanager(Group().alerts, {"http://vigil:8000", 1700000100, 240});
  n.created_at = 1700000100;
  DeliveryOutcome o = Send(r, n, 1700000100, 240);
  EXPECT_TRUE(o.ok) << o.error;
  ASSERT_EQ(am1.Requests().size(), 1u);
  ASSERT_EQ(am2.Requests().size(), 1u);
  EXPECT_EQ(am1.Requests()[0].path, "/api/v2/alerts");
  EXPECT_EQ(am2.Requests()[0].body, am1.Requests()[0].body);
  am1.Down();
  o = Send(r, n, 1700000101, 240);
  EXPECT_TRUE(o.ok) << o.error;
  EXPECT_EQ(am2.Requests().size(), 2u);
  am2.Down();
  o = Send(r, n, 1700000102, 240);
  EXPECT_FALSE(o.ok);
  EXPECT_FALSE(o.permanent);  // both down: retried
}

TEST(ReceiversTest, SlackMessageCarriesSummaryEvidenceAndTheReportLink) {
  ReceiverConfig r;
  r.type = ReceiverType::kSlack;
  const json j = json::parse(Render(r, Group(), {"http://vigil:8000", 0}));
  EXPECT_EQ(j["text"], "[FIRING:1] KVCacheThrashing");
  const std::string all = j.dump();
  for (const char* s : {"KV cache is thrashing", "critical", "kv_cache_usage=0.98", "raise kv_cache_memory",
                        "http://vigil:8000/health/report"})
    EXPECT_NE(all.find(s), std::string::npos) << s;
  EXPECT_EQ(json::parse(Render(r, Group(true), {"u", 0}))["text"], "[RESOLVED] KVCacheThrashing");
}

TEST(ReceiversTest, ParsesTypes) {
  ReceiverType t;
  EXPECT_TRUE(ParseReceiverType("alertmanager", &t));
  EXPECT_EQ(t, ReceiverType::kAlertmanager);
  EXPECT_FALSE(ParseReceiverType("pagerduty", &t));
}

// A self-signed CA and a server certificate for 127.0.0.1, made with openssl.
class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string d = dir_.path();
    const std::string cmd =
        "cd " + d +
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=vigil-test-ca"
        " 2>/dev/null"
        " && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null"
        " && printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf"
        " && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2"
        " -extfile ext.cnf 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    server_ = std::make_unique<httplib::SSLServer>((d + "/srv.pem").c_str(), (d + "/srv.key").c_str());
    ASSERT_TRUE(server_->is_valid());
    server_->Post("/hook", [this](const httplib::Request&, httplib::Response& r) {
      ++hits_;
      r.set_content("{}", "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  ReceiverConfig Receiver() const {
    ReceiverConfig r;
    r.name = "secure";
    r.type = ReceiverType::kWebhook;
    r.urls = {"https://127.0.0.1:" + std::to_string(port_) + "/hook"};
    r.timeout_s = 5;
    return r;
  }
  TempDir dir_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> hits_{0};
};

TEST_F(Tls, VerifiesAgainstCaFileAndRefusesAnUntrustedCertificate) {
  Notification n;
  n.payload = "{}";
  n.idempotency_key = "k";
  ReceiverConfig r = Receiver();
  DeliveryOutcome o = Send(r, n, 0, 240);  // system CAs do not know the test CA
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.error.find("ca_file"), std::string::npos) << o.error;
  EXPECT_EQ(hits_, 0);
  r.ca_file = dir_.File("ca.pem");
  o = Send(r, n, 0, 240);
  EXPECT_TRUE(o.ok) << o.error;
  r.ca_file.clear();
  r.insecure_skip_verify = true;
  o = Send(r, n, 0, 240);
  EXPECT_TRUE(o.ok) << o.error;
  EXPECT_EQ(hits_, 2);
}

}  // namespace
}  // namespace vigil::alerts
