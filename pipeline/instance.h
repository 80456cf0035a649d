// One monitored instance (the hosted engine, or one engine behind a watched
// target): its own source (the deriver that turns its engine's figures into
// signal values), series, detectors and rule state, so one engine's history
// never leaks into another's windows, counters, z-scores or `for:` timers.
// Thread safety: Tick() from the pipeline thread only; everything else
// from any thread (the store, detectors and rule engine lock themselves).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/instance_id.h"
#include "common/mutex.h"
#include "detectors/detectors.h"
#include "monitor/series_store.h"
#include "monitor/signals.h"
#include "rules/rules.h"
#include "scrape/deriver.h"

namespace vigil::pipeline {

class Instance {
 public:
  // The identity's labels (target, engine) are added to every alert of this
  // instance. Its source follows the identity: the hosted engine's deriver
  // for the local instance, a scrape deriver for a watched one.
  Instance(InstanceId id, size_t points, const detectors::DetectorsConfig& det, const monitor::DeriverConfig& source);

  const InstanceId& id() const { return id_; }
  const std::string& name() const { return name_; }
  const std::map<std::string, std::string>& labels() const { return labels_; }

  // This tick's signal values from the source: the hosted engine's stats
  // (local instance) or one scraped reading (watched). Pipeline thread only.
  std::vector<std::pair<std::string, double>> Derive(double now, const engine::EngineStats& stats);
  std::vector<std::pair<std::string, double>> Derive(double now, const scrape::InstanceReading& reading);

  // Appends one tick's values, runs the detectors and then the rules.
  // `stale`: the source failed this tick (a scrape error): the rules see
  // only this tick's values, not the last figures from before.
  std::vector<rules::Transition> Tick(double now, const std::vector<std::pair<std::string, double>>& values,
                                      bool stale = false);

  // Installs the rule set with this instance's labels set on every rule
  // (over a rule's own `target`/`engine`), so inhibitions, silences and routes
  // can match on them. Rules keep their state across swaps.
  void SetRules(std::vector<rules::RuleGroup> groups, std::vector<rules::InhibitRule> inhibits);
  std::vector<rules::RuleEngine::View> Views() const { return rules_.Snapshot(); }

  monitor::SeriesStore& series() { return series_; }
  const monitor::SeriesStore& series() const { return series_; }
  const detectors::DetectorSet& detectors() const { return detectors_; }
  const rules::RuleEngine& rules() const { return rules_; }

  // The canonical inputs this instance's engine does not expose (watched
  // targets), so the report can say what cannot be diagnosed there.
  void SetMissing(std::vector<std::string> missing);

  // A retired instance is no longer listed or ticked (its target's engines
  // took other names); it lives on, as instances do, for pointers held.
  void Retire() { retired_ = true; }
  void Unretire() { retired_ = false; }
  bool retired() const { return retired_; }
  std::vector<std::string> missing() const;

 private:
  const InstanceId id_;
  const std::string name_;                           // id_.Name()
  const std::map<std::string, std::string> labels_;  // id_.Labels()
  // The source; the pipeline thread's alone (Derive). One of the two, by id_.
  std::unique_ptr<monitor::SignalDeriver> hosted_;
  std::unique_ptr<scrape::ScrapeDeriver> scraped_;
  monitor::SeriesStore series_;
  detectors::DetectorSet detectors_;
  rules::RuleEngine rules_;
  mutable Mutex mu_;
  std::vector<std::string> missing_ GUARDED_BY(mu_);
  std::atomic<bool> retired_{false};
};

}  // namespace vigil::pipeline
