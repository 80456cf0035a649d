// Rule evaluation cost and parser robustness, in one run:
//  1. the default pack per tick over a realistic series store (p50/p99);
//  2. 1,000 rules over 1,000 signals vs 100 over 100 (linear scaling);
//  3. fuzzing: random and mutated expressions and rule YAML (default 100,000
//     cases each): no crash, no hang, every rejection a message.
//   rules_bench [--fuzz N] [--pack DIR]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/args.h"
#include "detectors/detectors.h"
#include "monitor/signals.h"
#include "rules/rules.h"
#include "rules/series_context.h"

using namespace vigil;
using Steady = std::chrono::steady_clock;

namespace {

using bench::Pct;

}  // namespace

int main(int argc, char** argv) {
  bench::Args a;
  if (!a.Parse(argc - 1, argv + 1, {"fuzz", "pack"}, {}).ok()) return 2;
  int64_t fuzz = 100000;
  (void)a.GetInt("fuzz", 100000, &fuzz);
  const std::string pack = a.Get("pack", "etc/rules");
  std::mt19937 rng(11);

  // 1. The default pack over an hour of signals.
  {
    std::vector<rules::RuleGroup> groups;
    Status st = rules::LoadRules({pack + "/*.yaml"}, &groups);
    if (!st.ok()) {
      std::fprintf(stderr, "rules_bench: %s\n", st.message().c_str());
      return 2;
    }
    rules::RuleEngine eng;
    eng.Swap(std::move(groups));
    monitor::SeriesStore store(3600);
    detectors::DetectorSet det(detectors::DetectorsConfig{}, &store);
    std::normal_distribution<double> n(0, 1);
    std::vector<double> us;
    for (int t = 0; t < 3600; ++t) {
      std::vector<std::pair<std::string, double>> vals;
      for (const auto& s : monitor::Catalogue()) vals.emplace_back(s.name, 0.5 + 0.1 * n(rng));
      store.AppendTick(t, vals);
      det.Observe(t, vals);
      rules::SeriesEvalContext ctx(&store, &det, t);
      const auto t0 = Steady::now();
      eng.Evaluate(t, ctx);
      us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
    }
    std::printf("default pack (%zu rules) per tick: p50 %.1f us, p99 %.1f us\n", eng.size(), Pct(us, 0.5),
                Pct(us, 0.99));
  }
  // 2. Scaling: N rules over N signals (catalogue names reused round-robin in expressions).
  {
    const auto& cat = monitor::Catalogue();
    double base = 0;
    for (int n : {100, 1000}) {
      monitor::SeriesStore store(120);
      std::vector<rules::RuleGroup> groups(1);
      groups[0].name = "scale";
      for (int i = 0; i < n; ++i) {
        rules::Rule r;
        r.group = "scale";
        r.name = "R" + std::to_string(i);
        std::unique_ptr<rules::Expr> e;
        const std::string a1 = cat[i % cat.size()].name, b1 = cat[(i * 7 + 3) % cat.size()].name;
        (void)rules::Expr::Parse(a1 + " > 0.9 and avg_over_time(" + b1 + "[1m]) < 0.1 or " + a1 + " / " + b1 + " > 10",
                                 &e);
        r.expr = std::move(e);
        groups[0].rules.push_back(std::move(r));
      }
      rules::RuleEngine eng;
      eng.Swap(std::move(groups));
      std::normal_distribution<double> nd(0.5, 0.1);
      std::vector<double> us;
      for (int t = 0; t < 200; ++t) {
        std::vector<std::pair<std::string, double>> vals;
        for (int i = 0; i < n; ++i) vals.emplace_back(cat[i % cat.size()].name, nd(rng));
        store.AppendTick(t, vals);
        rules::SeriesEvalContext ctx(&store, nullptr, t);
        const auto t0 = Steady::now();
        eng.Evaluate(t, ctx);
        us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
      }
      const double p50 = Pct(us, 0.5);
      if (base == 0) base = p50 / n;
      std::printf("%5d rules: p50 %.3f ms, p99 %.3f ms, %.2f us/rule (%.2fx of 100)\n", n, p50 / 1e3,
                  Pct(us, 0.99) / 1e3, p50 / n, (p50 / n) / base);
    }
  }
  // 3. Fuzz the expression parser and the rule-file loader.
  {
    const std::vector<std::string> atoms = {"kv_cache_usage",
                                            "ttft_p95",
                                            "0.5",
                                            "1e3",
                                            "(",
                                            ")",
                                            "and",
                                            "or",
                                            "unless",
                                            "not",
                                            ">",
                                            "<",
                                            "==",
                                            "+",
                                            "-",
                                            "*",
                                            "/",
                                            "rate(",
                                            "[5m]",
                                            ",",
                                            "corr(",
                                            "quantile_over_time(",
                                            "predict_linear(",
                                            "x",
                                            "$",
                                            "\"",
                                            "]",
                                            "[",
                                            "1e999",
                                            "nan",
                                            "ttft_p96"};
    int accepted = 0, rejected = 0;
    const auto t0 = Steady::now();
    double worst_us = 0;
    for (int64_t i = 0; i < fuzz; ++i) {
      std::string s;
      const int len = 1 + rng() % 12;
      for (int k = 0; k < len; ++k) {
        if (rng() % 5 == 0) s += static_cast<char>(rng() % 256);  // raw bytes too
        else s += atoms[rng() % atoms.size()] + (rng() % 2 ? " " : "");
      }
      const auto c0 = Steady::now();
      std::unique_ptr<rules::Expr> e;
      Status st = rules::Expr::Parse(s, &e);
      if (st.ok()) {
        ++accepted;
        monitor::SeriesStore store(4);
        rules::SeriesEvalContext ctx(&store, nullptr, 0);
        e->Eval(ctx);
      } else {
        ++rejected;
        if (st.message().empty()) std::printf("empty rejection message for %s\n", s.c_str());
      }
      worst_us = std::max(worst_us, std::chrono::duration<double, std::micro>(Steady::now() - c0).count());
    }
    std::printf("expression fuzz: %ld cases, %d parsed, %d rejected with a message; slowest %.0f us, total %.1f s\n",
                static_cast<long>(fuzz), accepted, rejected, worst_us,
                std::chrono::duration<double>(Steady::now() - t0).count());
    const std::string base =
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: kv_cache_usage > 0.9\n"
        "        for: 30s\n        labels: {severity: critical}\n"
        "        annotations: {d: \"{{ $value | humanizePercentage }}\"}\n";
    int ok = 0, bad = 0;
    for (int64_t i = 0; i < fuzz; ++i) {
      std::string y = base;
      const int edits = 1 + rng() % 4;
      for (int k = 0; k < edits; ++k) {
        const size_t pos = rng() % y.size();
        switch (rng() % 3) {
          case 0: y[pos] = static_cast<char>(rng() % 128); break;
          case 1: y.erase(pos, 1 + rng() % 5); break;
          default: y.insert(pos, std::string(1, "{}[]:-\"'|&*!%@ \n"[rng() % 16])); break;
        }
        if (y.empty()) y = " ";
      }
      std::vector<rules::RuleGroup> g;
      Status st = rules::ParseRules(y, "fuzz.yaml", &g);
      st.ok() ? ++ok : ++bad;
      if (!st.ok() && st.message().find("fuzz.yaml") == std::string::npos)
        std::printf("rejection without the file name: %s\n", st.message().c_str());
    }
    std::printf("rule-file fuzz: %ld mutated files, %d accepted, %d rejected naming the file\n",
                static_cast<long>(fuzz), ok, bad);
  }
  return 0;
}
