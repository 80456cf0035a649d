#include "scrape/deriver.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>

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

double ScrapeDeriver::Counter::Update(double raw) {
  if (!init) {
    init = true;
    total = raw;
  } else {
    // A drop means the source restarted from zero: everything since counts.
    total += raw >= last_raw ? raw - last_raw : raw;
  }
  last_raw = raw;
  return total;
}

double ScrapeDeriver::Publications::Update(double v) {
  if (std::isnan(v) || v < 0) return total;
  // The first reading is a baseline, as a counter's is: it cannot be dated.
  if (init && v > 0 && v != last) total += v;
  init = true;
  last = v;
  return total;
}

bool ScrapeDeriver::Rate::Increase(double now, double total, double window_s, double* increase, double* span) {
  points.emplace_back(now, total);
  // Keep one point at or before the window's start, so the span covers it.
  while (points.size() > 1 && points[1].first <= now - window_s) points.pop_front();
  *span = now - points.front().first;
  *increase = total - points.front().second;
  return points.size() > 1 && *span > 0;
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
  std::vector<std::pair<std::string, double>> out;
  auto put = [&out](const std::string& name, double v) { out.emplace_back(name, v); };
  // Gauges are passed through, each at its place in the catalogue.
  auto gauges = [&](std::initializer_list<const char*> names) {
    for (const char* g : names)
      if (const double* v = Find(r.gauges, g)) put(g, *v);
  };

  gauges({"requests_running", "requests_waiting", "kv_cache_usage", "kv_blocks_total", "kv_blocks_used",
          "kv_blocks_orphaned", "busy_fraction"});

  // Stalled: time since the engine's own progress counter last moved while
  // requests were running or waiting; 0 while idle.
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
    put("engine_stalled_seconds", now - last_progress_t_);
  }
  gauges({"memory_used_bytes", "avg_sequence_length", "max_num_seqs", "block_size", "prefix_caching_enabled"});

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
  std::map<std::string, double> totals;
  for (const char* c :
       {"preemptions_total", "kv_evictions_total", "prefix_cache_queries_total", "prefix_cache_hits_total",
        "prompt_tokens_total", "generation_tokens_total", "requests_finished_total", "requests_aborted_total"}) {
    if (const double* v = Find(*counters, c)) {
      totals[c] = counters_[c].Update(*v);
      put(c, totals[c]);
    }
  }

  struct Q {
    const char* histogram;
    std::vector<std::pair<const char*, double>> qs;
  };
  for (const Q& q : {Q{"ttft", {{"ttft_p50", 0.5}, {"ttft_p95", 0.95}, {"ttft_p99", 0.99}}},
                     Q{"tbt", {{"tbt_p50", 0.5}, {"tbt_p95", 0.95}}}, Q{"e2e", {{"e2e_p50", 0.5}, {"e2e_p95", 0.95}}},
                     Q{"queue_time", {{"queue_time_p95", 0.95}}}, Q{"prefill_time", {{"prefill_time_p95", 0.95}}}}) {
    auto it = r.histograms.find(q.histogram);
    if (it == r.histograms.end()) continue;
    const std::vector<double> window = windows_[q.histogram].Update(now, window_s_, it->second);
    if (window.empty()) continue;
    for (const auto& [name, p] : q.qs) {
      const double v = HistogramQuantile(p, it->second.le, window);
      if (!std::isnan(v)) put(name, v);
    }
  }

  // Rates over the window, in catalogue order.
  auto per_s = [&](const char* name, const char* counter) {
    double inc = 0, span = 0;
    if (const double* t = Find(totals, counter))
      if (rates_[name].Increase(now, *t, window_s_, &inc, &span)) put(name, inc / span);
  };
  per_s("output_tokens_per_s", "generation_tokens_total");
  per_s("requests_per_s", "requests_finished_total");
  const double* queries = Find(totals, "prefix_cache_queries_total");
  const double* hits = Find(totals, "prefix_cache_hits_total");
  if (queries && hits) {
    double dq = 0, dh = 0, span = 0;
    const bool ok_q = rates_["prefix_cache_queries"].Increase(now, *queries, window_s_, &dq, &span);
    const bool ok_h = rates_["prefix_cache_hits"].Increase(now, *hits, window_s_, &dh, &span);
    if (ok_q && ok_h && dq > 0) put("prefix_cache_hit_rate", dh / dq);
  }
  per_s("preemptions_per_s", "preemptions_total");
  per_s("kv_evictions_per_s", "kv_evictions_total");
  // Last in the catalogue: the hosted engine derives it, vigild serves it.
  gauges({"requests_stuck"});
  // Watched engines' newer signals, in catalogue order.
  gauges({"requests_deferred"});
  // Speculative decoding: accepted over drafted tokens in the window where
  // the counters are served (vLLM, trtllm-serve), else SGLang's gauge.
  const double* draft = Find(r.counters, "spec_draft_tokens_total");
  const double* accepted = Find(r.counters, "spec_accepted_tokens_total");
  if (draft && accepted) {
    const double d = counters_["spec_draft_tokens_total"].Update(*draft);
    const double a = counters_["spec_accepted_tokens_total"].Update(*accepted);
    double dd = 0, da = 0, span = 0;
    const bool ok_d = rates_["spec_draft"].Increase(now, d, window_s_, &dd, &span);
    const bool ok_a = rates_["spec_accepted"].Increase(now, a, window_s_, &da, &span);
    if (ok_d && ok_a && dd > 0) put("spec_accept_rate", da / dd);
  } else {
    gauges({"spec_accept_rate"});
  }
  gauges({"lora_adapters_running", "lora_adapters_waiting", "lora_max"});
  return out;
}

}  // namespace vigil::scrape
