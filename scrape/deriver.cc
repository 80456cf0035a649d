#include "scrape/deriver.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "monitor/signal_table.h"

namespace vigil::scrape {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const double* Find(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

double HistogramQuantile(double q, const std::vector<double>& le, const std::vector<double>& cumulative) {
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -HUGE_VAL;
  if (q > 1) return HUGE_VAL;
  if (le.empty() || le.size() != cumulative.size()) return kNaN;
  std::vector<std::pair<double, double>> b;  // (upper bound, count)
  for (size_t i = 0; i < le.size(); ++i) b.emplace_back(le[i], cumulative[i]);
  std::stable_sort(b.begin(), b.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  if (!std::isinf(b.back().first) || b.back().first < 0) return kNaN;
  // Buckets with the same bound are one bucket.
  size_t n = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (n > 0 && b[i].first == b[n - 1].first) b[n - 1].second += b[i].second;
    else b[n++] = b[i];
  }
  b.resize(n);
  // Prometheus' clean-up, in its order: counts within 1e-12 (relative) of
  // the previous one are float noise; then any decrease is raised.
  for (size_t i = 1, prev = 0; i < n; ++i) {
    const double delta = std::fabs(b[i].second - b[prev].second);
    if (delta == 0) continue;
    if (delta / b[i].second <= 1e-12) b[i].second = b[prev].second;
    else prev = i;
  }
  for (size_t i = 1; i < n; ++i) b[i].second = std::max(b[i].second, b[i - 1].second);
  if (n < 2) return kNaN;
  const double observations = b[n - 1].second;
  if (observations == 0) return kNaN;
  double rank = q * observations;
  size_t k = 0;  // the first bucket (the +Inf one excluded) whose count reaches the rank
  while (k < n - 1 && b[k].second < rank) ++k;
  if (k == n - 1) return b[n - 2].first;
  if (k == 0 && b[0].first <= 0) return b[0].first;
  double start = 0, count = b[k].second;
  if (k > 0) {
    start = b[k - 1].first;
    count -= b[k - 1].second;
    rank -= b[k - 1].second;
  }
  return start + (b[k].first - start) * (rank / count);
}

ScrapeDeriver::ScrapeDeriver(const monitor::DeriverConfig& cfg)
    : cfg_(cfg), increases_(monitor::Catalogue().size()), denominators_(monitor::Catalogue().size()) {}

double ScrapeDeriver::Publications::Update(double v) {
  if (std::isnan(v) || v < 0) return total;
  // The first reading is a baseline, as a counter's is: it cannot be dated.
  if (init && v > 0 && v != last) total += v;
  init = true;
  last = v;
  return total;
}

std::vector<double> ScrapeDeriver::Window::Update(double now, double window_s, const Buckets& cur) {
  if (!init || cur.le != last.le) {
    // The first scrape (what came before cannot be dated), or another bucket
    // layout (a restarted engine with new buckets): start over.
    init = true;
    last = cur;
    deltas.clear();
    return {};
  }
  bool reset = cur.count < last.count;
  for (size_t i = 0; i < cur.cumulative.size(); ++i) reset = reset || cur.cumulative[i] < last.cumulative[i];
  std::vector<double> d(cur.cumulative.size());
  // After a reset the new cumulative counts are all new observations.
  for (size_t i = 0; i < d.size(); ++i) d[i] = reset ? cur.cumulative[i] : cur.cumulative[i] - last.cumulative[i];
  last = cur;
  deltas.emplace_back(now, std::move(d));
  while (!deltas.empty() && deltas.front().first <= now - window_s) deltas.pop_front();
  if (deltas.empty()) return {};
  std::vector<double> sum(cur.le.size(), 0.0);
  // Summed afresh each scrape: no drift from adding and subtracting floats.
  for (const auto& [t, delta] : deltas)
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += delta[i];
  return sum;
}

std::vector<std::pair<std::string, double>> ScrapeDeriver::Tick(double now, const InstanceReading& r) {
  using monitor::Derivation;
  using monitor::Special;
  // Stalled: time since the engine's own progress counter last moved while
  // requests were running or waiting; 0 while idle.
  std::optional<double> stalled;
  const double* running = Find(r.gauges, "requests_running");
  const double* waiting = Find(r.gauges, "requests_waiting");
  const double* progress = Find(r.counters, "progress_total");
  if (progress && (running || waiting)) {
    const double in_flight = (running ? *running : 0) + (waiting ? *waiting : 0);
    if (!have_progress_ || *progress != last_progress_ || in_flight <= 0) {
      have_progress_ = true;
      last_progress_ = *progress;
      last_progress_t_ = now;
    }
    stalled = now - last_progress_t_;
  }

  // SGLang's retraction gauge counts the retractions since its previous
  // stats publication (every decode_log_interval steps), then restarts: added
  // up per publication it is the counter older versions lack. A burst
  // published between two scrapes is held until the next publication, so
  // every scrape that comes at least once per log interval sees it. Where
  // the counter is served too, the counter is read.
  const std::map<std::string, double>* counters = &r.counters;
  std::map<std::string, double> with_recent;
  if (const double* g = Find(r.gauges, "kv_evictions_recent")) {
    const double total = recent_evictions_.Update(*g);
    with_recent = r.counters;
    with_recent.emplace("kv_evictions_total", total);  // no-op where the counter is served
    with_recent.emplace("preemptions_total", total);
    counters = &with_recent;
  }
  std::map<std::string, double> totals;  // canonical counter -> reset-safe total, this scrape
  auto total = [&](const char* key) -> const double* {
    auto it = totals.find(key);
    if (it != totals.end()) return &it->second;
    const double* raw = Find(*counters, key);
    return raw ? &(totals[key] = counters_[key].Update(*raw)) : nullptr;
  };

  const std::vector<monitor::SignalInfo>& cat = monitor::Catalogue();
  std::vector<std::pair<std::string, double>> out;
  std::map<std::string, std::vector<double>> windows;  // histogram -> its counts in the window, this scrape
  for (size_t i = 0; i < cat.size(); ++i) {
    const monitor::SignalInfo& row = cat[i];
    if (!monitor::FromScrape(row)) continue;
    std::optional<double> v;
    switch (row.how) {
      case Derivation::kGauge:
        if (const double* g = Find(r.gauges, row.scrape)) v = *g;
        break;
      case Derivation::kCounter:
        if (const double* t = total(row.scrape)) v = *t;
        break;
      case Derivation::kRate:
        if (const double* t = total(row.of)) v = increases_[i].PerSecond(now, *t, cfg_.window_s);
        break;
      case Derivation::kRatio:
        if (Find(*counters, row.of) && Find(*counters, row.per)) {
          const std::optional<double> a = increases_[i].Increase(now, *total(row.of), cfg_.window_s);
          const std::optional<double> b = denominators_[i].Increase(now, *total(row.per), cfg_.window_s);
          if (a && b && *b > 0) v = *a / *b;
        } else if (row.scrape) {
          if (const double* g = Find(r.gauges, row.scrape)) v = *g;
        }
        break;
      case Derivation::kQuantile: {
        auto h = r.histograms.find(row.scrape);
        if (h == r.histograms.end()) break;
        auto [w, first] = windows.try_emplace(row.scrape);
        if (first) w->second = windows_[row.scrape].Update(now, cfg_.window_s, h->second);
        if (w->second.empty()) break;
        const double q = HistogramQuantile(row.q, h->second.le, w->second);
        if (!std::isnan(q)) v = q;
        break;
      }
      case Derivation::kSpecial:
        switch (row.special) {
          case Special::kBusyFraction:  // the engine's own figure
            if (const double* g = Find(r.gauges, row.scrape)) v = *g;
            break;
          case Special::kStalled: v = stalled; break;
          case Special::kStallTimeout:
            if (stalled) v = cfg_.engine_stall_timeout_s;
            break;
          default:  // target_up, target_health_up: AppendScrapeOutcome
            break;
        }
        break;
    }
    if (v) out.emplace_back(row.name, *v);
  }
  return out;
}

void AppendScrapeOutcome(bool ok, int health, std::vector<std::pair<std::string, double>>* values) {
  for (const monitor::SignalInfo& row : monitor::Catalogue()) {
    if (row.special == monitor::Special::kTargetUp) values->emplace_back(row.name, ok ? 1 : 0);
    if (row.special == monitor::Special::kTargetHealthUp && health >= 0) values->emplace_back(row.name, health);
  }
}

}  // namespace vigil::scrape
