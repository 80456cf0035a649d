// The pack's own rule tests as promtool unit tests for the exported rules,
// where the translation is exact: the checked rules read only plain signals
// (rules::ExactInPrometheus), so each input series becomes the /metrics
// series it comes from, and the expected alerts are what Vigil's engine
// produced (every label and annotation), which Prometheus must then match.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::rules {

struct PromtoolExport {
  std::string yaml;                  // promtool's test file
  int cases_kept = 0;                // test cases translated
  std::vector<std::string> skipped;  // "file: test N: why", one per case left out
};

// `test_files`: the pack's test files; `rule_file`: the exported rules as
// the test file will name them (relative to the test file's folder).
Status ExportPromtoolTests(const std::vector<std::string>& test_files, const std::string& rule_file,
                           PromtoolExport* out);

}  // namespace vigil::rules
