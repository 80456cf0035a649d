// vigilctl rules check|test|export: type-check rule files before deploying
// them, run their unit tests, export them for Prometheus.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/os_util.h"
#include "common/units.h"
#include "rules/promql.h"
#include "rules/promtool_tests.h"
#include "rules/rule_tester.h"
#include "rules/rules.h"

namespace vigil::cli {

namespace {

int RulesTest(const std::vector<std::string>& files) {
  int failures = 0, cases = 0;
  for (const auto& file : files) {
    rules::RuleTestResult r;
    Status st = rules::RunRuleTestFile(file, &r);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
    for (const auto& m : r.messages) std::fprintf(stderr, "FAILED %s\n", m.c_str());
    std::printf("%s: %d cases, %d failed\n", file.c_str(), r.cases, r.failures);
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

struct ExportFlags {
  std::vector<std::string> args;
  std::string format, output, tests_out;
  double for_scale = 1;
  std::string engine = "vigil", stall_window = "1m";
};

// vigilctl rules export --format prometheus [--for-scale F] [-o RULES
//   [--tests-out TESTS]] FILE...: rule files become Prometheus rules; the
// pack's test files among FILE (those with `tests:`) become promtool tests.
int RulesExport(const ExportFlags& f) {
  std::vector<std::string> files, tests;
  const std::string &output = f.output, &tests_out = f.tests_out;
  rules::ExportOptions opt;
  opt.for_scale = f.for_scale;
  opt.engine = f.engine;
  if (Status st = ParseDuration(f.stall_window, &opt.stall_window_s); !st.ok() || opt.stall_window_s <= 0) {
    std::fprintf(stderr, "vigilctl rules export: --stall-window: expected a duration such as 1m, got \"%s\"\n",
                 f.stall_window.c_str());
    return 2;
  }
  if (!tests_out.empty() && opt.engine != "vigil") {
    std::fprintf(stderr, "vigilctl rules export: --tests-out translates the pack's tests for vigild's names only\n");
    return 2;
  }
  for (const auto& a : f.args) (IsTestFile(a) ? tests : files).push_back(a);
  if (files.empty()) {
    std::fprintf(stderr, "vigilctl rules export: give rule files\n");
    return 2;
  }
  if (!tests_out.empty() && (output.empty() || opt.for_scale != 1)) {
    std::fprintf(stderr,
                 "vigilctl rules export: --tests-out needs --output (the tests name the rule file) and no "
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

int RulesCheck(const std::vector<std::string>& files) {
  int errors = 0;
  for (const auto& file : files) {
    std::vector<rules::RuleGroup> groups;
    Status st = rules::LoadRules({file}, &groups);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      ++errors;
      continue;
    }
    size_t n = 0;
    for (const auto& g : groups) n += g.rules.size();
    std::printf("%s: %zu groups, %zu rules: OK\n", file.c_str(), groups.size(), n);
  }
  return errors ? 1 : 0;
}

}  // namespace

void AddRules(CLI::App* app, int* rc) {
  CLI::App* rules = app->add_subcommand("rules", "Check, test and export rule files.");
  rules->require_subcommand(1);
  auto check = std::make_shared<std::vector<std::string>>();
  AddCommand(rules, "check", "Parse and type-check rule files; every error as file:line:col; exit 1 on any.", rc,
             [check] { return RulesCheck(*check); })
      ->add_option("FILE", *check, "rule files")
      ->required();
  auto test = std::make_shared<std::vector<std::string>>();
  AddCommand(rules, "test", "Run rule unit tests (promtool's format) against synthetic series; exit 1 on a failure.",
             rc, [test] { return RulesTest(*test); })
      ->add_option("FILE", *test, "rule test files")
      ->required();
  auto f = std::make_shared<ExportFlags>();
  CLI::App* ex = AddCommand(rules, "export", "The same rules as Prometheus alerting rules over /metrics names.", rc,
                            [f] { return RulesExport(*f); });
  ex->add_option("FILE", f->args, "rule files, and test files (with tests:) for --tests-out");
  ex->add_option("--format", f->format, "the output format: prometheus")
      ->required()
      ->check(CLI::IsMember({"prometheus"}));
  ex->add_option("-o,--output", f->output, "write the rules here (default: stdout)");
  ex->add_option("--tests-out", f->tests_out, "translate the test files to promtool tests here (needs --output)");
  const CLI::Validator positive(
      [](std::string& v) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        return v.empty() || *end || !(x > 0) ? "expected a number > 0, got \"" + v + "\"" : "";
      },
      "");
  ex->add_option("--for-scale", f->for_scale, "multiply every for: by this (> 0)")
      ->check(positive)
      ->capture_default_str();
  ex->add_option("--engine", f->engine,
                 "whose /metrics names: vigil (vigild), or an engine Prometheus scrapes itself: vllm, sglang, tgi, "
                 "llamacpp, trtllm (trtllm-serve), triton (Triton's TensorRT-LLM backend)")
      ->check(CLI::IsMember({"vigil", "vllm", "sglang", "tgi", "llamacpp", "trtllm", "triton"}))
      ->capture_default_str();
  ex->add_option("--stall-window", f->stall_window,
                 "with --engine: EngineStalled fires when requests run and the engine's progress counters stay flat "
                 "this long")
      ->capture_default_str();
}

}  // namespace vigil::cli
