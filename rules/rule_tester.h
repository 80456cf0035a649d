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

#include <map>
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

// What Vigil's own engine produced at each check, so the pack's tests can be
// translated into promtool's (rules/promtool_tests.h) with the labels and
// annotations Prometheus must then produce too.
struct RuleTestRecord {
  struct Alert {
    std::map<std::string, std::string> labels, annotations;  // labels without alertname
  };
  struct Check {
    double eval_time = 0;
    std::string alertname;
    std::vector<Alert> firing;
  };
  struct Case {
    double interval = 0;
    std::vector<std::pair<std::string, std::string>> input_series;  // signal, promtool notation
    std::vector<Check> checks;
  };
  double evaluation_interval = 0;
  std::vector<Case> cases;
};

// Runs a test file; `record` (optional) receives what each check saw.
Status RunRuleTestFile(const std::string& path, RuleTestResult* result, RuleTestRecord* record = nullptr);

}  // namespace vigil::rules
