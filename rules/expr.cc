#include "rules/expr.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "common/units.h"
#include "monitor/signals.h"

namespace vigil::rules {

namespace {

enum class Arg { kScalar, kRange, kSignal };
struct FunctionSpec {
  std::vector<Arg> args;
  bool detector;
};
const std::map<std::string, FunctionSpec>& Functions() {
  static const std::map<std::string, FunctionSpec> f = {
      {"rate", {{Arg::kRange}, false}},
      {"increase", {{Arg::kRange}, false}},
      {"delta", {{Arg::kRange}, false}},
      {"deriv", {{Arg::kRange}, false}},
      {"avg_over_time", {{Arg::kRange}, false}},
      {"min_over_time", {{Arg::kRange}, false}},
      {"max_over_time", {{Arg::kRange}, false}},
      {"stddev_over_time", {{Arg::kRange}, false}},
      {"quantile_over_time", {{Arg::kScalar, Arg::kRange}, false}},
      {"predict_linear", {{Arg::kRange, Arg::kScalar}, false}},
      {"zscore", {{Arg::kSignal}, true}},
      {"corr", {{Arg::kSignal, Arg::kSignal}, true}},
      {"trend_slope", {{Arg::kSignal}, true}},
      {"trend_r2", {{Arg::kSignal}, true}},
      {"time_to_exhaustion", {{Arg::kSignal}, true}},
  };
  return f;
}

size_t Levenshtein(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

struct Token {
  enum Type { kNum, kIdent, kOp, kDuration, kEnd } type;
  std::string text;
  double num = 0;
  size_t pos = 0;
};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  const Expr::ParseError& error() const { return error_; }

  Status Run(NodePtr* out) {
    VIGIL_RETURN_IF_ERROR(Lex());
    NodePtr n;
    VIGIL_RETURN_IF_ERROR(ParseOr(&n));
    if (Peek().type != Token::kEnd) return Err(Peek().pos, "unexpected \"" + Peek().text + "\"");
    *out = std::move(n);
    return Status::OK();
  }

 private:
  Status Err(size_t pos, const std::string& msg) {
    if (error_.message.empty()) error_ = {static_cast<int>(pos + 1), msg};
    return Status::InvalidArgument("col " + std::to_string(pos + 1) + ": " + msg);
  }

  Status Lex() {
    size_t i = 0;
    while (i < s_.size()) {
      const char c = s_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      Token t;
      t.pos = i;
      if (std::isdigit(static_cast<unsigned char>(c)) ||
          (c == '.' && i + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i + 1])))) {
        size_t j = i;
        while (j < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[j])) || s_[j] == '.' ||
                                 ((s_[j] == '+' || s_[j] == '-') && (s_[j - 1] == 'e' || s_[j - 1] == 'E'))))
          ++j;
        t.text = s_.substr(i, j - i);
        char* end = nullptr;
        t.num = std::strtod(t.text.c_str(), &end);
        if (*end != '\0' || !std::isfinite(t.num)) return Err(i, "\"" + t.text + "\" is not a number");
        t.type = Token::kNum;
        i = j;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t j = i;
        while (j < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[j])) || s_[j] == '_')) ++j;
        t.text = s_.substr(i, j - i);
        t.type = Token::kIdent;
        i = j;
      } else if (c == '[') {
        size_t j = s_.find(']', i);
        if (j == std::string::npos) return Err(i, "unclosed \"[\"");
        t.text = s_.substr(i + 1, j - i - 1);
        double d;
        Status st = ParseDuration(t.text, &d);
        if (!st.ok()) return Err(i + 1, "bad duration: " + st.message());
        if (d <= 0) return Err(i + 1, "a range must be positive");
        t.num = d;
        t.type = Token::kDuration;
        i = j + 1;
      } else {
        static const char* two[] = {">=", "<=", "==", "!="};
        t.type = Token::kOp;
        bool matched = false;
        for (const char* op : two) {
          if (s_.compare(i, 2, op) == 0) {
            t.text = op;
            i += 2;
            matched = true;
            break;
          }
        }
        if (!matched) {
          if (std::string("+-*/<>(),").find(c) == std::string::npos)
            return Err(i, std::string("unexpected character \"") + c + "\"");
          t.text = std::string(1, c);
          ++i;
        }
      }
      toks_.push_back(t);
    }
    toks_.push_back({Token::kEnd, "end of expression", 0, s_.size()});
    return Status::OK();
  }

  const Token& Peek() const { return toks_[p_]; }
  bool IsOp(const char* op) const { return Peek().type == Token::kOp && Peek().text == op; }
  bool IsWord(const char* w) const { return Peek().type == Token::kIdent && Peek().text == w; }

  NodePtr Make(Node::Kind k, size_t pos) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->column = static_cast<int>(pos) + 1;
    return n;
  }
  void Finish(Node* n, size_t start) {
    const size_t end = p_ > 0
                           ? toks_[p_ - 1].pos + (toks_[p_ - 1].type == Token::kDuration ? toks_[p_ - 1].text.size() + 2
                                                                                         : toks_[p_ - 1].text.size())
                           : start;
    n->text = s_.substr(start, end - start);
  }

  using Sub = Status (Parser::*)(NodePtr*);
  Status Binary(NodePtr* out, Sub next, std::vector<const char*> ops, bool words) {
    const size_t start = Peek().pos;
    NodePtr left;
    VIGIL_RETURN_IF_ERROR((this->*next)(&left));
    while (true) {
      const char* hit = nullptr;
      for (const char* op : ops)
        if (words ? IsWord(op) : IsOp(op)) hit = op;
      if (!hit) break;
      const size_t pos = Peek().pos;
      ++p_;
      NodePtr right;
      VIGIL_RETURN_IF_ERROR((this->*next)(&right));
      NodePtr n = Make(Node::Kind::kBinary, pos);
      n->name = hit;
      n->args.push_back(std::move(left));
      n->args.push_back(std::move(right));
      Finish(n.get(), start);
      left = std::move(n);
    }
    *out = std::move(left);
    return Status::OK();
  }
  // Parentheses, function arguments, `not` and unary minus nest by
  // recursion; bounded so a hostile rule file gets an error, not a stack
  // overflow (2,000 parentheses overflowed it).
  static constexpr int kMaxDepth = 128;
  struct Nest {
    int* depth = nullptr;
    ~Nest() {
      if (depth) --*depth;
    }
  };
  Status Enter(Nest* n) {
    n->depth = &depth_;
    if (++depth_ > kMaxDepth)
      return Err(Peek().pos, "expression nests deeper than " + std::to_string(kMaxDepth) + " levels");
    return Status::OK();
  }
  Status ParseOr(NodePtr* out) {
    Nest n;
    VIGIL_RETURN_IF_ERROR(Enter(&n));
    return Binary(out, &Parser::ParseAnd, {"or"}, true);
  }
  Status ParseAnd(NodePtr* out) { return Binary(out, &Parser::ParseNot, {"and", "unless"}, true); }
  Status ParseNot(NodePtr* out) {
    if (!IsWord("not")) return ParseCmp(out);
    Nest nest;
    VIGIL_RETURN_IF_ERROR(Enter(&nest));
    const size_t pos = Peek().pos;
    ++p_;
    NodePtr inner;
    VIGIL_RETURN_IF_ERROR(ParseNot(&inner));
    NodePtr n = Make(Node::Kind::kUnary, pos);
    n->name = "not";
    n->args.push_back(std::move(inner));
    Finish(n.get(), pos);
    *out = std::move(n);
    return Status::OK();
  }
  Status ParseCmp(NodePtr* out) { return Binary(out, &Parser::ParseAdd, {">", "<", ">=", "<=", "==", "!="}, false); }
  Status ParseAdd(NodePtr* out) { return Binary(out, &Parser::ParseMul, {"+", "-"}, false); }
  Status ParseMul(NodePtr* out) { return Binary(out, &Parser::ParseUnary, {"*", "/"}, false); }
  Status ParseUnary(NodePtr* out) {
    if (IsOp("-")) {
      Nest nest;
      VIGIL_RETURN_IF_ERROR(Enter(&nest));
      const size_t pos = Peek().pos;
      ++p_;
      NodePtr inner;
      VIGIL_RETURN_IF_ERROR(ParseUnary(&inner));
      NodePtr n = Make(Node::Kind::kUnary, pos);
      n->name = "-";
      n->args.push_back(std::move(inner));
      Finish(n.get(), pos);
      *out = std::move(n);
      return Status::OK();
    }
    return ParsePrimary(out);
  }
  Status SignalName(const Token& t) {
    if (monitor::FindSignal(t.text)) return Status::OK();
    const std::string hint = SuggestSignal(t.text);
    return Err(t.pos, "unknown signal \"" + t.text + "\"" + (hint.empty() ? "" : "; did you mean \"" + hint + "\"?"));
  }
  Status ParsePrimary(NodePtr* out) {
    const Token t = Peek();
    if (t.type == Token::kNum) {
      ++p_;
      NodePtr n = Make(Node::Kind::kNumber, t.pos);
      n->number = t.num;
      Finish(n.get(), t.pos);
      *out = std::move(n);
      return Status::OK();
    }
    if (IsOp("(")) {
      ++p_;
      VIGIL_RETURN_IF_ERROR(ParseOr(out));
      if (!IsOp(")")) return Err(Peek().pos, "expected \")\", got \"" + Peek().text + "\"");
      ++p_;
      return Status::OK();
    }
    if (t.type != Token::kIdent || t.text == "and" || t.text == "or" || t.text == "unless")
      return Err(t.pos, "expected a number, signal or function, got \"" + t.text + "\"");
    ++p_;
    if (!IsOp("(")) {
      if (Peek().type == Token::kDuration)
        return Err(Peek().pos, "a range like " + t.text + "[5m] is only valid inside a function such as rate()");
      VIGIL_RETURN_IF_ERROR(SignalName(t));
      NodePtr n = Make(Node::Kind::kSignal, t.pos);
      n->name = t.text;
      Finish(n.get(), t.pos);
      *out = std::move(n);
      return Status::OK();
    }
    auto fit = Functions().find(t.text);
    if (fit == Functions().end()) return Err(t.pos, "unknown function \"" + t.text + "\"");
    ++p_;  // (
    NodePtr call = Make(Node::Kind::kCall, t.pos);
    call->name = t.text;
    const auto& spec = fit->second.args;
    for (size_t i = 0; i < spec.size(); ++i) {
      if (i > 0) {
        if (!IsOp(",")) return Err(Peek().pos, t.text + "() takes " + std::to_string(spec.size()) + " arguments");
        ++p_;
      }
      if (spec[i] == Arg::kScalar) {
        NodePtr a;
        VIGIL_RETURN_IF_ERROR(ParseOr(&a));
        call->args.push_back(std::move(a));
        continue;
      }
      const Token s = Peek();
      if (s.type != Token::kIdent)
        return Err(s.pos, t.text + "() argument " + std::to_string(i + 1) + " must be a signal");
      VIGIL_RETURN_IF_ERROR(SignalName(s));
      ++p_;
      NodePtr a = Make(Node::Kind::kSignal, s.pos);
      a->name = s.text;
      if (spec[i] == Arg::kRange) {
        if (Peek().type != Token::kDuration)
          return Err(Peek().pos, t.text + "() needs a range: " + t.text + "(" + s.text + "[5m])");
        a->range_s = Peek().num;
        ++p_;
      } else if (Peek().type == Token::kDuration) {
        return Err(Peek().pos, t.text + "() takes a signal, not a range");
      }
      Finish(a.get(), s.pos);
      call->args.push_back(std::move(a));
    }
    if (!IsOp(")")) {
      if (IsOp(",")) return Err(Peek().pos, t.text + "() takes " + std::to_string(spec.size()) + " argument(s)");
      return Err(Peek().pos, "expected \")\" after " + t.text + "() arguments");
    }
    ++p_;
    Finish(call.get(), t.pos);
    *out = std::move(call);
    return Status::OK();
  }

  const std::string& s_;
  Expr::ParseError error_;  // the first error, for callers that place its column
  std::vector<Token> toks_;
  size_t p_ = 0;
  int depth_ = 0;
};

Value RangeFunction(const std::string& f, const std::vector<std::pair<double, double>>& pts, double range_s, double now,
                    Value scalar) {
  const size_t n = pts.size();
  if (n == 0) return std::nullopt;
  auto fit = [&](double* slope, double* intercept) {
    double mt = 0, mv = 0;
    for (const auto& p : pts) {
      mt += p.first - now;
      mv += p.second;
    }
    mt /= n;
    mv /= n;
    double stt = 0, stv = 0;
    for (const auto& p : pts) {
      stt += (p.first - now - mt) * (p.first - now - mt);
      stv += (p.first - now - mt) * (p.second - mv);
    }
    if (stt <= 0) return false;
    *slope = stv / stt;
    *intercept = mv - *slope * mt;  // value at t = now
    return true;
  };
  if (f == "rate" || f == "increase" || f == "delta") {
    if (n < 2) return std::nullopt;
    const double d = pts.back().second - pts.front().second;
    const double span = pts.back().first - pts.front().first;
    if (span <= 0) return std::nullopt;
    if (f == "rate") return d / span;
    return d * (range_s / span > 1.0 ? std::min(range_s / span, 1.1) : 1.0);  // at most 10% extrapolation
  }
  if (f == "deriv" || f == "predict_linear") {
    double slope, intercept;
    if (n < 2 || !fit(&slope, &intercept)) return std::nullopt;
    if (f == "deriv") return slope;
    return intercept + slope * scalar.value_or(0);
  }
  double sum = 0, mn = pts[0].second, mx = pts[0].second;
  for (const auto& p : pts) {
    sum += p.second;
    mn = std::min(mn, p.second);
    mx = std::max(mx, p.second);
  }
  if (f == "avg_over_time") return sum / n;
  if (f == "min_over_time") return mn;
  if (f == "max_over_time") return mx;
  if (f == "stddev_over_time") {
    const double m = sum / n;
    double v = 0;
    for (const auto& p : pts) v += (p.second - m) * (p.second - m);
    return std::sqrt(v / n);
  }
  if (f == "quantile_over_time") {
    if (!scalar) return std::nullopt;
    std::vector<double> v;
    for (const auto& p : pts) v.push_back(p.second);
    std::sort(v.begin(), v.end());
    const double q = *scalar;
    if (q < 0) return -INFINITY;
    if (q > 1) return INFINITY;
    const double rank = q * (n - 1);
    const size_t lo = static_cast<size_t>(std::floor(rank)), hi = std::min(n - 1, lo + 1);
    return v[lo] + (v[hi] - v[lo]) * (rank - lo);
  }
  return std::nullopt;
}

Value Evaluate(const Node& n, const EvalContext& ctx, std::vector<std::pair<std::string, Value>>* ev) {
  Value out;
  switch (n.kind) {
    case Node::Kind::kNumber: return n.number;  // numbers are not evidence
    case Node::Kind::kSignal: out = ctx.Latest(n.name); break;
    case Node::Kind::kUnary: {
      Value a = Evaluate(*n.args[0], ctx, ev);
      if (n.name == "-") out = a ? Value(-*a) : std::nullopt;
      else out = a ? std::nullopt : Value(1.0);  // not
      break;
    }
    case Node::Kind::kBinary: {
      Value a = Evaluate(*n.args[0], ctx, ev);
      const std::string& op = n.name;
      if (op == "or") {
        out = a ? a : Evaluate(*n.args[1], ctx, ev);
        break;
      }
      Value b = Evaluate(*n.args[1], ctx, ev);
      if (op == "and") out = (a && b) ? a : std::nullopt;
      else if (op == "unless") out = (a && !b) ? a : std::nullopt;
      else if (!a || !b) out = std::nullopt;
      else if (op == "+") out = *a + *b;
      else if (op == "-") out = *a - *b;
      else if (op == "*") out = *a * *b;
      else if (op == "/") out = *b == 0 ? std::nullopt : Value(*a / *b);
      else {
        bool r = false;
        if (op == ">") r = *a > *b;
        else if (op == "<") r = *a < *b;
        else if (op == ">=") r = *a >= *b;
        else if (op == "<=") r = *a <= *b;
        else if (op == "==") r = *a == *b;
        else if (op == "!=") r = *a != *b;
        out = r ? a : std::nullopt;
      }
      if (out && !std::isfinite(*out)) out = std::nullopt;
      break;
    }
    case Node::Kind::kCall: {
      const FunctionSpec& spec = Functions().at(n.name);
      if (spec.detector) {
        std::vector<std::string> sigs;
        for (const auto& a : n.args) sigs.push_back(a->name);
        out = ctx.DetectorOutput(n.name, sigs);
        break;
      }
      const Node* range = nullptr;
      Value scalar;
      for (const auto& a : n.args) {
        if (a->range_s > 0) range = a.get();
        else scalar = Evaluate(*a, ctx, ev);
      }
      out = RangeFunction(n.name, ctx.Range(range->name, range->range_s), range->range_s, ctx.Now(), scalar);
      break;
    }
  }
  if (ev) ev->emplace_back(n.text, out);
  return out;
}

void CollectSignals(const Node& n, std::vector<std::string>* out) {
  if (n.kind == Node::Kind::kSignal && std::find(out->begin(), out->end(), n.name) == out->end())
    out->push_back(n.name);
  for (const auto& a : n.args) CollectSignals(*a, out);
}

}  // namespace

std::string SuggestSignal(const std::string& name) {
  std::string best;
  size_t best_d = 4;
  for (const auto& s : monitor::Catalogue()) {
    const size_t d = Levenshtein(name, s.name);
    if (d < best_d) {
      best_d = d;
      best = s.name;
    }
  }
  return best;
}

Status Expr::Parse(const std::string& text, std::unique_ptr<Expr>* out, ParseError* where) {
  // Every sub-expression keeps its own text (for evidence), so memory grows
  // with length squared: a 400 KB `1+1+...` took gigabytes. Real rules are
  // a few hundred bytes.
  constexpr size_t kMaxBytes = 4096;
  if (text.size() > kMaxBytes) {
    const std::string msg =
        "expression is " + std::to_string(text.size()) + " bytes, more than " + std::to_string(kMaxBytes);
    if (where) *where = {1, msg};
    return Status::InvalidArgument(msg);
  }
  auto e = std::make_unique<Expr>();
  e->text_ = text;
  Parser p(e->text_);
  Status st = p.Run(&e->root_);
  if (!st.ok()) {
    if (where) *where = p.error();
    return st;
  }
  *out = std::move(e);
  return Status::OK();
}

Value Expr::Eval(const EvalContext& ctx) const { return Evaluate(*root_, ctx, nullptr); }

Value Expr::Eval(const EvalContext& ctx, std::vector<std::pair<std::string, Value>>* evidence) const {
  return Evaluate(*root_, ctx, evidence);
}

std::vector<std::string> Expr::Signals() const {
  std::vector<std::string> out;
  CollectSignals(*root_, &out);
  return out;
}

}  // namespace vigil::rules
