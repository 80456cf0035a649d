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

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metric_family.h"
#include "common/status.h"
#include "detectors/detectors.h"
#include "engine/stats.h"
#include "monitor/signals.h"
#include "pipeline/instance.h"
#include "pipeline/target.h"
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
  std::map<std::string, uint64_t> errors;  // reason -> scrapes failed
};

class Pipeline : public Collectable {
 public:
  using StatsSource = std::function<engine::EngineStats()>;
  // Runs on the pipeline thread after every tick, with each instance's
  // transitions (instance name, transition).
  using TickHook = std::function<void(double now, const std::vector<std::pair<std::string, rules::Transition>>&)>;

  // `hosted` (may be empty): the hosted engine, monitored as "local".
  // Reads every target's bearer_token_file; errors name the target.
  static Status Create(PipelineConfig cfg, StatsSource hosted, std::unique_ptr<Pipeline>* out);
  ~Pipeline();

  void SetHook(TickHook hook) { hook_ = std::move(hook); }
  // The rule set for every instance, now and for those found later.
  void SetRules(std::vector<rules::RuleGroup> groups, std::vector<rules::InhibitRule> inhibits);
  void Start();
  void Stop();  // returns after the current tick; in-flight scrapes finish on their own

  // One tick at `now` on the caller's thread (tests, benchmarks): waits up
  // to `wait_s` for the scrapes it starts.
  void TickOnce(double now, double wait_s);

  // Instance names in creation order ("local" first when hosted).
  std::vector<std::string> InstanceNames() const;
  // Instances live as long as the pipeline; nullptr if unknown.
  const Instance* Find(const std::string& name) const;
  // Every instance's rules, in InstanceNames() order.
  std::vector<rules::RuleEngine::View> Views() const;
  std::vector<TargetStatus> Targets() const;
  // The configuration and bearer token of target `name`; false if unknown.
  bool FindTarget(const std::string& name, TargetConfig* cfg, std::string* token) const;
  size_t rule_count() const;
  uint64_t evaluation_failures() const;
  bool hosted() const { return static_cast<bool>(hosted_); }
  uint64_t ticks() const;
  uint64_t skipped_ticks() const;
  // The rules' state and timings, the detector values the rules read, and
  // each target's scrape health (pipeline/metrics.cc).
  std::vector<MetricFamily> Collect() const override;

 private:
  struct Target {
    TargetConfig cfg;                                     // set in Create, then read-only
    std::string token;                                    // set in Create, then read-only
    ScrapeSession session;                                // the worker holding in_flight only
    bool in_flight = false;                               // guarded by mu_
    std::map<std::string, scrape::ScrapeDeriver> derivers;  // pipeline thread only
    std::vector<Instance*> instances;                     // guarded by mu_
    TargetStatus status;                                  // guarded by mu_
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
  Instance* GetOrCreate(const std::string& name, std::map<std::string, std::string> labels);
  void Process(double now, Target& t, const ScrapeResult& r,
               std::vector<std::pair<std::string, rules::Transition>>* out);
  void Worker();
  void Loop();

  const PipelineConfig cfg_;
  const size_t points_;
  StatsSource hosted_;
  Instance* local_ = nullptr;  // the hosted engine's instance, when hosted
  monitor::SignalDeriver hosted_deriver_;
  TickHook hook_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // the tick's: the last of its own scrapes is done, or stop
  ClockWakeup wakeup_{cfg_.clock, &mu_, &cv_};  // the loop's wait sees a ManualClock move
  std::condition_variable jobs_cv_;  // the workers': jobs_ grew, or stop_workers_
  std::vector<std::unique_ptr<Target>> targets_;
  std::vector<std::unique_ptr<Instance>> instances_;  // guarded by mu_; never removed
  std::map<std::string, Instance*> by_name_;          // guarded by mu_
  std::vector<rules::RuleGroup> groups_;              // guarded by mu_
  std::vector<rules::InhibitRule> inhibits_;          // guarded by mu_
  std::deque<Job> jobs_;                              // guarded by mu_
  std::vector<Done> done_;                            // guarded by mu_
  uint64_t tick_seq_ = 0;                             // the current tick; guarded by mu_
  size_t tick_pending_ = 0;                           // its scrapes not yet done; guarded by mu_
  bool stop_ = false, stop_workers_ = false;          // guarded by mu_
  uint64_t ticks_ = 0, skipped_ = 0;                  // guarded by mu_
  std::vector<std::thread> workers_;
  std::thread thread_;
};

}  // namespace vigil::pipeline
