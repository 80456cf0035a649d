// The one cooldown-and-claim policy of hosted and target captures, on a
// ManualClock: one in flight per key, the global cooldown per key, the rule
// cooldown per (key, rule), a released claim leaves no cooldown; and the
// targets' RemoteCaptures refuse through it (no HTTP: every capture here is
// refused before a thread would start).
#include "capture/policy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "capture/remote.h"
#include "common/clock.h"

namespace vigil::capture {
namespace {

using Verdict = CapturePolicy::Verdict;

const InstanceId kHosted = InstanceId::Local();
const InstanceId kTargetA = InstanceId::Watched("a");

TEST(CapturePolicyTest, OneInFlightPerKey) {
  ManualClock clock;
  CapturePolicy p(0, 0, &clock);
  ASSERT_TRUE(p.TryClaim(kHosted, "").ok());
  EXPECT_EQ(p.TryClaim(kHosted, "").verdict, Verdict::kBusy);
  EXPECT_EQ(p.TryClaim(kHosted, "Other").verdict, Verdict::kBusy);
  EXPECT_TRUE(p.InFlight(kHosted));
  // Another key is free.
  ASSERT_TRUE(p.TryClaim(kTargetA, "R").ok());
  p.Release(kHosted);
  EXPECT_FALSE(p.InFlight(kHosted));
  EXPECT_TRUE(p.InFlight(kTargetA));
  EXPECT_TRUE(p.TryClaim(kHosted, "").ok());
}

TEST(CapturePolicyTest, AReleasedClaimThatNeverStartedLeavesNoCooldown) {
  ManualClock clock;
  CapturePolicy p(600, 60, &clock);
  ASSERT_TRUE(p.TryClaim(kHosted, "R").ok());
  p.Release(kHosted);  // e.g. the directory was not writable
  EXPECT_TRUE(p.TryClaim(kHosted, "R").ok());
}

TEST(CapturePolicyTest, CooldownsPerKeyAndRuleEndOnTheClock) {
  ManualClock clock;
  CapturePolicy p(600, 60, &clock);
  auto take = [&](const InstanceId& key, const std::string& rule) {
    const CapturePolicy::Claim c = p.TryClaim(key, rule);
    ASSERT_TRUE(c.ok()) << static_cast<int>(c.verdict);
    EXPECT_EQ(c.at, clock.SteadyNow());
    p.Started(key, rule, c.at);
    p.Release(key);
  };
  take(kHosted, "R");
  // The key's global cooldown holds every rule, and hand-made captures.
  clock.Advance(59.5);
  CapturePolicy::Claim c = p.TryClaim(kHosted, "S");
  EXPECT_EQ(c.verdict, Verdict::kGlobalCooldown);
  EXPECT_DOUBLE_EQ(c.wait_s, 0.5);
  EXPECT_EQ(p.TryClaim(kHosted, "").verdict, Verdict::kGlobalCooldown);
  // Not another key's.
  take(kTargetA, "R");
  clock.Advance(0.5);
  // The rule's own cooldown, from its start.
  c = p.TryClaim(kHosted, "R");
  EXPECT_EQ(c.verdict, Verdict::kRuleCooldown);
  EXPECT_DOUBLE_EQ(c.wait_s, 540);
  take(kHosted, "S");
  clock.Advance(60);
  take(kHosted, "");  // no rule: no rule's cooldown, but it starts the global one
  c = p.TryClaim(kHosted, "T");
  EXPECT_EQ(c.verdict, Verdict::kGlobalCooldown);
  clock.Advance(479);
  c = p.TryClaim(kHosted, "R");
  EXPECT_EQ(c.verdict, Verdict::kRuleCooldown);
  EXPECT_DOUBLE_EQ(c.wait_s, 1);
  clock.Advance(1);
  take(kHosted, "R");
}

TEST(CapturePolicyTest, KeyOfATargetsEngineIsTheTarget) {
  EXPECT_EQ(CapturePolicy::KeyOf(InstanceId::Watched("b", "llama/70b")), InstanceId::Watched("b"));
  EXPECT_EQ(CapturePolicy::KeyOf(InstanceId::Parse("local")), kHosted);
}

TEST(CapturePolicyTest, ConcurrentClaimsTakeOneSlot) {
  CapturePolicy p(0, 0);  // the real clock: nothing here waits on it
  std::atomic<int> claimed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      if (p.TryClaim(kHosted, "R").ok()) ++claimed;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed, 1);
}

TEST(CapturePolicyTest, RemoteCapturesRefuseThroughThePolicy) {
  ManualClock clock;
  CapturePolicy p(600, 60, &clock);
  RemoteCaptures remote({}, &p);
  pipeline::TargetConfig t;
  t.name = "a";
  t.url = "http://127.0.0.1:9/";
  t.profile.enabled = true;
  std::string why;
  // A capture of the target in flight (claimed elsewhere through the same policy).
  ASSERT_TRUE(p.TryClaim(kTargetA, "X").ok());
  EXPECT_EQ(remote.Trigger(t, "", "R", "test", &why), "");
  EXPECT_EQ(why, "a capture of a is running; one at a time per target");
  // Its start's cooldowns, on the policy's clock.
  p.Started(kTargetA, "R", clock.SteadyNow());
  p.Release(kTargetA);
  clock.Advance(30);
  EXPECT_EQ(remote.Trigger(t, "", "R", "test", &why), "");
  EXPECT_EQ(why, "cooldown: the next capture of a is possible in 30s");
  clock.Advance(60);
  EXPECT_EQ(remote.Trigger(t, "", "R", "test", &why), "");
  EXPECT_EQ(why, "cooldown for R on a: the next capture is possible in 510s");
  // The hosted engine's slot is its own.
  EXPECT_TRUE(p.TryClaim(kHosted, "R").ok());
  // Refusals that come before the policy.
  t.profile.enabled = false;
  EXPECT_EQ(remote.Trigger(t, "", "Other", "test", &why), "");
  EXPECT_NE(why.find("profile.enabled"), std::string::npos) << why;
  EXPECT_TRUE(remote.List().empty());
}

}  // namespace
}  // namespace vigil::capture
