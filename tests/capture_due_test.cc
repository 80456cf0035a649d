// Which rule captures are due each tick (capture/due.h), from synthetic
// transitions and rule views, with no daemon and no log: due when a capture
// rule turns firing; held while a pending root cause holds it; dropped when
// inhibited or no longer firing; routed by instance; and, with the shared
// CapturePolicy on a ManualClock, cooled down per rule and per instance.
#include "capture/due.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "capture/policy.h"
#include "common/clock.h"

namespace vigil::capture {
namespace {

using rules::RuleState;
using Transitions = std::vector<std::pair<std::string, rules::Transition>>;
using Views = std::vector<rules::RuleEngine::View>;

// One rule of one instance, as RuleEngine::Snapshot shows it.
rules::RuleEngine::View View(const InstanceId& instance, const std::string& name, RuleState state,
                             bool capture = true) {
  rules::RuleEngine::View v;
  v.rule.group = "g";
  v.rule.name = name;
  v.rule.labels = instance.Labels();
  v.rule.labels["alertname"] = name;
  v.rule.actions = {rules::RuleAction::kAlert};
  if (capture) v.rule.actions.push_back(rules::RuleAction::kCapture);
  v.status.state = state;
  return v;
}

std::pair<std::string, rules::Transition> Fired(const InstanceId& instance, const std::string& name,
                                                RuleState from = RuleState::kPending) {
  return {instance.Name(), rules::Transition{"g", name, from, RuleState::kFiring, 0}};
}

std::vector<std::string> Names(const std::vector<DueCapture>& due) {
  std::vector<std::string> out;
  for (const auto& c : due) out.push_back(c.instance.Name() + ":" + c.rule);
  return out;
}

const InstanceId kHosted = InstanceId::Local();

// The tick's result as the pipeline gives it: each transition and view under
// its instance (here the one its labels name; the pipeline sets them so).
std::vector<DueCapture> TickDue(DueCaptures& due, const Transitions& transitions, const Views& views) {
  pipeline::TickResult tick;
  auto entry = [&](const InstanceId& id) -> pipeline::InstanceTick& {
    for (auto& it : tick.instances)
      if (it.id == id) return it;
    tick.instances.push_back({id, nullptr, {}, {}});
    return tick.instances.back();
  };
  for (const auto& [name, t] : transitions) entry(InstanceId::Parse(name)).transitions.push_back(t);
  for (const auto& v : views) entry(InstanceId::FromLabels(v.rule.labels)).views.push_back(v);
  return due.Tick(tick);
}

TEST(CaptureDueTest, DueOnceWhenACaptureRuleTurnsFiring) {
  DueCaptures due;
  auto v = View(kHosted, "KVThrash", RuleState::kFiring);
  v.status.annotations["summary"] = "KV cache thrashing";
  v.status.evidence = {{"kv_cache_usage", 0.97}, {"preemptions_per_s", std::nullopt}};
  const Views views = {v, View(kHosted, "AlertOnly", RuleState::kFiring, /*capture=*/false)};
  // Pending is not due; firing is.
  EXPECT_TRUE(
      TickDue(due, {{kHosted.Name(), {"g", "KVThrash", RuleState::kInactive, RuleState::kPending, 0}}}, views).empty());
  const auto out = TickDue(due, {Fired(kHosted, "KVThrash"), Fired(kHosted, "AlertOnly")}, views);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].instance.local());
  EXPECT_EQ(out[0].group, "g");
  EXPECT_EQ(out[0].rule, "KVThrash");
  EXPECT_EQ(out[0].reason, "KV cache thrashing");
  EXPECT_EQ(out[0].evidence, (nlohmann::json{{"kv_cache_usage", 0.97}, {"preemptions_per_s", nullptr}}));
  // Taken once: still firing on the next tick, but no new transition.
  EXPECT_TRUE(TickDue(due, {}, views).empty());
  EXPECT_EQ(due.waiting(), 0u);
  // No summary: the rule's name.
  const auto again =
      TickDue(due, {Fired(kHosted, "KVThrash", RuleState::kInactive)}, {View(kHosted, "KVThrash", RuleState::kFiring)});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].reason, "KVThrash fired");
}

TEST(CaptureDueTest, HeldWhileAPendingRootCauseIsPending) {
  DueCaptures due;
  auto held = View(kHosted, "Symptom", RuleState::kFiring);
  held.status.held_by = {"Root"};
  EXPECT_TRUE(TickDue(due, {Fired(kHosted, "Symptom")}, {held}).empty());
  EXPECT_EQ(due.waiting(), 1u);
  EXPECT_TRUE(TickDue(due, {}, {held}).empty());  // still held
  EXPECT_EQ(due.waiting(), 1u);
  // The root cause resolved without firing: the symptom's capture is taken.
  EXPECT_EQ(Names(TickDue(due, {}, {View(kHosted, "Symptom", RuleState::kFiring)})),
            std::vector<std::string>{"local:Symptom"});
  EXPECT_EQ(due.waiting(), 0u);
}

TEST(CaptureDueTest, DroppedWhenInhibited) {
  DueCaptures due;
  auto held = View(kHosted, "Symptom", RuleState::kFiring);
  held.status.held_by = {"Root"};
  EXPECT_TRUE(TickDue(due, {Fired(kHosted, "Symptom")}, {held}).empty());
  // The root cause fired: the symptom is inhibited and its capture dropped
  // (the root cause takes its own).
  auto inhibited = View(kHosted, "Symptom", RuleState::kFiring);
  inhibited.status.inhibited_by = {"Root"};
  EXPECT_EQ(Names(TickDue(due, {Fired(kHosted, "Root")}, {inhibited, View(kHosted, "Root", RuleState::kFiring)})),
            std::vector<std::string>{"local:Root"});
  EXPECT_EQ(due.waiting(), 0u);
  // Not taken later when the inhibition ends while it still fires.
  EXPECT_TRUE(TickDue(due, {}, {View(kHosted, "Symptom", RuleState::kFiring)}).empty());
  // Inhibited on the tick it fires: dropped at once.
  EXPECT_TRUE(TickDue(due, {Fired(kHosted, "Symptom")}, {inhibited}).empty());
  EXPECT_EQ(due.waiting(), 0u);
}

TEST(CaptureDueTest, DroppedWhenItStopsFiringOrGoes) {
  DueCaptures due;
  auto held = View(kHosted, "Symptom", RuleState::kFiring);
  held.status.held_by = {"Root"};
  ASSERT_TRUE(TickDue(due, {Fired(kHosted, "Symptom")}, {held}).empty());
  EXPECT_TRUE(TickDue(due, {}, {View(kHosted, "Symptom", RuleState::kInactive)}).empty());
  EXPECT_EQ(due.waiting(), 0u);
  EXPECT_TRUE(TickDue(due, {}, {View(kHosted, "Symptom", RuleState::kFiring)}).empty());
  // A rule removed by a reload while held.
  ASSERT_TRUE(TickDue(due, {Fired(kHosted, "Symptom")}, {held}).empty());
  EXPECT_TRUE(TickDue(due, {}, {}).empty());
  EXPECT_EQ(due.waiting(), 0u);
  // A rule whose capture action a reload removed.
  ASSERT_TRUE(TickDue(due, {Fired(kHosted, "Symptom")}, {held}).empty());
  EXPECT_TRUE(TickDue(due, {}, {View(kHosted, "Symptom", RuleState::kFiring, false)}).empty());
  EXPECT_EQ(due.waiting(), 0u);
}

TEST(CaptureDueTest, RoutedByInstance) {
  DueCaptures due;
  const InstanceId a = InstanceId::Watched("a");
  const InstanceId b70 = InstanceId::Watched("b", "meta/llama-70b");
  const InstanceId b8 = InstanceId::Watched("b", "meta/llama-8b");
  auto held_b8 = View(b8, "KVThrash", RuleState::kFiring);
  held_b8.status.held_by = {"Root"};
  // The same rule on four instances, each matched to its own view: b8's is
  // held, a's no longer fires.
  const Views views = {View(kHosted, "KVThrash", RuleState::kFiring), View(a, "KVThrash", RuleState::kInactive),
                       View(b70, "KVThrash", RuleState::kFiring), held_b8};
  const auto out = TickDue(
      due, {Fired(kHosted, "KVThrash"), Fired(a, "KVThrash"), Fired(b70, "KVThrash"), Fired(b8, "KVThrash")}, views);
  ASSERT_EQ(Names(out), (std::vector<std::string>{"b/meta/llama-70b:KVThrash", "local:KVThrash"}));
  EXPECT_FALSE(out[0].instance.local());  // to RemoteCaptures, target b
  EXPECT_EQ(out[0].instance.target, "b");
  EXPECT_EQ(out[0].instance.engine, "meta/llama-70b");
  EXPECT_TRUE(out[1].instance.local());  // to the hosted CaptureManager
  EXPECT_EQ(due.waiting(), 1u);
  // Matched by the instance the tick files it under, not by the view's labels.
  auto unlabeled = View(kHosted, "Stall", RuleState::kFiring);
  unlabeled.rule.labels.clear();
  pipeline::TickResult t;
  t.instances.push_back({b70, nullptr, {Fired(b70, "Stall").second}, {unlabeled}});
  t.instances.push_back({b8, nullptr, {}, {held_b8}});
  EXPECT_EQ(Names(due.Tick(t)), std::vector<std::string>{"b/meta/llama-70b:Stall"});
  EXPECT_EQ(due.waiting(), 1u);  // b8's, still held
}

// What vigild does with the due set: each due capture claims through the
// one policy (CaptureManager for the hosted engine, RemoteCaptures for a
// target), on one ManualClock.
TEST(CaptureDueTest, CooledDownPerRuleAndInstance) {
  ManualClock clock;
  CapturePolicy policy(/*rule_cooldown_s=*/600, /*global_cooldown_s=*/60, &clock);
  DueCaptures due;
  const InstanceId a = InstanceId::Watched("a");
  auto tick = [&](const Transitions& t, const Views& v) {
    std::vector<std::string> taken;
    for (const DueCapture& c : TickDue(due, t, v)) {
      const InstanceId key = CapturePolicy::KeyOf(c.instance);
      const CapturePolicy::Claim claim = policy.TryClaim(key, c.rule);
      if (!claim.ok()) continue;
      policy.Started(key, c.rule, claim.at);
      policy.Release(key);  // the capture ended
      taken.push_back(c.instance.Name() + ":" + c.rule);
    }
    return taken;
  };
  const Views firing = {View(kHosted, "R", RuleState::kFiring), View(a, "R", RuleState::kFiring),
                        View(kHosted, "S", RuleState::kFiring)};
  EXPECT_EQ(tick({Fired(kHosted, "R"), Fired(a, "R")}, firing), (std::vector<std::string>{"a:R", "local:R"}));
  // R resolves and fires again two minutes later: due, but cooled down on both instances.
  clock.Advance(120);
  EXPECT_TRUE(tick({Fired(kHosted, "R", RuleState::kInactive), Fired(a, "R", RuleState::kInactive)}, firing).empty());
  // Another rule on the hosted engine is past the global cooldown.
  EXPECT_EQ(tick({Fired(kHosted, "S")}, firing), std::vector<std::string>{"local:S"});
  // R's cooldown ends ten minutes after its captures, on both instances.
  clock.Advance(479);
  EXPECT_TRUE(tick({Fired(kHosted, "R", RuleState::kInactive), Fired(a, "R", RuleState::kInactive)}, firing).empty());
  clock.Advance(1);
  EXPECT_EQ(tick({Fired(kHosted, "R", RuleState::kInactive), Fired(a, "R", RuleState::kInactive)}, firing),
            (std::vector<std::string>{"a:R", "local:R"}));
  // Each instance's global minute holds its other rules, not another instance's.
  clock.Advance(30);
  const InstanceId c = InstanceId::Watched("c");
  const Views more = {View(kHosted, "T", RuleState::kFiring), View(a, "T", RuleState::kFiring),
                      View(c, "T", RuleState::kFiring)};
  EXPECT_EQ(tick({Fired(kHosted, "T"), Fired(a, "T"), Fired(c, "T")}, more), std::vector<std::string>{"c:T"});
}

}  // namespace
}  // namespace vigil::capture
