// Rule files (rules/rules.cc: groups, expressions, templates, inhibit_rules)
// on arbitrary YAML. One entry point per input (chosen by its length), not
// both, so an execution parses the YAML once.
#include "rules/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<vigil::rules::RuleGroup> groups;
  std::vector<vigil::rules::InhibitRule> inhibits;
  if (size % 4 != 0) (void)vigil::rules::ParseRules(text, "fuzz.yaml", &groups, &inhibits);
  else (void)vigil::rules::ParseInhibitRulesOnly(text, "fuzz.yaml", &inhibits);
  return 0;
}
