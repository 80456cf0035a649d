// One monitor tick's outcome, built once by the pipeline and handed to its
// hook: the tick's time and, per instance, its transitions and its rules as
// they stand after the tick. The hook's consumers (captures, alerting, the
// dashboard's history) and the pipeline's /metrics read this instead of the
// clock or Pipeline::Views() again, so they all agree on one tick.
#pragma once

#include <cstdint>
#include <vector>

#include "common/instance_id.h"
#include "rules/rules.h"

namespace vigil::pipeline {

class Instance;

struct InstanceTick {
  InstanceId id;
  const Instance* instance = nullptr;          // lives as long as the pipeline (nullptr in consumers' unit tests)
  std::vector<rules::Transition> transitions;  // this tick's, in evaluation order
  // Its rules after the tick, snapshot once; empty for an instance retired
  // by this tick (a target's stand-in whose last tick resolved its alerts).
  std::vector<rules::RuleEngine::View> views;
};

struct TickResult {
  double now = 0;    // the tick's Unix time (the pipeline's clock): its series points and rule evaluations
  uint64_t seq = 0;  // 1 for the pipeline's first tick
  // Every instance listed after the tick, in creation order, and any this
  // tick retired (with its transitions, without views).
  std::vector<InstanceTick> instances;
};

}  // namespace vigil::pipeline
