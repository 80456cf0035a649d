// The rule expression language: Prometheus-flavoured expressions over the
// signal catalogue. A value is a number or *empty* (no data). Comparisons
// filter: `a > 1` is a's value when true and empty when false. Arithmetic on
// empty is empty, and so is division by zero, so a missing signal or a
// zero denominator makes a rule not match instead of firing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::rules {

using Value = std::optional<double>;

// What expressions read: the series store and the detectors' outputs.
class EvalContext {
 public:
  virtual ~EvalContext() = default;
  virtual double Now() const = 0;
  virtual Value Latest(const std::string& signal) const = 0;
  // Points (t, v) of the last `range_s` seconds, oldest first.
  virtual std::vector<std::pair<double, double>> Range(const std::string& signal, double range_s) const = 0;
  virtual Value DetectorOutput(const std::string& function, const std::vector<std::string>& signals) const = 0;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct Node {
  enum class Kind { kNumber, kSignal, kUnary, kBinary, kCall };
  Kind kind;
  int column = 0;  // 1-based position in the expression, for errors
  double number = 0;
  std::string name;    // signal, operator or function
  double range_s = 0;  // for s[d] arguments
  std::vector<NodePtr> args;
  std::string text;  // the source of this sub-expression, for evidence
};

class Expr {
 public:
  // Where a parse failed: the 1-based column and the message without it.
  struct ParseError {
    int col = 0;
    std::string message;
  };
  // Parses and checks names and arities. Errors: "col N: message", and in
  // `where` (optional) the two apart, for callers that place the column.
  static Status Parse(const std::string& text, std::unique_ptr<Expr>* out, ParseError* where = nullptr);

  Value Eval(const EvalContext& ctx) const;
  // Evaluates, recording each sub-expression's value (the evidence).
  Value Eval(const EvalContext& ctx, std::vector<std::pair<std::string, Value>>* evidence) const;
  const std::string& text() const { return text_; }
  // Signals the expression reads (for tooling and PromQL export).
  std::vector<std::string> Signals() const;
  const Node& root() const { return *root_; }

 private:
  std::string text_;
  NodePtr root_;
};

// The closest catalogue signal, for "did you mean" hints; empty if none is close.
std::string SuggestSignal(const std::string& name);

}  // namespace vigil::rules
