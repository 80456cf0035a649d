// The rules' view of one monitored instance: its series store and detectors
// at the evaluation time `now` (passed in, never read from a clock).
#pragma once

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "detectors/detectors.h"
#include "monitor/series_store.h"
#include "rules/expr.h"

namespace vigil::pipeline {

class MonitorEvalContext : public rules::EvalContext {
 public:
  // `fresh_since`: a latest value older than this is no value (a watched
  // target whose scrape failed: its last figures are stale, as Prometheus
  // marks them); -inf keeps every value.
  MonitorEvalContext(const monitor::SeriesStore* store, const detectors::DetectorSet* det, double now,
                     double fresh_since = -std::numeric_limits<double>::infinity())
      : store_(store), det_(det), now_(now), fresh_since_(fresh_since) {}
  double Now() const override { return now_; }
  rules::Value Latest(const std::string& signal) const override;
  std::vector<std::pair<double, double>> Range(const std::string& signal, double range_s) const override;
  rules::Value DetectorOutput(const std::string& fn, const std::vector<std::string>& signals) const override;

 private:
  const monitor::SeriesStore* store_;
  const detectors::DetectorSet* det_;
  double now_;
  double fresh_since_;
};

}  // namespace vigil::pipeline
