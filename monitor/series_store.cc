#include "monitor/series_store.h"

#include <algorithm>

namespace vigil::monitor {

SeriesStore::SeriesStore(size_t capacity) : capacity_(std::max<size_t>(capacity, 2)) {}

void SeriesStore::AppendTick(double t, const std::vector<std::pair<std::string, double>>& values) {
  WriterLock lock(&mu_);
  for (const auto& [name, v] : values) {
    Ring& r = series_[name];
    // Grown as points arrive, so a fleet of young instances costs what
    // they hold, not their retention. While growing, head == size.
    if (r.buf.size() < capacity_) {
      if (r.buf.size() == r.buf.capacity()) r.buf.reserve(std::min(capacity_, std::max<size_t>(64, 2 * r.buf.size())));
      r.buf.push_back({t, v});
    } else {
      r.buf[r.head] = {t, v};
    }
    r.head = (r.head + 1) % capacity_;
    r.size = std::min(r.size + 1, capacity_);
  }
}

bool SeriesStore::Latest(const std::string& name, Point* out) const {
  ReaderLock lock(&mu_);
  auto it = series_.find(name);
  if (it == series_.end() || it->second.size == 0) return false;
  *out = it->second.Get(it->second.size - 1, capacity_);
  return true;
}

std::vector<Point> SeriesStore::Range(const std::string& name, double since) const {
  ReaderLock lock(&mu_);
  std::vector<Point> out;
  auto it = series_.find(name);
  if (it == series_.end()) return out;
  const Ring& r = it->second;
  // Points are in time order: binary search the first one at or after since.
  size_t lo = 0, hi = r.size;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r.Get(mid, capacity_).t < since) lo = mid + 1;
    else hi = mid;
  }
  out.reserve(r.size - lo);
  for (size_t i = lo; i < r.size; ++i) out.push_back(r.Get(i, capacity_));
  return out;
}

bool SeriesStore::At(const std::string& name, double at, Point* out) const {
  ReaderLock lock(&mu_);
  auto it = series_.find(name);
  if (it == series_.end() || it->second.size == 0) return false;
  const Ring& r = it->second;
  size_t lo = 0, hi = r.size;  // first index with t > at
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r.Get(mid, capacity_).t <= at) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return false;
  *out = r.Get(lo - 1, capacity_);
  return true;
}

std::vector<std::string> SeriesStore::Names() const {
  ReaderLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& kv : series_) out.push_back(kv.first);
  std::sort(out.begin(), out.end());
  return out;
}

bool SeriesStore::Has(const std::string& name) const {
  ReaderLock lock(&mu_);
  return series_.count(name) > 0;
}

size_t SeriesStore::MemoryBytes() const {
  ReaderLock lock(&mu_);
  size_t n = 0;
  for (const auto& kv : series_) n += kv.second.buf.capacity() * sizeof(Point) + kv.first.capacity() + 64;
  return n;
}

}  // namespace vigil::monitor
