// In-memory time series: one fixed-capacity ring buffer per signal.
// Memory is bounded: capacity points x 16 bytes per signal (retention /
// interval points; 3,600 points = 56 KiB per signal at the defaults).
// The sampler appends; API readers read concurrently (shared lock).
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mutex.h"

namespace vigil::monitor {

struct Point {
  double t;  // unix seconds
  double v;
};

class SeriesStore {
 public:
  explicit SeriesStore(size_t capacity_per_signal);

  // Appends one point to each named signal, under one lock.
  void AppendTick(double t, const std::vector<std::pair<std::string, double>>& values);
  void Append(const std::string& name, double t, double v) { AppendTick(t, {{name, v}}); }

  bool Latest(const std::string& name, Point* out) const;
  // Points with t >= since, oldest first.
  std::vector<Point> Range(const std::string& name, double since) const;
  // The newest point with t <= at.
  bool At(const std::string& name, double at, Point* out) const;
  std::vector<std::string> Names() const;
  bool Has(const std::string& name) const;
  size_t capacity() const { return capacity_; }
  size_t MemoryBytes() const;

 private:
  struct Ring {
    std::vector<Point> buf;
    size_t head = 0;  // next write
    size_t size = 0;
    const Point& Get(size_t i, size_t cap) const { return buf[(head + cap - size + i) % cap]; }
  };
  size_t capacity_;
  mutable SharedMutex mu_;
  std::unordered_map<std::string, Ring> series_ GUARDED_BY(mu_);
};

}  // namespace vigil::monitor
