// Annotation templates, a small subset of Prometheus' (Go text/template):
// {{ $value }}, {{ $labels.name }}, {{ query "expr" }}, piped through
// humanize, humanizePercentage, humanizeDuration and printf "fmt".
// An error renders as "<error: ...>" and is reported, never thrown.
#pragma once

#include <map>
#include <string>

#include "common/status.h"
#include "rules/expr.h"

namespace vigil::rules {

struct TemplateData {
  Value value;
  const std::map<std::string, std::string>* labels = nullptr;
  const EvalContext* ctx = nullptr;
};

// Checks the template's syntax and functions without data.
Status CheckTemplate(const std::string& tmpl);
// Renders; `error` receives the first problem (empty when none).
std::string RenderTemplate(const std::string& tmpl, const TemplateData& data, std::string* error);

std::string Humanize(double v);
std::string HumanizePercentage(double ratio);
std::string HumanizeDuration(double seconds);

}  // namespace vigil::rules
