// The alert pipeline on a controllable clock, delivering to real HTTP
// receivers: grouping, group_interval, repeat, resolve, silences, and
// Alertmanager's immediate send plus re-send while firing.
#include "alerts/notifier.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/time_util.h"
#include "test_receiver.h"
#include "test_util.h"

namespace vigil::alerts {
namespace {

using json = nlohmann::json;
using vigil::testing::TestReceiver;

Alert A(const std::string& name, const std::string& instance) {
  Alert a;
  a.labels = {{"alertname", name}, {"instance", instance}, {"severity", "critical"}};
  a.annotations = {{"summary", name}};
  return a;
}

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NotifierConfig c;
    c.dispatch.group_by = {"alertname"};
    c.dispatch.group_wait_s = 10;
    c.dispatch.group_interval_s = 60;
    c.dispatch.repeat_interval_s = 300;
    c.dispatch.default_receiver = "hook";
    c.dispatch.routes = {{{{"alertname", "ToAM"}}, {}, "am", false}};
    ReceiverConfig hook;
    hook.name = "hook";
    hook.type = ReceiverType::kWebhook;
    hook.urls = {hook_.Url()};
    ReceiverConfig am;
    am.name = "am";
    am.type = ReceiverType::kAlertmanager;
    am.urls = {am_.Url("")};
    c.delivery.receivers = {hook, am};
    c.delivery.retry = {0.01, 0.05, 3600};
    c.external_url = "http://vigil:8000";
    c.resend_delay_s = 60;
    ASSERT_TRUE(Notifier::Create(c, &clock_, &n_).ok());
    n_->deliverer().Start();
  }
  // Advances the clock, steps, and waits for delivery.
  void At(double t) {
    clock_.SetUnix(t);
    n_->Step(t);
    ASSERT_TRUE(n_->deliverer().Drain(10));
  }
  std::vector<json> Hooks() {
    std::vector<json> out;
    for (const auto& r : hook_.Requests()) out.push_back(json::parse(r.body));
    return out;
  }
  std::vector<json> AmPosts() {
    std::vector<json> out;
    for (const auto& r : am_.Requests()) {
      EXPECT_EQ(r.path, "/api/v2/alerts");
      out.push_back(json::parse(r.body));
    }
    return out;
  }
  TestReceiver hook_, am_;
  ManualClock clock_{1000};  // before n_: outlives it
  std::unique_ptr<Notifier> n_;
};

TEST_F(NotifierTest, TheLoopTicksOnTheClock) {
  // The loop's own thread, with a tick far longer than any test: group_wait
  // ends when the clock is moved past it, not after real time.
  n_->Stop();
  NotifierConfig c;
  c.dispatch.group_by = {"alertname"};
  c.dispatch.group_wait_s = 10;
  c.dispatch.default_receiver = "hook";
  ReceiverConfig hook;
  hook.name = "hook";
  hook.type = ReceiverType::kWebhook;
  hook.urls = {hook_.Url()};
  c.delivery.receivers = {hook};
  c.tick_s = 3600;
  std::unique_ptr<Notifier> n;
  ASSERT_TRUE(Notifier::Create(c, &clock_, &n).ok());
  n->Start();
  n->Observe({A("KVCacheThrashing", "a")});  // a step at once: the group starts waiting
  ASSERT_TRUE(vigil::testing::WaitFor([&] { return n->steps() >= 1; }));
  EXPECT_TRUE(Hooks().empty());
  clock_.Advance(10);
  ASSERT_TRUE(vigil::testing::WaitFor([&] { return Hooks().size() == 1; })) << hook_.Count();
  n->Stop();
}

TEST_F(NotifierTest, GroupsWaitsRepeatsAndResolves) {
  n_->Observe({A("KVCacheThrashing", "a"), A("KVCacheThrashing", "b")});
  At(1000);
  At(1009);
  EXPECT_TRUE(Hooks().empty());  // group_wait
  At(1010);
  auto h = Hooks();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0]["status"], "firing");
  EXPECT_EQ(h[0]["alerts"].size(), 2u);
  EXPECT_EQ(h[0]["groupLabels"]["alertname"], "KVCacheThrashing");
  EXPECT_EQ(h[0]["alerts"][0]["startsAt"], FormatRfc3339(1000));
  // The notifier's /metrics families count it.
  for (const auto& f : n_->Collect()) {
    for (const auto& m : f.metrics) {
      if (m.labels.empty() || m.labels[0].second != "hook") continue;
      if (f.name == "vigil_notifications_total" && m.labels.size() == 2 && m.labels[1].second == "success") {
        EXPECT_EQ(m.value, 1);
      }
      if (f.name == "vigil_outbox_pending") { EXPECT_EQ(m.value, 0); }
      if (f.name == "vigil_notification_delivery_seconds") {
        EXPECT_EQ(m.count, 1u);
        EXPECT_EQ(m.buckets.back().second, 1u);  // +Inf holds every attempt
      }
    }
    if (f.name == "vigil_outbox_writable") { EXPECT_EQ(f.metrics.at(0).value, 1); }
  }
  // One resolves: the change waits for group_interval after the last send.
  n_->Observe({A("KVCacheThrashing", "a")});
  At(1020);
  At(1069);
  EXPECT_EQ(Hooks().size(), 1u);
  At(1070);
  h = Hooks();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1]["status"], "firing");
  ASSERT_EQ(h[1]["alerts"].size(), 2u);
  int resolved = 0;
  for (const auto& a : h[1]["alerts"]) resolved += a["status"] == "resolved";
  EXPECT_EQ(resolved, 1);
  // Still firing: repeated after repeat_interval.
  At(1300);
  EXPECT_EQ(Hooks().size(), 2u);
  At(1370);
  EXPECT_EQ(Hooks().size(), 3u);
  n_->Observe({});
  At(1380);
  At(1430);
  h = Hooks();
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[3]["status"], "resolved");
  EXPECT_EQ(h[3]["alerts"][0]["endsAt"], FormatRfc3339(1380));
}

TEST_F(NotifierTest, SilencedAlertsSendNothingUntilTheSilenceEnds) {
  Silence s;
  Matcher m;
  ASSERT_TRUE(ParseMatcher("alertname=Noisy", &m).ok());
  s.matchers = {m};
  s.starts_at = 1000;
  s.ends_at = 1100;
  std::string id, warn;
  ASSERT_TRUE(n_->silences().Add(s, 1000, &id, &warn).ok());
  n_->Observe({A("Noisy", "a")});
  At(1000);
  At(1050);
  EXPECT_TRUE(Hooks().empty());
  EXPECT_EQ(n_->SilencedBy(A("Noisy", "a").labels, 1050), std::vector<std::string>{id});
  // The silence ends while it still fires: it is sent at the next interval.
  At(1100);
  At(1170);
  ASSERT_EQ(Hooks().size(), 1u);
  EXPECT_EQ(Hooks()[0]["status"], "firing");
}

TEST_F(NotifierTest, AlertmanagerGetsChangesAtOnceAndResendsWhileFiring) {
  n_->Observe({A("ToAM", "a")});
  At(1000);
  auto p = AmPosts();
  ASSERT_EQ(p.size(), 1u);  // no group_wait: Alertmanager groups
  EXPECT_EQ(p[0][0]["labels"]["alertname"], "ToAM");
  double ends = 0;
  ASSERT_TRUE(ParseRfc3339(p[0][0]["endsAt"], &ends));
  EXPECT_GT(ends, 1000 + 60);  // ahead of the next re-send
  At(1030);
  EXPECT_EQ(AmPosts().size(), 1u);
  At(1061);
  EXPECT_EQ(AmPosts().size(), 2u);  // re-sent while firing
  n_->Observe({});
  At(1070);
  p = AmPosts();
  ASSERT_EQ(p.size(), 3u);
  ASSERT_TRUE(ParseRfc3339(p[2][0]["endsAt"], &ends));
  EXPECT_EQ(ends, 1070);
  EXPECT_TRUE(Hooks().empty());  // routed to am only
}

TEST(NotifierCreateTest, RoutesMustNameKnownReceivers) {
  NotifierConfig c;
  c.dispatch.default_receiver = "log";
  ReceiverConfig log;
  log.name = "log";
  c.delivery.receivers = {log};
  c.dispatch.routes = {{{}, {}, "pager", false}};
  std::unique_ptr<Notifier> n;
  Status st = Notifier::Create(c, DefaultClock(), &n);
  EXPECT_NE(st.message().find("alerts.routes[0].receiver"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace vigil::alerts
