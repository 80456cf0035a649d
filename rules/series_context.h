// The one evaluation context of the rule language over a series store and
// its detectors: vigild's live evaluation (pipeline::Instance), `vigilctl
// rules test`, the promtool-test export and the rules bench all read signals
// through it, so a rule the tester passes behaves the same live.
//
// Staleness, after Prometheus: the value of a signal at `now` is its latest
// sample at or before `now`, unless that sample is older than the lookback
// (5 minutes, Prometheus' default) or older than the instance's staleness
// mark (`stale_before`: the time of a failed scrape, as Prometheus writes a
// staleness marker for every series of a target whose scrape fails).
// Ranges hold the samples in (now - range, now].
#pragma once

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "detectors/detectors.h"
#include "monitor/series_store.h"
#include "rules/expr.h"

namespace vigil::rules {

// Prometheus' default --query.lookback-delta.
inline constexpr double kLookbackSeconds = 300;

class SeriesEvalContext : public EvalContext {
 public:
  // `det` may be null (no detector functions: they evaluate to no value).
  SeriesEvalContext(const monitor::SeriesStore* store, const detectors::DetectorSet* det, double now,
                    double stale_before = -std::numeric_limits<double>::infinity())
      : store_(store), det_(det), now_(now), stale_before_(stale_before) {}
  double Now() const override { return now_; }
  Value Latest(const std::string& signal) const override;
  std::vector<std::pair<double, double>> Range(const std::string& signal, double range_s) const override;
  Value DetectorOutput(const std::string& fn, const std::vector<std::string>& signals) const override;

 private:
  const monitor::SeriesStore* store_;
  const detectors::DetectorSet* det_;
  double now_;
  double stale_before_;
};

}  // namespace vigil::rules
