// Rules as Prometheus alerting rules over vigild's /metrics names, so a user
// who runs Prometheus gets the same pages from it. Signals become label-free
// PromQL (max() of gauges, sum() of counters, histogram_quantile over the
// buckets for quantiles, rate() for rates), range functions use subqueries,
// and rules with no PromQL equivalent (detector functions, settings) are
// skipped with a comment saying why.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "rules/rules.h"

namespace vigil::rules {

// One expression; Unimplemented with the reason when it has no equivalent.
Status ExprToPromQL(const Expr& expr, std::string* out);
// A whole rule file's YAML for Prometheus.
std::string ExportPrometheus(const std::vector<RuleGroup>& groups);

}  // namespace vigil::rules
