// The monitoring pipeline for every monitored instance: the hosted engine
// ("local") and each engine behind a watched target. One thread ticks on
// the monitor's grid; each tick it reads the hosted engine, starts a scrape
// of every target that is not still being scraped (on scrape workers, so a
// slow target never delays the others or the tick), waits for them up to
// part of the interval, and runs each instance's source -> series ->
// detectors -> rules. Late scrapes are taken at the next tick.
// Threads: the pipeline thread (ticks), the scrape workers (FetchTarget
// only), HTTP handlers (read through the accessors). Lock order: mu_ before
// an Instance's own locks; hooks run on the pipeline thread without mu_.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metric_family.h"
#include "common/mutex.h"
#include "common/status.h"
#include "detectors/detectors.h"
#include "engine/stats.h"
#include "monitor/signals.h"
#include "pipeline/instance.h"
#include "pipeline/target.h"
#include "pipeline/tick_result.h"
#include "rules/rules.h"
#include "scrape/deriver.h"

namespace vigil::pipeline {

struct PipelineConfig {
  double interval_s = 1;
  double retention_s = 3600;
  monitor::DeriverConfig deriver;  // window, request and stall timeouts
  detectors::DetectorsConfig detectors;
  std::vector<TargetConfig> targets;
  int scrape_workers = 0;  // 0: min(16, targets)
  // Share of the interval a tick waits for its scrapes before it moves on.
  double scrape_wait_fraction = 0.8;
  // The tick grid (steady time) and each tick's timestamp (Unix time). Not
  // owned; outlives the pipeline. Scrapes keep real-time timeouts.
  Clock* clock = DefaultClock();
};

// What /api/v1/targets shows of one target.
struct TargetStatus {
  std::string name, url;
  std::string kind;  // configured or detected engine, "unknown" before the first scrape
  bool up = false;
  bool scraped = false;  // at least one scrape finished
  double last_scrape = -1, duration_s = 0;
  size_t samples = 0;
  std::string error;
  int health = -1;
  std::string health_error;
  std::vector<std::string> instances;
  std::map<std::string, uint64_t> errors;      // reason -> scrapes failed, or families dropped from good ones
  std::vector<scrape::DroppedFamily> dropped;  // left out of the last scrape
};

class Pipeline : public Collectable {
 public:
  using StatsSource = std::function<engine::EngineStats()>;
  // Runs on the pipeline thread after every tick, with the tick's result
  // (its time, each instance's transitions and rules after the tick).
  using TickHook = std::function<void(const TickResult&)>;

  // `hosted` (may be empty): the hosted engine, monitored as "local".
  // Reads every target's bearer_token_file; errors name the target.
  static Status Create(PipelineConfig cfg, StatsSource hosted, std::unique_ptr<Pipeline>* out);
  ~Pipeline();

  // Before Start(): the pipeline thread reads it without a lock.
  void SetHook(TickHook hook) { hook_ = std::move(hook); }
  // The rule set for every instance, now and for those found later.
  void SetRules(std::vector<rules::RuleGroup> groups, std::vector<rules::InhibitRule> inhibits) EXCLUDES(mu_);
  void Start() EXCLUDES(mu_);
  void Stop() EXCLUDES(mu_);  // returns after the current tick; in-flight scrapes finish on their own

  // One tick at `now` on the caller's thread (tests, benchmarks): waits up
  // to `wait_s` for the scrapes it starts.
  void TickOnce(double now, double wait_s) EXCLUDES(mu_);

  // Instance names in creation order ("local" first when hosted).
  std::vector<std::string> InstanceNames() const;
  // Instances live as long as the pipeline; nullptr if unknown.
  const Instance* Find(const std::string& name) const;
  // Every instance's rules now, in InstanceNames() order (HTTP readers: a
  // reload shows at once). The hook gets the tick's own in its TickResult.
  std::vector<rules::RuleEngine::View> Views() const;
  // The last tick's result (nullptr before the first tick).
  std::shared_ptr<const TickResult> LastTick() const EXCLUDES(mu_);
  std::vector<TargetStatus> Targets() const;
  // The configuration and bearer token of target `name`; false if unknown.
  bool FindTarget(const std::string& name, TargetConfig* cfg, std::string* token) const;
  size_t rule_count() const;
  uint64_t evaluation_failures() const;
  bool hosted() const { return static_cast<bool>(hosted_); }
  uint64_t ticks() const;
  uint64_t skipped_ticks() const;
  // The steady time of the slot the loop waits for after its last tick (0
  // before the first): a test moves a ManualClock only once the loop has
  // read the time after a tick, or the move would count as an overrun.
  double next_tick_due() const;
  // The rules' state and timings (the last tick's views), the detector
  // values the rules read, and each target's scrape health (pipeline/metrics.cc).
  std::vector<MetricFamily> Collect() const override;

 private:
  struct Target {
    TargetConfig cfg;       // set in Create, then read-only
    std::string token;      // set in Create, then read-only
    ScrapeSession session;  // the worker holding its in_flight only
  };
  // A target's state under mu_ (apart from Target: GUARDED_BY cannot name
  // the pipeline's mutex from a nested struct).
  struct TargetState {
    bool in_flight = false;  // a worker is scraping it
    std::vector<Instance*> instances;
    TargetStatus status;
  };
  struct Done {
    size_t target;
    ScrapeResult result;
  };
  struct Job {
    size_t target;
    double now;
    uint64_t tick;  // the tick that queued it
  };

  explicit Pipeline(PipelineConfig cfg);
  Instance* GetOrCreate(const InstanceId& id) EXCLUDES(mu_);
  using Transitions = std::map<const Instance*, std::vector<rules::Transition>>;
  void Process(double now, size_t target, const ScrapeResult& r, Transitions* out) EXCLUDES(mu_);
  // Every listed instance with its rules now, and each instance in
  // `transitions` (a retired one too) with its transitions.
  TickResult Snapshot(double now, Transitions transitions) const EXCLUDES(mu_);
  void Worker() EXCLUDES(mu_);
  void Loop() EXCLUDES(mu_);

  const PipelineConfig cfg_;
  const size_t points_;
  StatsSource hosted_;
  Instance* local_ = nullptr;  // the hosted engine's instance, when hosted
  TickHook hook_;

  mutable Mutex mu_;
  CondVar cv_;                                              // the tick's: the last of its own scrapes is done, or stop
  ClockWakeup wakeup_{cfg_.clock, &mu_, &cv_};              // the loop's wait sees a ManualClock move
  CondVar jobs_cv_;                                         // the workers': jobs_ grew, or stop_workers_
  std::vector<std::unique_ptr<Target>> targets_;            // set in Create, then fixed
  std::vector<TargetState> target_states_ GUARDED_BY(mu_);  // targets_[i]'s
  std::vector<std::unique_ptr<Instance>> instances_ GUARDED_BY(mu_);  // never removed
  std::map<std::string, Instance*> by_name_ GUARDED_BY(mu_);
  std::vector<rules::RuleGroup> groups_ GUARDED_BY(mu_);
  std::vector<rules::InhibitRule> inhibits_ GUARDED_BY(mu_);
  std::deque<Job> jobs_ GUARDED_BY(mu_);
  std::vector<Done> done_ GUARDED_BY(mu_);
  uint64_t tick_seq_ GUARDED_BY(mu_) = 0;    // the current tick
  size_t tick_pending_ GUARDED_BY(mu_) = 0;  // its scrapes not yet done
  bool stop_ GUARDED_BY(mu_) = false;
  bool stop_workers_ GUARDED_BY(mu_) = false;
  uint64_t ticks_ GUARDED_BY(mu_) = 0;
  uint64_t skipped_ GUARDED_BY(mu_) = 0;
  double next_due_ GUARDED_BY(mu_) = 0;  // Loop's next slot, steady time
  std::shared_ptr<const TickResult> last_tick_ GUARDED_BY(mu_);
  std::vector<std::thread> workers_;  // started in Create, joined by the destructor
  std::thread thread_ GUARDED_BY(mu_);
};

}  // namespace vigil::pipeline
