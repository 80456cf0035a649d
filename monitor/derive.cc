#include "monitor/derive.h"

namespace vigil::monitor {

double ResetSafeCounter::Update(double raw) {
  if (!init_) {
    init_ = true;
    total_ = raw;
  } else {
    total_ += raw >= last_raw_ ? raw - last_raw_ : raw;
  }
  last_raw_ = raw;
  return total_;
}

std::optional<double> WindowIncrease::Increase(double now, double total, double window_s) {
  points_.emplace_back(now, total);
  while (points_.size() > 1 && points_[1].first <= now - window_s) points_.pop_front();
  if (now - points_.front().first <= 0) return std::nullopt;
  return total - points_.front().second;
}

std::optional<double> WindowIncrease::PerSecond(double now, double total, double window_s) {
  const std::optional<double> inc = Increase(now, total, window_s);
  if (!inc) return std::nullopt;
  return *inc / (now - points_.front().first);
}

}  // namespace vigil::monitor
