#include "pipeline/eval_context.h"

#include "rules/detector_functions.h"

namespace vigil::pipeline {

rules::Value MonitorEvalContext::Latest(const std::string& s) const {
  monitor::Point p;
  if (!store_->Latest(s, &p) || p.t < fresh_since_) return std::nullopt;
  return p.v;
}

std::vector<std::pair<double, double>> MonitorEvalContext::Range(const std::string& s, double range_s) const {
  std::vector<std::pair<double, double>> out;
  for (const auto& p : store_->Range(s, now_ - range_s)) out.emplace_back(p.t, p.v);
  return out;
}

rules::Value MonitorEvalContext::DetectorOutput(const std::string& fn, const std::vector<std::string>& sig) const {
  return rules::DetectorFunction(det_, fn, sig);
}

}  // namespace vigil::pipeline
