// The detector functions of the rule language (zscore, corr, trend_slope,
// trend_r2, time_to_exhaustion) read from a DetectorSet: shared by vigild's
// evaluation context and `vigilctl rules test`.
#pragma once

#include <string>
#include <vector>

#include "detectors/detectors.h"
#include "rules/expr.h"

namespace vigil::rules {

inline Value DetectorFunction(const detectors::DetectorSet* det, const std::string& fn,
                              const std::vector<std::string>& sig) {
  if (det == nullptr || sig.empty()) return std::nullopt;
  double v = 0;
  if (fn == "zscore" && det->ZScore(sig[0], &v)) return v;
  if (fn == "corr" && sig.size() == 2 && det->Corr(sig[0], sig[1], &v)) return v;
  detectors::TrendFit fit;
  if (fn == "trend_slope" && det->Trend(sig[0], &fit)) return fit.slope;
  if (fn == "trend_r2" && det->Trend(sig[0], &fit)) return fit.r2;
  if (fn == "time_to_exhaustion" && det->TimeToExhaustion(sig[0], &v)) return v;
  return std::nullopt;
}

}  // namespace vigil::rules
