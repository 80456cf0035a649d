// Monitor costs, each in one run so the figures compare:
//  1. a full tick (derive the catalogue from EngineStats, append, all default
//     detectors), p50/p99;
//  2. the scaling curve: z-score ticks over 100, 1,000 and 10,000 synthetic
//     signals (must grow linearly; 10,000 under 10 ms);
//  3. per-observation z-score cost against the reference (mean and std over
//     the whole window on every observation).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "bench/args.h"
#include "detectors/detectors.h"
#include "monitor/signals.h"

using namespace vigil;
using Steady = std::chrono::steady_clock;

namespace {

using bench::Pct;

engine::EngineStats SyntheticStats(int t, std::mt19937& rng) {
  engine::EngineStats s;
  std::uniform_real_distribution<double> u(0, 1);
  s.requests_running = 20 + rng() % 10;
  s.requests_waiting = rng() % 5;
  s.kv_blocks_total = 4096;
  s.kv_blocks_used = 1000 + rng() % 500;
  s.kv_cache_usage = double(s.kv_blocks_used) / 4096;
  s.busy_seconds_total = 0.6 * t;
  s.memory_used_bytes = int64_t(5e8) + t * 1000;
  s.generation_tokens_total = 300 * t;
  s.prompt_tokens_total = 2000 * t;
  s.prefix_cache_queries_total = 2000 * t;
  s.prefix_cache_hits_total = 500 * t;
  s.requests_finished_by_reason[int(engine::FinishReason::kStop)] = 5 * t;
  s.max_num_seqs = 64;
  s.block_size = 16;
  return s;
}

}  // namespace

int main() {
  std::mt19937 rng(1);
  // 1. Full tick over the catalogue, 3,600 ticks (an hour at 1 s) with load:
  // each tick's stats carry ~50 new latencies per sketch.
  {
    monitor::SeriesStore store(3600);
    monitor::SignalDeriver deriver({60, 300});
    detectors::DetectorSet dets(detectors::DetectorsConfig{}, &store);
    engine::EngineStats s;
    std::lognormal_distribution<double> lat(-2, 0.7);
    std::vector<double> us;
    for (int t = 0; t < 3600; ++t) {
      engine::EngineStats next = SyntheticStats(t, rng);
      for (int i = 0; i < 50; ++i) {
        s.ttft_sketch.Add(lat(rng));
        s.inter_token_sketch.Add(lat(rng) / 10);
        s.e2e_sketch.Add(lat(rng) * 10);
        s.queue_sketch.Add(lat(rng) / 5);
        s.prefill_sketch.Add(lat(rng) / 3);
        s.batch_size_sketch.Add(1 + rng() % 32);
      }
      next.ttft_sketch = s.ttft_sketch;
      next.inter_token_sketch = s.inter_token_sketch;
      next.e2e_sketch = s.e2e_sketch;
      next.queue_sketch = s.queue_sketch;
      next.prefill_sketch = s.prefill_sketch;
      next.batch_size_sketch = s.batch_size_sketch;
      const auto t0 = Steady::now();
      auto values = deriver.Tick(1.7e9 + t, next);
      store.AppendTick(1.7e9 + t, values);
      dets.Observe(1.7e9 + t, values);
      us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
    }
    std::printf(
        "full tick (%zu signals, default detectors): p50 %.1f us, p99 %.1f us; series memory %.1f MiB for 1 h\n",
        monitor::Catalogue().size(), Pct(us, 0.5), Pct(us, 0.99), store.MemoryBytes() / 1048576.0);
  }
  // 2. Scaling: N synthetic signals, z-score on all, plus the store append.
  std::printf("%10s %14s %14s %16s\n", "signals", "tick p50", "tick p99", "per signal p50");
  double base = 0;
  for (int n : {100, 1000, 10000}) {
    monitor::SeriesStore store(600);
    detectors::DetectorsConfig cfg;
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) names.push_back("sig_" + std::to_string(i));
    cfg.method = "zscore";  // this curve is the z-score's (detectors_bench has the novelty default's cost)
    cfg.zscore_signals = names;
    cfg.pairs.clear();
    cfg.trend.signals.clear();
    detectors::DetectorSet dets(cfg, &store);
    std::normal_distribution<double> noise(0, 1);
    std::vector<double> us;
    std::vector<std::pair<std::string, double>> values(n);
    for (int t = 0; t < 300; ++t) {
      for (int i = 0; i < n; ++i) values[i] = {names[i], noise(rng)};
      const auto t0 = Steady::now();
      store.AppendTick(t, values);
      dets.Observe(t, values);
      us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
    }
    const double p50 = Pct(us, 0.5);
    if (base == 0) base = p50 / n;
    std::printf("%10d %11.3f ms %11.3f ms %13.3f us (%.2fx of n=100)\n", n, p50 / 1e3, Pct(us, 0.99) / 1e3, p50 / n,
                (p50 / n) / base);
  }
  // 3. Per-observation z-score vs the reference, window 100.
  {
    const int n = 200000;
    std::normal_distribution<double> noise(0, 1);
    std::vector<double> xs(n);
    for (double& x : xs) x = noise(rng);
    detectors::ZScoreDetector det({100, 20, 3.0, detectors::Direction::kBoth});
    double sink = 0;
    auto t0 = Steady::now();
    for (double x : xs) sink += det.Observe(x).value_or(0);
    const double fast = std::chrono::duration<double, std::nano>(Steady::now() - t0).count() / n;
    std::deque<double> w;
    t0 = Steady::now();
    for (double x : xs) {
      if (w.size() >= 20) {
        double m = 0, v = 0;
        for (double y : w) m += y;
        m /= w.size();
        for (double y : w) v += (y - m) * (y - m);
        const double sd = std::sqrt(v / w.size());
        if (sd > 0) sink -= (x - m) / sd;
      }
      w.push_back(x);
      if (w.size() > 100) w.pop_front();
    }
    const double ref = std::chrono::duration<double, std::nano>(Steady::now() - t0).count() / n;
    std::printf("z-score per observation: %.1f ns vs reference %.1f ns: %.1fx faster (checksum %.3g)\n", fast, ref,
                ref / fast, sink);
  }
  return 0;
}
