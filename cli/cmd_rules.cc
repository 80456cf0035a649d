// vigilctl rules check: parse and type-check rule files before deploying them.
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cli/commands.h"
#include "common/os_util.h"
#include "rules/promql.h"
#include "rules/promtool_tests.h"
#include "rules/rule_test.h"
#include "rules/rules.h"

namespace vigil::cli {

int CmdRulesTest(int argc, char** argv) {
  int failures = 0, cases = 0;
  for (int i = 1; i < argc; ++i) {
    rules::RuleTestResult r;
    Status st = rules::RunRuleTestFile(argv[i], &r);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
    for (const auto& m : r.messages) std::fprintf(stderr, "FAILED %s\n", m.c_str());
    std::printf("%s: %d cases, %d failed\n", argv[i], r.cases, r.failures);
    failures += r.failures;
    cases += r.cases;
  }
  std::printf("%d passed, %d failed\n", cases - failures, failures);
  return failures ? 1 : 0;
}

bool IsTestFile(const std::string& path) {
  std::string text;
  if (!ReadFileToString(path, &text)) return false;
  return text.find("\ntests:") != std::string::npos || text.rfind("tests:", 0) == 0;
}

bool WriteText(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

// vigilctl rules export --format prometheus [--for-scale F] [-o RULES
//   [--tests-out TESTS]] FILE...: rule files become Prometheus rules; the
// pack's test files among FILE (those with `tests:`) become promtool tests.
int CmdRulesExport(int argc, char** argv) {
  std::vector<std::string> files, tests;
  std::string format, output, tests_out;
  rules::ExportOptions opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag, std::string* v) {
      const std::string f = flag;
      if (a == f && i + 1 < argc) *v = argv[++i];
      else if (a.rfind(f + "=", 0) == 0) *v = a.substr(f.size() + 1);
      else return false;
      return true;
    };
    std::string scale;
    if (value("--format", &format) || value("--output", &output) || value("-o", &output) ||
        value("--tests-out", &tests_out))
      continue;
    if (value("--for-scale", &scale)) {
      char* end = nullptr;
      opt.for_scale = std::strtod(scale.c_str(), &end);
      if (scale.empty() || *end || !(opt.for_scale > 0)) {
        std::fprintf(stderr, "vigilctl rules export: --for-scale: expected a number > 0, got \"%s\"\n", scale.c_str());
        return 2;
      }
      continue;
    }
    if (a.rfind("-", 0) == 0) {
      std::fprintf(stderr, "vigilctl rules export: unknown flag %s\n", a.c_str());
      return 2;
    }
    (IsTestFile(a) ? tests : files).push_back(a);
  }
  if (format != "prometheus") {
    std::fprintf(stderr, "vigilctl rules export: --format prometheus is the one format\n");
    return 2;
  }
  if (files.empty()) {
    std::fprintf(stderr, "vigilctl rules export: give rule files\n");
    return 2;
  }
  if (!tests_out.empty() && (output.empty() || opt.for_scale != 1)) {
    std::fprintf(stderr, "vigilctl rules export: --tests-out needs --output (the tests name the rule file) and no "
                         "--for-scale (the tests' times are the rules' own)\n");
    return 2;
  }
  if (!tests.empty() && tests_out.empty()) {
    std::fprintf(stderr, "vigilctl rules export: %s is a test file; give --tests-out to translate it\n",
                 tests[0].c_str());
    return 2;
  }
  std::vector<rules::RuleGroup> groups;
  Status st = rules::LoadRules(files, &groups);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  const std::string text = rules::ExportPrometheus(groups, opt);
  if (output.empty()) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  if (!WriteText(output, text)) {
    std::fprintf(stderr, "vigilctl rules export: cannot write %s: %s\n", output.c_str(), std::strerror(errno));
    return 1;
  }
  if (tests_out.empty()) return 0;
  // The tests name the rules relative to their own folder, as promtool reads them.
  std::string rel = output;
  const size_t so = output.rfind('/'), st2 = tests_out.rfind('/');
  const std::string out_dir = so == std::string::npos ? "" : output.substr(0, so + 1);
  const std::string tests_dir = st2 == std::string::npos ? "" : tests_out.substr(0, st2 + 1);
  if (out_dir == tests_dir) rel = output.substr(out_dir.size());
  else if (char* abs = realpath(output.c_str(), nullptr)) {
    rel = abs;
    std::free(abs);
  }
  rules::PromtoolExport pt;
  st = rules::ExportPromtoolTests(tests, rel, &pt);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  if (!WriteText(tests_out, pt.yaml)) {
    std::fprintf(stderr, "vigilctl rules export: cannot write %s: %s\n", tests_out.c_str(), std::strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "%s: %d test cases translated, %zu left out (the reasons are in the file)\n", tests_out.c_str(),
               pt.cases_kept, pt.skipped.size());
  return 0;
}

int CmdRules(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[0], "test") == 0) return CmdRulesTest(argc, argv);
  if (argc >= 1 && std::strcmp(argv[0], "export") == 0) return CmdRulesExport(argc, argv);
  if (argc < 1 || std::strcmp(argv[0], "check") != 0) {
    std::fprintf(stderr, "usage: vigilctl rules check|test FILE... | vigilctl rules export --format prometheus [--for-scale F] [-o RULES [--tests-out TESTS]] FILE...\n");
    return 2;
  }
  if (argc < 2) {
    std::fprintf(stderr, "vigilctl rules check: give at least one rule file\n");
    return 2;
  }
  int errors = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<rules::RuleGroup> groups;
    Status st = rules::LoadRules({argv[i]}, &groups);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      ++errors;
      continue;
    }
    size_t n = 0;
    for (const auto& g : groups) n += g.rules.size();
    std::printf("%s: %zu groups, %zu rules: OK\n", argv[i], groups.size(), n);
  }
  return errors ? 1 : 0;
}

}  // namespace vigil::cli
