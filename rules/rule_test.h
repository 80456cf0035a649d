// `vigilctl rules test`: unit tests for rule files in promtool's format,
// run against synthetic series without a model.
//
//   rule_files: [pathologies.yaml]
//   evaluation_interval: 15s
//   tests:
//     - interval: 15s
//       input_series:
//         - series: kv_cache_usage
//           values: '0.5+0.05x10 0.99x20 _ 1'
//       alert_rule_test:
//         - eval_time: 5m
//           alertname: KVCacheNearFull
//           exp_alerts:
//             - exp_labels: {severity: critical}
//               exp_annotations: {summary: KV cache is nearly full}
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::rules {

// Expands promtool's series notation: "a+bxn" (n+1 values from a, step b),
// "a-bxn", "axn" (a repeated n+1 times), "_" (missing), plain numbers.
// Missing values are NaN.
Status ExpandSeries(const std::string& notation, std::vector<double>* out);

struct RuleTestResult {
  int cases = 0;
  int failures = 0;
  std::vector<std::string> messages;  // one per failure, naming file and case
};

Status RunRuleTestFile(const std::string& path, RuleTestResult* result);

}  // namespace vigil::rules
