// Metric families as a component exposes them: prometheus-cpp's
// `Collectable` without its dependency (capture/ also builds on the GPU
// machine, which has none). Each component collects its own families;
// daemon/metrics.cc renders them on /metrics.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vigil {

enum class MetricType { kCounter, kGauge, kHistogram };

struct Metric {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;  // counter or gauge
  // Histogram: (upper bound, cumulative count), ascending, +Inf last.
  std::vector<std::pair<double, uint64_t>> buckets;
  uint64_t count = 0;
  double sum = 0;
};

// A counter's or gauge's sample.
inline Metric Sample(std::vector<std::pair<std::string, std::string>> labels, double value) {
  Metric m;
  m.labels = std::move(labels);
  m.value = value;
  return m;
}

struct MetricFamily {
  std::string name, help;
  MetricType type = MetricType::kGauge;
  std::vector<Metric> metrics;
};

class Collectable {
 public:
  virtual ~Collectable() = default;
  // A consistent snapshot, taken under the component's own locks; called
  // from HTTP handlers while the component runs.
  virtual std::vector<MetricFamily> Collect() const = 0;
};

}  // namespace vigil
