#include "rules/series_context.h"

#include "rules/detector_functions.h"

namespace vigil::rules {

Value SeriesEvalContext::Latest(const std::string& s) const {
  monitor::Point p;
  if (!store_->At(s, now_, &p)) return std::nullopt;
  if (now_ - p.t > kLookbackSeconds || p.t < stale_before_) return std::nullopt;
  return p.v;
}

std::vector<std::pair<double, double>> SeriesEvalContext::Range(const std::string& s, double range_s) const {
  std::vector<std::pair<double, double>> out;
  for (const auto& p : store_->Range(s, now_ - range_s))
    if (p.t <= now_) out.emplace_back(p.t, p.v);
  return out;
}

Value SeriesEvalContext::DetectorOutput(const std::string& fn, const std::vector<std::string>& sig) const {
  return DetectorFunction(det_, fn, sig);
}

}  // namespace vigil::rules
