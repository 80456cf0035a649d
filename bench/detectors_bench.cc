// Per-observation cost of the per-signal detectors, in one run so the
// figures compare: the default (novelty), the z-score (live before it) and
// the robust z-score (vigilctl's old default), each over many independent
// series shaped like NAB's (seasonal, noisy, with level shifts and spikes),
// interleaved as the daemon does (one observation of every series per tick).
// Reports the median and p99 over batches of one tick, per observation, the
// state each detector keeps per series, and what 200 engines x 50 signals
// cost per tick.
//
//   detectors_bench [--series 1000] [--ticks 3000]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "bench/args.h"
#include "detectors/detectors.h"
#include "detectors/novelty.h"

using namespace vigil;
using Steady = std::chrono::steady_clock;

namespace {

using bench::Pct;

// A NAB-like series: level, daily-like season, noise, an occasional shift or spike.
std::vector<std::vector<double>> MakeSeries(size_t n, size_t ticks) {
  std::mt19937 rng(26);
  std::normal_distribution<double> noise(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::vector<double>> out(n, std::vector<double>(ticks));
  for (size_t s = 0; s < n; ++s) {
    const double level = std::pow(10.0, 6 * u(rng) - 2), amp = level * 0.3 * u(rng), sd = level * 0.05;
    const double period = 50 + 300 * u(rng);
    double shift = 0;
    for (size_t t = 0; t < ticks; ++t) {
      if (u(rng) < 0.001) shift += level * (u(rng) - 0.5);
      const double spike = u(rng) < 0.002 ? level * 2 : 0;
      out[s][t] = level + shift + amp * std::sin(6.283185 * static_cast<double>(t) / period) + sd * noise(rng) + spike;
    }
  }
  return out;
}

struct Figures {
  double p50_ns, p99_ns;
};

// `observe(series, value)` for every series at every tick; per-tick timing
// divided by the series count gives the per-observation figure.
template <typename F>
Figures Time(const std::vector<std::vector<double>>& data, F&& observe) {
  const size_t n = data.size(), ticks = data[0].size();
  std::vector<double> per_obs;
  per_obs.reserve(ticks);
  volatile double sink = 0;
  for (size_t t = 0; t < ticks; ++t) {
    const auto a = Steady::now();
    double acc = 0;
    for (size_t s = 0; s < n; ++s) acc += observe(s, data[s][t]);
    const auto b = Steady::now();
    sink = sink + acc;
    per_obs.push_back(std::chrono::duration<double, std::nano>(b - a).count() / static_cast<double>(n));
  }
  return {Pct(per_obs, 0.5), Pct(per_obs, 0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args;
  Status st = args.Parse(argc, argv, {"--series", "--ticks"}, {});
  int64_t series = 0, ticks = 0;
  if (st.ok()) st = args.GetInt("--series", 1000, &series);
  if (st.ok()) st = args.GetInt("--ticks", 3000, &ticks);
  if (!st.ok() || series < 1 || ticks < 400) {
    std::fprintf(stderr, "detectors_bench: %s (--series >= 1, --ticks >= 400)\n",
                 st.ok() ? "bad value" : st.message().c_str());
    return 2;
  }
  const auto data = MakeSeries(static_cast<size_t>(series), static_cast<size_t>(ticks));
  std::printf("%lld series x %lld ticks, interleaved (one observation of each series per tick)\n",
              static_cast<long long>(series), static_cast<long long>(ticks));

  std::vector<std::unique_ptr<detectors::NoveltyDetector>> nov;
  for (int64_t i = 0; i < series; ++i) nov.push_back(std::make_unique<detectors::NoveltyDetector>());
  size_t opened = 0;
  const Figures fn = Time(data, [&](size_t s, double x) {
    const detectors::NoveltyResult r = nov[s]->Observe(x);
    opened += r.opened;
    return r.likelihood;
  });

  detectors::ZScoreConfig zc;
  std::vector<std::unique_ptr<detectors::ZScoreDetector>> z;
  for (int64_t i = 0; i < series; ++i) z.push_back(std::make_unique<detectors::ZScoreDetector>(zc));
  const Figures fz = Time(data, [&](size_t s, double x) { return z[s]->Observe(x).value_or(0); });

  std::vector<std::unique_ptr<detectors::RobustZScoreDetector>> r;
  for (int64_t i = 0; i < series; ++i) r.push_back(std::make_unique<detectors::RobustZScoreDetector>(zc));
  const Figures fr = Time(data, [&](size_t s, double x) { return r[s]->Observe(x).value_or(0); });

  // The z-score's state: its ring of `window` doubles and the object.
  const size_t z_bytes = sizeof(detectors::ZScoreDetector) + zc.window * sizeof(double);
  std::printf("%-22s %10s %10s %14s\n", "detector", "p50 ns/obs", "p99 ns/obs", "state B/series");
  std::printf("%-22s %10.0f %10.0f %14zu\n", "novelty (default)", fn.p50_ns, fn.p99_ns, nov[0]->StateBytes());
  std::printf("%-22s %10.0f %10.0f %14zu\n", "zscore", fz.p50_ns, fz.p99_ns, z_bytes);
  std::printf("%-22s %10.0f %10.0f %14s\n", "robust (offline only)", fr.p50_ns, fr.p99_ns, "~2,500");
  std::printf("novelty episodes opened: %zu (%.2f per 1,000 observations)\n", opened,
              1000.0 * static_cast<double>(opened) / static_cast<double>(series * ticks));
  // 200 watched engines x 50 signals: one tick of every detector (z-score
  // for rules plus novelty for events).
  const double tick_ms = 200 * 50 * (fn.p50_ns + fz.p50_ns) / 1e6;
  std::printf("200 engines x 50 signals: %.2f ms of detector time per tick (p50), state %.0f MiB\n", tick_ms,
              200.0 * 50 * static_cast<double>(nov[0]->StateBytes() + z_bytes) / (1 << 20));
  return 0;
}
