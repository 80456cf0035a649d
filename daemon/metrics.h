// /metrics: engine stats under vLLM's metric names (plus the production set
// of the common vLLM monitoring guide) and Vigil's own vigil_* metrics, in
// Prometheus text format from prometheus-cpp, serialized in the HTTP handler.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>

#include "common/metric_family.h"
#include "common/mutex.h"
#include "engine/engine.h"

namespace vigil::daemon {

// A component's family (common/metric_family.h) as prometheus-cpp serializes it.
prometheus::MetricFamily ToPrometheus(const MetricFamily& f);

class Metrics {
 public:
  // `external_labels` (server.external_labels), when set, become
  // vigil_instance_info{...} 1: an info metric to join on where the scrape
  // config does not attach them (docs/fleet.md).
  Metrics(std::string model_name, std::string version, const std::map<std::string, std::string>& external_labels = {});

  // Counts an HTTP request by endpoint and status code.
  void CountRequest(const std::string& endpoint, int status);
  // A generation the daemon refused before the engine saw it, by reason
  // ("queue_full": server.max_waiting_requests); vigil_requests_rejected_total
  // shows them beside the engine's own refusals (reason "invalid").
  void CountRejected(const std::string& reason);
  void SetReloadResult(bool ok, double unix_time);

  // The whole exposition for one scrape.
  // `anomalies`: (detector, signal) -> count, for vigil_anomalies_total.
  // `extra`: families from the monitor and rules, serialized alongside.
  // `stats`: the hosted engine's; nullptr for a sidecar (no engine families).
  std::string Render(const engine::EngineStats* stats,
                     const std::map<std::pair<std::string, std::string>, uint64_t>* anomalies = nullptr,
                     std::vector<prometheus::MetricFamily> extra = {}) const;

 private:
  std::string model_name_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* http_requests_;
  prometheus::Gauge* reload_success_;
  prometheus::Gauge* reload_time_;
  mutable Mutex rejected_mu_;
  std::map<std::string, uint64_t> rejected_ GUARDED_BY(rejected_mu_);
};

}  // namespace vigil::daemon
