// The notifier's own /metrics families (Alertmanager's notify metrics,
// renamed vigil_*): delivery attempts, the outbox, latency.
#include <limits>

#include "alerts/notifier.h"

namespace vigil::alerts {

std::vector<MetricFamily> Notifier::Collect() const {
  MetricFamily total{"vigil_notifications_total",
                     "Notification delivery attempts by result: success, retry (failed, will retry), "
                     "dead (failed, dead-lettered)",
                     MetricType::kCounter,
                     {}};
  MetricFamily queued{
      "vigil_notifications_queued_total", "Notifications accepted into the outbox", MetricType::kCounter, {}};
  MetricFamily pending{"vigil_outbox_pending", "Notifications waiting for delivery", MetricType::kGauge, {}};
  MetricFamily dead{"vigil_notifications_dead_total", "Notifications dead-lettered", MetricType::kCounter, {}};
  MetricFamily lat{"vigil_notification_delivery_seconds", "Duration of delivery attempts", MetricType::kHistogram, {}};
  auto one = [](const std::string& receiver, double v) {
    Metric m;
    m.labels = {{"receiver", receiver}};
    m.value = v;
    return m;
  };
  for (const auto& [name, s] : deliverer_->Stats()) {
    for (const auto& [result, v] : std::vector<std::pair<std::string, uint64_t>>{
             {"success", s.delivered}, {"retry", s.failed - s.dead}, {"dead", s.dead}}) {
      Metric m = one(name, static_cast<double>(v));
      m.labels.push_back({"result", result});
      total.metrics.push_back(std::move(m));
    }
    queued.metrics.push_back(one(name, static_cast<double>(s.accepted)));
    pending.metrics.push_back(one(name, static_cast<double>(s.pending)));
    dead.metrics.push_back(one(name, static_cast<double>(s.dead)));
    Metric h = one(name, 0);
    h.count = s.latency_count;
    h.sum = s.latency_sum;
    for (size_t i = 0; i < kLatencyBounds.size(); ++i) h.buckets.push_back({kLatencyBounds[i], s.latency_buckets[i]});
    h.buckets.push_back({std::numeric_limits<double>::infinity(), s.latency_count});
    lat.metrics.push_back(std::move(h));
  }
  MetricFamily writable{"vigil_outbox_writable",
                        "1 while the outbox and silences are written to disk, 0 on a fault",
                        MetricType::kGauge,
                        {}};
  writable.metrics.push_back(Sample({}, fault().empty() ? 1.0 : 0.0));
  return {std::move(total), std::move(queued), std::move(pending),
          std::move(dead),  std::move(lat),    std::move(writable)};
}

}  // namespace vigil::alerts
