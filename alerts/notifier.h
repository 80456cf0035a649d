// The alert pipeline between the rules and the receivers. The rules hand it
// the set of firing alerts after each evaluation (Observe: a copy under a
// lock, never blocked by delivery); its own thread turns changes into
// firing/resolved alerts, applies silences, routes and groups them
// (Dispatcher), keeps Alertmanager receivers re-sent while firing, and
// queues rendered notifications on the Deliverer.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "alerts/delivery.h"
#include "alerts/dispatcher.h"
#include "alerts/silences.h"
#include "common/metric_family.h"
#include "common/mutex.h"

namespace vigil::alerts {

struct NotifierConfig {
  DispatchConfig dispatch;
  DeliveryConfig delivery;
  std::string silences_path;   // empty: memory only
  std::string external_url;    // links in notifications
  double resend_delay_s = 60;  // alertmanager receivers: re-send firing alerts this often
  double tick_s = 0.25;        // how often group timers are checked
};

class Notifier : public Collectable {
 public:
  // Fails on a route naming an unknown receiver or an invalid regex.
  // `clock` (not owned; outlives the notifier): its Unix time drives the loop's
  // steps and the deliverer.
  static Status Create(NotifierConfig cfg, Clock* clock, std::unique_ptr<Notifier>* out);
  ~Notifier();

  void Start() EXCLUDES(in_mu_);
  void Stop() EXCLUDES(in_mu_);
  // The alerts firing now; replaces the previous set. Those that vanish
  // resolve at the next step.
  void Observe(std::vector<Alert> firing) EXCLUDES(in_mu_);
  // One reconcile and group tick on the caller's thread (the loop's body;
  // tests drive it with their own clock instead of Start()).
  void Step(double now) EXCLUDES(step_mu_, in_mu_);
  // Steps taken so far (tests wait on it).
  uint64_t steps() const { return steps_.load(); }

  SilenceStore& silences() { return *silences_; }
  Deliverer& deliverer() { return *deliverer_; }
  std::vector<std::string> SilencedBy(const Labels& labels, double now) const;
  // Outbox or silence-store faults; empty when healthy.
  std::string fault() const;
  uint64_t notifications_queued() const;
  // vigil_notifications_*, vigil_outbox_*, the delivery latency histogram.
  std::vector<MetricFamily> Collect() const override;

 private:
  Notifier() = default;
  void Loop() EXCLUDES(in_mu_);
  void Queue(const std::string& receiver, const std::string& body);
  std::vector<std::string> RoutedReceivers(const Labels& labels, bool alertmanager) const REQUIRES(step_mu_);

  // Set up by Create, then read-only (the objects lock themselves, but the
  // dispatcher, which Step serializes).
  NotifierConfig cfg_;
  Clock* clock_ = nullptr;
  std::unique_ptr<SilenceStore> silences_;
  std::unique_ptr<Deliverer> deliverer_;
  std::map<std::string, ReceiverType> types_;

  mutable Mutex in_mu_;  // the observed set, and the loop's flags
  CondVar cv_;           // wake_, stop_, or a clock jump
  std::vector<Alert> observed_ GUARDED_BY(in_mu_);
  bool observed_set_ GUARDED_BY(in_mu_) = false;
  bool wake_ GUARDED_BY(in_mu_) = false;
  bool stop_ GUARDED_BY(in_mu_) = false;
  // Start and Stop's (the owner's): Subscribe must not run under in_mu_.
  std::unique_ptr<ClockWakeup> wakeup_;  // while the loop runs: clock jumps wake it
  std::thread thread_;

  Mutex step_mu_ ACQUIRED_BEFORE(in_mu_);  // one Step at a time
  std::unique_ptr<Dispatcher> dispatcher_ PT_GUARDED_BY(step_mu_);
  std::map<std::string, Alert> active_ GUARDED_BY(step_mu_);  // by fingerprint
  std::map<std::string, std::set<std::string>> am_sent_
      GUARDED_BY(step_mu_);  // receiver -> fingerprints it heard firing
  double last_resend_ GUARDED_BY(step_mu_) = 0;
  std::atomic<uint64_t> queued_{0};
  std::atomic<uint64_t> steps_{0};
};

}  // namespace vigil::alerts
