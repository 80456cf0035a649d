#include "monitor/signals.h"

#include <algorithm>
#include <optional>

namespace vigil::monitor {

SignalDeriver::SignalDeriver(DeriverConfig cfg)
    : cfg_(cfg), counters_(Catalogue().size()), increases_(Catalogue().size()), denominators_(Catalogue().size()) {}

void SignalDeriver::Window::Update(double now, double window_s, const QuantileSketch& cumulative) {
  if (!init) {
    init = true;
    last_cumulative = cumulative;
    // What happened before the first tick belongs to no window we can date.
    return;
  }
  QuantileSketch delta = cumulative.count() >= last_cumulative.count() ? cumulative.Since(last_cumulative) : cumulative;
  last_cumulative = cumulative;
  sum.Merge(delta);
  ticks.emplace_back(now, std::move(delta));
  while (!ticks.empty() && ticks.front().first <= now - window_s) {
    sum = sum.Since(ticks.front().second);
    ticks.pop_front();
  }
}

std::vector<std::pair<std::string, double>> SignalDeriver::Tick(double now, const engine::EngineStats& s) {
  // The state of the hosted-only figures moves every tick, whichever rows read it.
  const bool interval = have_prev_ && now > prev_t_;
  const double busy_total = busy_.Update(s.busy_seconds_total);
  double busy = s.busy_fraction;
  if (interval) busy = std::clamp((busy_total - prev_busy_) / (now - prev_t_), 0.0, 1.0);
  const double cpu_total = cpu_.Update(s.engine_thread_cpu_seconds_total);
  std::optional<double> cpu_util;
  if (interval) cpu_util = std::clamp((cpu_total - prev_cpu_) / (now - prev_t_), 0.0, 1.0);
  const int64_t in_flight = s.requests_running + s.requests_waiting;
  if (!have_progress_ || s.steps_total != last_steps_ || in_flight == 0) {
    have_progress_ = true;
    last_steps_ = s.steps_total;
    last_progress_t_ = now;
  }
  have_prev_ = true;
  prev_t_ = now;
  prev_busy_ = busy_total;
  prev_cpu_ = cpu_total;

  const std::vector<SignalInfo>& cat = Catalogue();
  const double w = cfg_.window_s;
  std::vector<std::pair<std::string, double>> out;
  out.reserve(cat.size());
  std::map<std::string, double> totals;                // counter signal -> reset-safe total, this tick
  std::map<std::string, const Window*> distributions;  // updated this tick
  auto total = [&totals](const char* name) -> std::optional<double> {
    auto it = totals.find(name);
    return it == totals.end() ? std::nullopt : std::optional<double>(it->second);
  };
  for (size_t i = 0; i < cat.size(); ++i) {
    const SignalInfo& row = cat[i];
    if (!FromHosted(row)) continue;
    std::optional<double> v;
    switch (row.how) {
      case Derivation::kGauge: v = row.hosted(s); break;
      case Derivation::kCounter:
        if (const std::optional<double> raw = row.hosted(s)) v = totals[row.name] = counters_[i].Update(*raw);
        break;
      case Derivation::kRate:
        if (const std::optional<double> t = total(row.of)) v = increases_[i].PerSecond(now, *t, w);
        break;
      case Derivation::kRatio: {
        const std::optional<double> a = total(row.of), b = total(row.per);
        if (!a || !b) break;
        const std::optional<double> da = increases_[i].Increase(now, *a, w);
        const std::optional<double> db = denominators_[i].Increase(now, *b, w);
        if (da && db && *db > 0) v = *da / *db;
        break;
      }
      case Derivation::kQuantile: {
        auto [it, first] = distributions.try_emplace(row.dist, nullptr);
        if (first) {
          Window& win = windows_[row.dist];
          win.Update(now, w, row.sketch(s));
          it->second = &win;
        }
        if (it->second->sum.count() > 0) v = it->second->sum.Quantile(row.q);
        break;
      }
      case Derivation::kSpecial:
        switch (row.special) {
          case Special::kBusyFraction: v = busy; break;
          case Special::kCpuUtilization: v = cpu_util; break;
          case Special::kUtilization:
            // On CUDA without NVML, wall time in steps is the best figure there
            // is; with NVML, a failed read leaves a gap rather than mixing two
            // measures.
            if (s.cuda_device < 0) v = cpu_util;
            else if (s.gpu.utilization) v = s.gpu.utilization;
            else if (!s.gpu_probed) v = busy;
            break;
          case Special::kStalled: v = now - last_progress_t_; break;
          case Special::kStallTimeout: v = cfg_.engine_stall_timeout_s; break;
          default: break;
        }
        break;
    }
    if (v) out.emplace_back(row.name, *v);
  }
  return out;
}

}  // namespace vigil::monitor
