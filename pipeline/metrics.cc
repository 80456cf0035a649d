// The pipeline's own /metrics families: the rules (loaded, state, last
// evaluation, failures), the detector values the rules read, and each
// watched target's scrape health.
#include <cmath>

#include "common/instance_id.h"
#include "pipeline/pipeline.h"
#include "rules/detector_functions.h"
#include "rules/promql.h"

namespace vigil::pipeline {

namespace {

// A watched engine's series carry its target (and engine) label; the hosted
// one's carry none.
void AddTargetLabels(const InstanceId& id, Metric* m) {
  if (id.local()) return;
  m->labels.push_back({"target", id.target});
  if (!id.engine.empty()) m->labels.push_back({"engine", id.engine});
}

void RuleFamilies(const TickResult& tick, size_t loaded, uint64_t failures, std::vector<MetricFamily>* out) {
  out->push_back({"vigil_rules_loaded", "Alerting rules loaded", MetricType::kGauge, {Sample({}, double(loaded))}});
  MetricFamily state{"vigil_rule_state", "Rule state: 0 inactive, 1 pending, 2 firing", MetricType::kGauge, {}};
  MetricFamily secs{"vigil_rule_evaluation_seconds", "Duration of the rule's last evaluation", MetricType::kGauge, {}};
  for (const auto& it : tick.instances)
    for (const auto& v : it.views) {
      Metric m;
      m.labels = {{"alert", v.rule.name}, {"group", v.rule.group}};
      AddTargetLabels(it.id, &m);
      m.value = static_cast<double>(static_cast<int>(v.status.state));
      state.metrics.push_back(m);
      m.value = v.status.eval_seconds;
      secs.metrics.push_back(std::move(m));
    }
  if (!state.metrics.empty()) out->push_back(std::move(state));
  if (!secs.metrics.empty()) out->push_back(std::move(secs));
  out->push_back({"vigil_rule_evaluation_failures_total",
                  "Rule evaluations with an error",
                  MetricType::kCounter,
                  {Sample({}, double(failures))}});
}

}  // namespace

std::vector<MetricFamily> Pipeline::Collect() const {
  std::vector<MetricFamily> out;
  // The last tick's views, taken once by the tick; before the first tick,
  // the rules as loaded.
  std::shared_ptr<const TickResult> tick = LastTick();
  if (!tick) tick = std::make_shared<const TickResult>(Snapshot(0, {}));
  RuleFamilies(*tick, rule_count(), evaluation_failures(), &out);

  // Detector values: only those the loaded rules read, so bounded by the rule set.
  std::vector<const rules::Rule*> list;
  for (const auto& it : tick->instances)
    for (const auto& v : it.views) list.push_back(&v.rule);
  const auto refs = rules::DetectorRefs(list);
  const std::map<std::string, std::string> help = {
      {"zscore",
       "Z-score of the signal's latest value against its recent mean and standard deviation (the rules' zscore())"},
      {"trend_slope", "Slope per second of the signal's linear trend over the window (trend_slope())"},
      {"trend_r2", "R squared of the signal's linear trend over the window (trend_r2())"},
      {"time_to_exhaustion", "Seconds until the signal's trend reaches its capacity (time_to_exhaustion())"},
      {"corr", "Pearson correlation of two signals over the window (corr())"}};
  std::map<std::string, MetricFamily> fams;
  for (const auto& it : tick->instances) {
    const Instance* inst = it.instance;
    if (!inst || inst->retired()) continue;
    for (const auto& r : refs) {
      // The rules' own reading of the detector, so /metrics shows what they see.
      const rules::Value got =
          rules::DetectorFunction(&inst->detectors(), r.fn,
                                  r.fn == "corr" ? std::vector<std::string>{r.a, r.b} : std::vector<std::string>{r.a});
      if (!got || !std::isfinite(*got)) continue;  // no value yet: absent, as the rules see it
      const double v = *got;
      auto& f = fams[r.fn];
      if (f.name.empty()) f = {rules::DetectorMetric(r.fn), help.at(r.fn), MetricType::kGauge, {}};
      Metric m;
      if (r.fn == "corr") m.labels = {{"signal_a", r.a}, {"signal_b", r.b}};
      else m.labels = {{"signal", r.a}};
      AddTargetLabels(it.id, &m);
      m.value = v;
      f.metrics.push_back(std::move(m));
    }
  }
  for (auto& [fn, f] : fams) out.push_back(std::move(f));

  // The hosted engine's stall clock, as the monitor derives it: what
  // EngineStalled reads, so a Prometheus fleet has the rule too (rules export).
  if (const Instance* local = Find("local"); local && !local->retired()) {
    monitor::Point p;
    if (local->series().Latest("engine_stalled_seconds", &p))
      out.push_back({"vigil_engine_stalled_seconds",
                     "Seconds the engine has made no step with requests in flight",
                     MetricType::kGauge,
                     {Sample({}, p.v)}});
    if (local->series().Latest("engine_stall_timeout_seconds", &p))
      out.push_back({"vigil_engine_stall_timeout_seconds",
                     "Setting: server.engine_stall_timeout",
                     MetricType::kGauge,
                     {Sample({}, p.v)}});
  }

  if (cfg_.targets.empty()) return out;
  MetricFamily up{"vigil_target_up", "1 when the last scrape of the target succeeded", MetricType::kGauge, {}};
  MetricFamily dur{
      "vigil_target_scrape_duration_seconds", "Duration of the target's last scrape", MetricType::kGauge, {}};
  MetricFamily samples{"vigil_target_samples", "Samples in the target's last good scrape", MetricType::kGauge, {}};
  MetricFamily errors{
      "vigil_target_scrape_errors_total", "Failed scrapes by target and reason", MetricType::kCounter, {}};
  for (const auto& t : Targets()) {
    const std::vector<std::pair<std::string, std::string>> l = {{"target", t.name}};
    up.metrics.push_back(Sample(l, t.up ? 1.0 : 0.0));
    dur.metrics.push_back(Sample(l, t.duration_s));
    samples.metrics.push_back(Sample(l, static_cast<double>(t.samples)));
    for (const auto& [reason, n] : t.errors)
      errors.metrics.push_back(Sample({{"target", t.name}, {"reason", reason}}, static_cast<double>(n)));
  }
  for (auto* f : {&up, &dur, &samples, &errors}) out.push_back(std::move(*f));
  return out;
}

}  // namespace vigil::pipeline
