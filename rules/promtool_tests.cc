#include "rules/promtool_tests.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "rules/promql.h"
#include "rules/rule_tester.h"
#include "rules/rules.h"

namespace vigil::rules {

namespace {

// Prometheus durations take whole units.
std::string Dur(double s) {
  const long long ms = std::llround(s * 1000);
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// A YAML double-quoted scalar (JSON's escapes).
std::string Q(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20) out += ' ';
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

// A flow map: {k: "v", ...}.
std::string Map(const std::map<std::string, std::string>& m) {
  std::string out = "{";
  for (const auto& [k, v] : m) out += (out.size() > 1 ? ", " : "") + k + ": " + Q(v);
  return out + "}";
}

Status RuleFilesOf(const std::string& path, std::vector<std::string>* files) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    for (const auto& f : root["rule_files"]) {
      const std::string p = f.Scalar();
      files->push_back(!p.empty() && p[0] == '/' ? p : dir + "/" + p);
    }
  } catch (const std::exception& e) { return Status::InvalidArgument(path + ": " + e.what()); }
  return Status::OK();
}

}  // namespace

Status ExportPromtoolTests(const std::vector<std::string>& test_files, const std::string& rule_file,
                           PromtoolExport* out) {
  std::ostringstream body;
  double eval_interval = 0;
  for (const auto& path : test_files) {
    RuleTestResult result;
    RuleTestRecord record;
    VIGIL_RETURN_IF_ERROR(RunRuleTestFile(path, &result, &record));
    if (result.failures > 0)
      return Status::InvalidArgument(path + ": " + std::to_string(result.failures) +
                                     " of its own cases fail (vigilctl rules test); fix them before exporting");
    std::vector<std::string> files;
    VIGIL_RETURN_IF_ERROR(RuleFilesOf(path, &files));
    std::vector<RuleGroup> groups;
    VIGIL_RETURN_IF_ERROR(LoadRules(files, &groups).WithContext(path));
    std::map<std::string, const Rule*> rules;
    for (const auto& g : groups)
      for (const auto& r : g.rules) rules.emplace(r.name, &r);
    if (eval_interval == 0) eval_interval = record.evaluation_interval;
    for (size_t i = 0; i < record.cases.size(); ++i) {
      const auto& c = record.cases[i];
      const std::string where = path + ": test " + std::to_string(i + 1) + ": ";
      std::string why;
      if (record.evaluation_interval != eval_interval) why = "another evaluation_interval than the first file's";
      std::set<std::string> checked;
      for (const auto& ch : c.checks) checked.insert(ch.alertname);
      for (const auto& name : checked) {
        auto it = rules.find(name);
        if (why.empty() && it == rules.end()) why = name + " is not in the test's rule files";
        else if (why.empty() && !ExactInPrometheus(*it->second))
          why = name + " reads a rate, a quantile, a function or a detector, which Prometheus computes its own way";
      }
      if (c.checks.empty()) why = "no alert checks";
      for (const auto& ch : c.checks)
        for (const auto& a : ch.firing)
          for (const auto& [k, v] : a.annotations)
            if (why.empty() && v.find("<error") != std::string::npos)
              why = ch.alertname + "'s " + k +
                    " queries a series the case leaves empty: Vigil writes the error "
                    "inline, Prometheus drops the whole annotation";
      if (!why.empty()) {
        out->skipped.push_back(where + why);
        continue;
      }
      ++out->cases_kept;
      body << "  # " << path << ", test " << (i + 1) << "\n  - interval: " << Dur(c.interval)
           << "\n    input_series:\n";
      for (const auto& [signal, values] : c.input_series) {
        const std::string series = PlainSeries(signal);
        if (series.empty()) continue;  // read by no checked rule
        body << "      - series: " << Q(series + "{model_name=\"vigil-test\"}") << "\n        values: " << Q(values)
             << "\n";
      }
      body << "    alert_rule_test:\n";
      for (const auto& ch : c.checks) {
        body << "      - eval_time: " << Dur(ch.eval_time) << "\n        alertname: " << Q(ch.alertname) << "\n";
        if (ch.firing.empty()) {
          body << "        exp_alerts: []\n";
          continue;
        }
        body << "        exp_alerts:\n";
        for (const auto& a : ch.firing) {
          auto labels = a.labels;
          labels["source"] = "vigil";  // the export's own label
          body << "          - exp_labels: " << Map(labels) << "\n            exp_annotations: " << Map(a.annotations)
               << "\n";
        }
      }
    }
  }
  std::ostringstream y;
  y << "# Generated by vigilctl rules export --tests-out from Vigil's own rule tests:\n"
       "# the cases whose checked rules Prometheus evaluates exactly as Vigil does,\n"
       "# each expecting what Vigil's engine produced. Run: promtool test rules FILE\n"
       "rule_files: ["
    << Q(rule_file) << "]\n"
    << "evaluation_interval: " << Dur(eval_interval > 0 ? eval_interval : 60) << "\ntests:\n";
  for (const auto& s : out->skipped) y << "# skipped " << s << "\n";
  if (out->cases_kept == 0) y << "  []\n";
  y << body.str();
  out->yaml = y.str();
  return Status::OK();
}

}  // namespace vigil::rules
