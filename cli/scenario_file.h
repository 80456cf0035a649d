// A scenario file (etc/scenarios/*.yaml) as `vigilctl scenario run` reads
// it: the engine and monitor overlays, the load pattern, the expectation;
// and the rule pack written with the scenario's `for:` scaling.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>

#include "cli/loadgen.h"
#include "common/status.h"

namespace vigil::cli {

struct Scenario {
  std::string name, description;
  YAML::Node engine, monitor;
  double for_scale = 1;
  std::map<std::string, double> for_override;
  LoadOptions load;
  std::set<std::string> fires, allow, primary;  // primary: more rules that may be the primary diagnosis
  double within_s = 90, timeout_s = 120, settle_s = 5;
  bool expect_capture = false;
  // An extra open-loop load at `factor` times the base rate for `for_s`.
  double burst_at_s = 0, burst_for_s = 0, burst_factor = 0;
};

// Parses `path`; errors name the file, and the line where YAML knows it.
Status LoadScenario(const std::string& path, Scenario* s);

// The rule pack in `rules_dir` written to `out_dir` with `for:` scaled (and
// overridden); thresholds untouched. Fills each pathology rule's pathology.
Status WriteRules(const std::string& rules_dir, const Scenario& s, const std::string& out_dir,
                  std::map<std::string, std::string>* pathology_rules);

}  // namespace vigil::cli
