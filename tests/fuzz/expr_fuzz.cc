// Rule expressions (rules/expr.cc) on arbitrary text: parsed, then evaluated
// against a context where every signal has a short history.
#include "rules/expr.h"

namespace {

class Context : public vigil::rules::EvalContext {
 public:
  double Now() const override { return 1000; }
  vigil::rules::Value Latest(const std::string& s) const override {
    if (s.size() % 3 == 0) return std::nullopt;  // some signals have no data
    return static_cast<double>(s.size()) - 4;
  }
  std::vector<std::pair<double, double>> Range(const std::string& s, double range_s) const override {
    std::vector<std::pair<double, double>> out;
    for (int i = 0; i < 5; ++i)
      if (i < range_s) out.emplace_back(996 + i, static_cast<double>(i * static_cast<int>(s.size()) % 7) - 2);
    return out;
  }
  vigil::rules::Value DetectorOutput(const std::string& f, const std::vector<std::string>& sigs) const override {
    return static_cast<double>(sigs.size()) - 1;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<vigil::rules::Expr> e;
  if (!vigil::rules::Expr::Parse(std::string(reinterpret_cast<const char*>(data), size), &e).ok()) return 0;
  Context ctx;
  std::vector<std::pair<std::string, vigil::rules::Value>> evidence;
  (void)e->Eval(ctx, &evidence);
  (void)e->Signals();
  return 0;
}
