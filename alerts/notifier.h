// The alert pipeline between the rules and the receivers. The rules hand it
// the set of firing alerts after each evaluation (Observe: a copy under a
// lock, never blocked by delivery); its own thread turns changes into
// firing/resolved alerts, applies silences, routes and groups them
// (Dispatcher), keeps Alertmanager receivers re-sent while firing, and
// queues rendered notifications on the Deliverer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "alerts/delivery.h"
#include "alerts/dispatcher.h"
#include "alerts/silences.h"
#include "common/metric_family.h"

namespace vigil::alerts {

struct NotifierConfig {
  DispatchConfig dispatch;
  DeliveryConfig delivery;
  std::string silences_path;  // empty: memory only
  std::string external_url;   // links in notifications
  double resend_delay_s = 60; // alertmanager receivers: re-send firing alerts this often
  double tick_s = 0.25;       // how often group timers are checked
};

class Notifier : public Collectable {
 public:
  // Fails on a route naming an unknown receiver or an invalid regex.
  // `clock` (not owned; outlives the notifier): its Unix time drives the loop's
  // steps and the deliverer.
  static Status Create(NotifierConfig cfg, Clock* clock, std::unique_ptr<Notifier>* out);
  ~Notifier();

  void Start();
  void Stop();
  // The alerts firing now; replaces the previous set. Those that vanish
  // resolve at the next step.
  void Observe(std::vector<Alert> firing);
  // One reconcile and group tick on the caller's thread (the loop's body;
  // tests drive it with their own clock instead of Start()).
  void Step(double now);
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
  void Loop();
  void Queue(const std::string& receiver, const std::string& body);
  std::vector<std::string> RoutedReceivers(const Labels& labels, bool alertmanager) const;

  NotifierConfig cfg_;
  Clock* clock_ = nullptr;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<SilenceStore> silences_;
  std::unique_ptr<Deliverer> deliverer_;
  std::map<std::string, ReceiverType> types_;

  mutable std::mutex in_mu_;  // guards the observed set and the wake flag
  std::condition_variable cv_;
  std::vector<Alert> observed_;
  bool observed_set_ = false, wake_ = false, stop_ = false;
  std::unique_ptr<ClockWakeup> wakeup_;  // while the loop runs: clock jumps wake it

  std::mutex step_mu_;  // one Step at a time
  std::map<std::string, Alert> active_;  // by fingerprint
  std::map<std::string, std::set<std::string>> am_sent_;  // receiver -> fingerprints it heard firing
  double last_resend_ = 0;
  std::atomic<uint64_t> queued_{0};
  std::atomic<uint64_t> steps_{0};
  std::thread thread_;
};

}  // namespace vigil::alerts
