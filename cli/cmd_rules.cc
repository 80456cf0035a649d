// vigilctl rules check: parse and type-check rule files before deploying them.
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "rules/promql.h"
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

int CmdRulesExport(int argc, char** argv) {
  std::vector<std::string> files;
  std::string format;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--format" && i + 1 < argc) format = argv[++i];
    else if (a.rfind("--format=", 0) == 0) format = a.substr(9);
    else files.push_back(a);
  }
  if (format != "prometheus") {
    std::fprintf(stderr, "vigilctl rules export: --format prometheus is the one format\n");
    return 2;
  }
  if (files.empty()) {
    std::fprintf(stderr, "vigilctl rules export: give rule files\n");
    return 2;
  }
  std::vector<rules::RuleGroup> groups;
  Status st = rules::LoadRules(files, &groups);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  std::fputs(rules::ExportPrometheus(groups).c_str(), stdout);
  return 0;
}

int CmdRules(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[0], "test") == 0) return CmdRulesTest(argc, argv);
  if (argc >= 1 && std::strcmp(argv[0], "export") == 0) return CmdRulesExport(argc, argv);
  if (argc < 1 || std::strcmp(argv[0], "check") != 0) {
    std::fprintf(stderr, "usage: vigilctl rules check|test FILE... | vigilctl rules export --format prometheus FILE...\n");
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
