#include "rules/rule_tester.h"
#include "common/os_util.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "common/units.h"
#include "detectors/detectors.h"
#include "monitor/series_store.h"
#include "rules/rules.h"
#include "rules/series_context.h"

namespace vigil::rules {

Status ExpandSeries(const std::string& notation, std::vector<double>* out) {
  std::istringstream in(notation);
  std::string tok;
  while (in >> tok) {
    if (tok == "_") {
      out->push_back(NAN);
      continue;
    }
    size_t x = tok.find('x');
    if (x == std::string::npos) {
      char* end = nullptr;
      const double v = std::strtod(tok.c_str(), &end);
      if (*end != '\0') return Status::InvalidArgument("bad value \"" + tok + "\"");
      out->push_back(v);
      continue;
    }
    const std::string head = tok.substr(0, x), count = tok.substr(x + 1);
    char* end = nullptr;
    const long n = std::strtol(count.c_str(), &end, 10);
    if (count.empty() || *end != '\0' || n < 0 || n > 1000000)
      return Status::InvalidArgument("bad repeat in \"" + tok + "\"");
    // Find the step's sign after the first character (the start may be negative).
    size_t op = head.find_first_of("+-", 1);
    double start, step = 0;
    if (head.empty()) return Status::InvalidArgument("bad value in \"" + tok + "\"");
    if (op == std::string::npos) {
      start = std::strtod(head.c_str(), &end);
      if (*end != '\0') return Status::InvalidArgument("bad value in \"" + tok + "\"");
    } else {
      const std::string start_text = head.substr(0, op);  // named: `end` points into it
      start = std::strtod(start_text.c_str(), &end);
      if (*end != '\0') return Status::InvalidArgument("bad start in \"" + tok + "\"");
      const std::string step_text = head.substr(op + 1);
      step = std::strtod(step_text.c_str(), &end);
      if (step_text.empty() || *end != '\0') return Status::InvalidArgument("bad step in \"" + tok + "\"");
      if (head[op] == '-') step = -step;
    }
    for (long i = 0; i <= n; ++i) out->push_back(start + step * static_cast<double>(i));
  }
  return Status::OK();
}

namespace {

double Dur(const YAML::Node& n, double def) {
  double s = def;
  if (n && n.IsScalar()) {
    if (!ParseDuration(n.Scalar(), &s).ok()) throw std::runtime_error("bad duration \"" + n.Scalar() + "\"");
  }
  return s;
}

}  // namespace

Status RunRuleTestFile(const std::string& path, RuleTestResult* result, RuleTestRecord* record) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const std::exception& e) { return Status::InvalidArgument(path + ": " + e.what()); }
  try {
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    std::vector<std::string> files;
    for (const auto& f : root["rule_files"]) {
      const std::string p = f.Scalar();
      files.push_back(!p.empty() && p[0] == '/' ? p : dir + "/" + p);
    }
    if (files.empty()) return Status::InvalidArgument(path + ": rule_files is empty");
    const double eval_interval = Dur(root["evaluation_interval"], 60);
    if (record) record->evaluation_interval = eval_interval;
    // Inhibitions: those the rule files ship, plus the test file's own.
    std::vector<InhibitRule> own_inhibits;
    {
      std::string text;
      VIGIL_RETURN_IF_ERROR(ReadWholeFile(path, "rule test file", &text));
      VIGIL_RETURN_IF_ERROR(ParseInhibitRulesOnly(text, path, &own_inhibits));
    }
    int index = 0;
    for (const YAML::Node& t : root["tests"]) {
      ++index;
      std::vector<RuleGroup> groups;
      std::vector<InhibitRule> inhibits;
      VIGIL_RETURN_IF_ERROR(LoadRules(files, &groups, &inhibits).WithContext(path));
      inhibits.insert(inhibits.end(), own_inhibits.begin(), own_inhibits.end());
      RuleEngine engine;
      engine.Swap(std::move(groups), std::move(inhibits));
      const double interval = Dur(t["interval"], eval_interval);
      std::map<std::string, std::vector<double>> series;
      RuleTestRecord::Case* rec = nullptr;
      if (record) {
        record->cases.emplace_back();
        rec = &record->cases.back();
        rec->interval = interval;
      }
      for (const YAML::Node& s : t["input_series"]) {
        std::vector<double> v;
        VIGIL_RETURN_IF_ERROR(
            ExpandSeries(s["values"].Scalar(), &v).WithContext(path + ": test " + std::to_string(index)));
        series[s["series"].Scalar()] = v;
        if (rec) rec->input_series.emplace_back(s["series"].Scalar(), s["values"].Scalar());
      }
      // Alert checks, by evaluation time.
      std::multimap<double, YAML::Node> checks;
      double end = 0;
      for (const YAML::Node& c : t["alert_rule_test"]) {
        const double at = Dur(c["eval_time"], 0);
        checks.emplace(at, c);
        end = std::max(end, at);
      }
      monitor::SeriesStore store(static_cast<size_t>(end / std::min(interval, eval_interval)) + 16);
      detectors::DetectorsConfig dcfg;
      dcfg.trend.capacity_value["memory_used_bytes"] = 64.0 * (1LL << 30);  // deterministic, not this machine's
      detectors::DetectorSet det(dcfg, &store);
      size_t next_sample = 0;
      const int steps = static_cast<int>(std::floor(end / eval_interval + 1e-9));
      for (int k = 0; k <= steps; ++k) {
        const double now = k * eval_interval;
        // Feed samples up to now, then detectors, then rules, as vigild does.
        std::vector<std::pair<std::string, double>> tick;
        for (; next_sample * interval <= now + 1e-9; ++next_sample) {
          std::vector<std::pair<std::string, double>> vals;
          for (const auto& [name, v] : series)
            if (next_sample < v.size() && !std::isnan(v[next_sample])) vals.emplace_back(name, v[next_sample]);
          store.AppendTick(next_sample * interval, vals);
          tick = vals;
          det.Observe(next_sample * interval, vals);
        }
        SeriesEvalContext ctx(&store, &det, now);
        engine.Evaluate(now, ctx);
        auto range = checks.equal_range(now);
        for (auto it = range.first; it != range.second; ++it) {
          const YAML::Node& c = it->second;
          const std::string alert = c["alertname"].Scalar();
          ++result->cases;
          std::vector<const RuleEngine::View*> firing;
          const auto views = engine.Snapshot();
          for (const auto& v : views)
            if (v.rule.name == alert && v.status.state == RuleState::kFiring) firing.push_back(&v);
          if (rec) {
            RuleTestRecord::Check rc{now, alert, {}};
            for (const auto* v : firing) {
              RuleTestRecord::Alert a{v->rule.labels, v->status.annotations};
              a.labels.erase("alertname");
              rc.firing.push_back(std::move(a));
            }
            rec->checks.push_back(std::move(rc));
          }
          const size_t want = c["exp_alerts"] ? c["exp_alerts"].size() : 0;
          std::string why;
          if (firing.size() != want) {
            why = "expected " + std::to_string(want) + " firing, got " + std::to_string(firing.size());
          } else if (want == 1) {
            const auto& got = *firing[0];
            const YAML::Node labels = c["exp_alerts"][0]["exp_labels"];
            const YAML::Node annotations = c["exp_alerts"][0]["exp_annotations"];
            if (labels && labels.IsMap())
              for (auto l = labels.begin(); l != labels.end(); ++l) {
                auto g = got.rule.labels.find(l->first.Scalar());
                if (g == got.rule.labels.end() || g->second != l->second.Scalar())
                  why += " label " + l->first.Scalar() + "=\"" + (g == got.rule.labels.end() ? "" : g->second) +
                         "\", want \"" + l->second.Scalar() + "\";";
              }
            if (annotations && annotations.IsMap())
              for (auto a = annotations.begin(); a != annotations.end(); ++a) {
                auto g = got.status.annotations.find(a->first.Scalar());
                if (g == got.status.annotations.end() || g->second != a->second.Scalar())
                  why += " annotation " + a->first.Scalar() + "=\"" +
                         (g == got.status.annotations.end() ? "" : g->second) + "\", want \"" + a->second.Scalar() +
                         "\";";
              }
          }
          // `exp_inhibited_by: [Source]`: the firing alert is inhibited by
          // exactly these; `[]`: it fires uninhibited.
          if (why.empty() && c["exp_inhibited_by"]) {
            std::vector<std::string> want_by;
            for (const auto& x : c["exp_inhibited_by"]) want_by.push_back(x.Scalar());
            std::vector<std::string> got_by =
                firing.empty() ? std::vector<std::string>{} : firing[0]->status.inhibited_by;
            std::sort(want_by.begin(), want_by.end());
            std::sort(got_by.begin(), got_by.end());
            if (firing.empty()) why = "exp_inhibited_by needs the alert firing";
            else if (got_by != want_by) {
              auto join = [](const std::vector<std::string>& v) {
                std::string o;
                for (const auto& x : v) o += (o.empty() ? "" : ",") + x;
                return "[" + o + "]";
              };
              why = "inhibited by " + join(got_by) + ", want " + join(want_by);
            }
          }
          if (!why.empty()) {
            ++result->failures;
            result->messages.push_back(path + ": test " + std::to_string(index) + ": " + alert + " at " +
                                       FormatDuration(now) + ": " + why);
          }
        }
      }
    }
  } catch (const std::exception& e) { return Status::InvalidArgument(path + ": " + e.what()); }
  return Status::OK();
}

}  // namespace vigil::rules
