#include "detectors/detectors.h"

#include <Eigen/Dense>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "monitor/signals.h"

namespace vigil::detectors {

const char* DirectionName(Direction d) {
  switch (d) {
    case Direction::kHigh: return "high";
    case Direction::kLow: return "low";
    case Direction::kBoth: return "both";
  }
  return "both";
}

std::optional<double> ZScoreDetector::Observe(double x, double* mean, double* stddev) {
  std::optional<double> z;
  if (stats_.size() >= cfg_.min_samples) {
    const double m = stats_.Mean(), s = stats_.Std();
    if (mean) *mean = m;
    if (stddev) *stddev = s;
    if (s > 0) z = (x - m) / s;
  }
  stats_.Add(x);
  return z;
}

bool ZScoreDetector::Flags(double z) const {
  switch (cfg_.direction) {
    case Direction::kHigh: return z > cfg_.threshold;
    case Direction::kLow: return z < -cfg_.threshold;
    case Direction::kBoth: return std::fabs(z) > cfg_.threshold;
  }
  return false;
}

bool FitTrend(const std::vector<monitor::Point>& pts, TrendFit* out) {
  const size_t n = pts.size();
  if (n < 3) return false;
  // Centre t and v for a well-conditioned fit over large unix times.
  double mt = 0, mv = 0;
  for (const auto& p : pts) {
    mt += p.t;
    mv += p.v;
  }
  mt /= static_cast<double>(n);
  mv /= static_cast<double>(n);
  double stt = 0, stv = 0, svv = 0;
  for (const auto& p : pts) {
    const double dt = p.t - mt, dv = p.v - mv;
    stt += dt * dt;
    stv += dt * dv;
    svv += dv * dv;
  }
  if (stt <= 0) return false;
  out->slope = stv / stt;
  out->intercept = mv - out->slope * mt;
  out->r2 = svv > 0 ? (stv * stv) / (stt * svv) : 0;
  out->n = n;
  out->span_s = pts.back().t - pts.front().t;
  return true;
}

namespace {

double MemTotalBytes() {
  FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char key[64];
  long long kb = 0;
  double total = 0;
  while (std::fscanf(f, "%63s %lld kB\n", key, &kb) == 2) {
    if (std::string(key) == "MemTotal:") {
      total = static_cast<double>(kb) * 1024;
      break;
    }
  }
  std::fclose(f);
  return total;
}

std::string Fmt(const char* fmt, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

}  // namespace

DetectorSet::DetectorSet(DetectorsConfig cfg, const monitor::SeriesStore* store) : cfg_(std::move(cfg)), store_(store) {
  if (cfg_.zscore_signals.empty()) {
    static const std::set<std::string> settings = {
        "max_num_seqs",    "max_num_batched_tokens", "block_size", "prefix_caching_enabled", "chunked_prefill_enabled",
        "kv_blocks_total", "gpu_memory_total_bytes"};
    for (const auto& s : monitor::Catalogue())
      if (s.kind != monitor::SignalKind::kCounter && !settings.count(s.name)) cfg_.zscore_signals.push_back(s.name);
  }
  for (const std::string& s : cfg_.zscore_signals) {
    auto it = cfg_.zscore_overrides.find(s);
    zscore_[s] = std::make_unique<ZScoreDetector>(it != cfg_.zscore_overrides.end() ? it->second : cfg_.zscore);
    if (cfg_.method == "novelty")
      novelty_[s] = std::make_unique<NoveltyState>(NoveltyState{NoveltyDetector(cfg_.novelty), 0, false, 0});
  }
  for (const auto& p : cfg_.pairs) pearson_.emplace(std::make_pair(p.a, p.b), RollingPearson(p.window));
  if (!cfg_.trend.capacity_value.count("memory_used_bytes")) {
    const double mem = MemTotalBytes();
    if (mem > 0) cfg_.trend.capacity_value["memory_used_bytes"] = mem;
  }
}

void DetectorSet::Record(AnomalyEvent e, std::vector<AnomalyEvent>* out) {
  counts_[{e.detector, e.signals.empty() ? "" : e.signals.front()}]++;
  e.id = next_id_++;
  events_.push_back(e);
  while (events_.size() > cfg_.max_events) events_.pop_front();
  out->push_back(std::move(e));
}

double MinAbsoluteChange(const std::string& unit) {
  // What an operator would call a change at all, per unit.
  static const std::map<std::string, double> floors = {
      {"seconds", 0.01},   {"ratio", 0.02}, {"requests", 1}, {"blocks", 1}, {"tokens", 1},      {"tokens/s", 1},
      {"requests/s", 0.1}, {"1/s", 0.1},    {"blocks/s", 1}, {"bool", 0.5}, {"bytes", 1 << 20}, {"preemptions", 1}};
  auto it = floors.find(unit);
  return it == floors.end() ? 0 : it->second;
}

std::vector<AnomalyEvent> DetectorSet::Observe(double now, const std::vector<std::pair<std::string, double>>& values) {
  std::vector<AnomalyEvent> out;
  MutexLock lock(&mu_);
  // Linear in the number of signals: one hash lookup per value.
  for (const auto& [name, value] : values) {
    auto d = zscore_.find(name);
    if (d == zscore_.end()) continue;
    ZScoreDetector* det = d->second.get();
    double mean = 0, sd = 0;
    std::optional<double> z = det->Observe(value, &mean, &sd);
    const ZScoreConfig& zc = det->config();
    if (cfg_.method == "novelty") ObserveNovelty(now, name, value, zc, &out);
    if (!z) continue;
    last_z_[name] = *z;
    if (cfg_.method != "zscore" || !det->Flags(*z)) continue;
    const monitor::SignalInfo* info = monitor::FindSignal(name);  // only for flagged values: rare
    const double floor =
        zc.min_absolute_change >= 0 ? zc.min_absolute_change : MinAbsoluteChange(info ? info->unit : "");
    if (std::fabs(value - mean) < std::max(zc.min_relative_change * std::fabs(mean), floor))
      continue;  // too small to matter
    AnomalyEvent e;
    e.time = now;
    e.detector = "zscore";
    e.signals = {name};
    e.value = value;
    e.score = std::fabs(*z);
    e.mean = mean;
    e.stddev = sd;
    e.direction = *z > 0 ? "high" : "low";
    e.message = name + Fmt(" is %.3g, %.1f standard deviations ", value, std::fabs(*z)) + (*z > 0 ? "above" : "below") +
                Fmt(" its recent mean %.3g", mean);
    Record(std::move(e), &out);
  }
  std::unordered_map<std::string, double> v;
  if (!cfg_.pairs.empty() || !cfg_.trend.signals.empty()) v.insert(values.begin(), values.end());
  // The leak signature is a climb while requests keep finishing normally
  // (a climb under growing load is just load).
  auto rps = v.find("requests_per_s");
  auto failed = v.find("requests_failed_total");
  const bool finishing_normally =
      rps != v.end() && rps->second > 0 && (failed == v.end() || failed->second == last_failed_);
  if (failed != v.end()) last_failed_ = failed->second;
  for (const auto& p : cfg_.pairs) {
    auto a = v.find(p.a), b = v.find(p.b);
    if (a == v.end() || b == v.end()) continue;
    RollingPearson& rp = pearson_.at({p.a, p.b});
    rp.Add(a->second, b->second);
    double r;
    if (rp.size() < p.window || !rp.R(&r) || r <= p.threshold) continue;
    AnomalyEvent e;
    e.time = now;
    e.detector = "correlation";
    e.signals = {p.a, p.b};
    e.value = r;
    e.score = r;
    e.direction = "high";
    e.message = p.message.empty() ? p.a + " and " + p.b + Fmt(" move together (r = %.2f)", r)
                                  : p.message + Fmt(" (r = %.2f)", r);
    Record(std::move(e), &out);
  }
  for (const std::string& s : cfg_.trend.signals) {
    TrendFit fit;
    if (!FitTrend(store_->Range(s, now - cfg_.trend.window_s), &fit)) continue;
    trends_[s] = fit;
    double capacity = -1;
    if (auto c = cfg_.trend.capacity_signal.find(s); c != cfg_.trend.capacity_signal.end()) {
      monitor::Point cap;
      if (store_->Latest(c->second, &cap)) capacity = cap.v;
    } else if (auto c2 = cfg_.trend.capacity_value.find(s); c2 != cfg_.trend.capacity_value.end()) {
      capacity = c2->second;
    }
    monitor::Point cur;
    double tte = -1;
    if (capacity > 0 && fit.slope > 0 && store_->Latest(s, &cur)) tte = std::max(0.0, (capacity - cur.v) / fit.slope);
    if (tte >= 0) tte_[s] = tte;
    else tte_.erase(s);
    // A steady climb: rising, well explained by a line, over enough history.
    const bool climbing =
        fit.slope > 0 && fit.r2 >= cfg_.trend.min_r2 && fit.span_s >= cfg_.trend.min_span_s && finishing_normally;
    if (climbing && !trend_flagged_[s]) {
      AnomalyEvent e;
      e.time = now;
      e.detector = "trend";
      e.signals = {s};
      e.value = fit.slope;
      e.score = fit.r2;
      e.slope = fit.slope;
      e.r2 = fit.r2;
      e.time_to_exhaustion_s = tte;
      e.direction = "high";
      e.message = s + Fmt(" is climbing steadily (%.3g/s, R² %.2f over %.0f s)", fit.slope, fit.r2, fit.span_s) +
                  (tte >= 0 ? Fmt("; exhausted in about %.0f s at this rate", tte) : "");
      Record(std::move(e), &out);
    }
    trend_flagged_[s] = climbing;
  }
  return out;
}

AnomalyEvent* DetectorSet::FindEvent(uint64_t id) {
  for (auto it = events_.rbegin(); it != events_.rend(); ++it)
    if (it->id == id) return &*it;
  return nullptr;  // already rotated out of the bounded list
}

void DetectorSet::ObserveNovelty(double now, const std::string& name, double value, const ZScoreConfig& zc,
                                 std::vector<AnomalyEvent>* out) {
  auto it = novelty_.find(name);
  if (it == novelty_.end()) return;
  NoveltyState& st = *it->second;
  const NoveltyResult r = st.detector.Observe(value);
  if (r.opened) {
    st.opened_at = now;
    st.judged = false;
  }
  if (st.event != 0) {  // a reported episode: follow it until it settles
    AnomalyEvent* e = FindEvent(st.event);
    if (e) e->peak = std::max(e->peak, r.likelihood);
    if (!r.active) {
      if (e) e->end = now;
      st.event = 0;
    }
    return;
  }
  // An episode is reported once its likelihood reaches `report` (a 1e-5
  // tail), once, and only if the change is big enough to matter to an
  // operator (the same effect-size floor as the z-score's events).
  if (!r.active || st.judged || r.likelihood < cfg_.novelty.report) return;
  st.judged = true;
  const monitor::SignalInfo* info = monitor::FindSignal(name);
  const double floor = zc.min_absolute_change >= 0 ? zc.min_absolute_change : MinAbsoluteChange(info ? info->unit : "");
  if (std::fabs(value - r.expected) < std::max(zc.min_relative_change * std::fabs(r.expected), floor)) return;
  AnomalyEvent e;
  e.time = st.opened_at;
  e.detector = "novelty";
  e.signals = {name};
  e.value = value;
  e.score = r.likelihood;
  e.peak = r.peak;
  e.expected = r.expected;
  e.direction = value >= r.expected ? "high" : "low";
  e.message = name + Fmt(" is %.3g, ", value) + (value >= r.expected ? "above" : "below") +
              Fmt(" its usual pattern (about %.3g there); likelihood %.2f", r.expected, r.likelihood);
  Record(std::move(e), out);
  st.event = next_id_ - 1;
}

bool DetectorSet::ZScore(const std::string& s, double* z) const {
  MutexLock lock(&mu_);
  auto it = last_z_.find(s);
  if (it == last_z_.end()) return false;
  *z = it->second;
  return true;
}

bool DetectorSet::Corr(const std::string& a, const std::string& b, double* r) const {
  MutexLock lock(&mu_);
  auto it = pearson_.find({a, b});
  if (it == pearson_.end()) {
    it = pearson_.find({b, a});
    if (it == pearson_.end()) return false;
  }
  return it->second.R(r);
}

bool DetectorSet::Trend(const std::string& s, TrendFit* fit) const {
  MutexLock lock(&mu_);
  auto it = trends_.find(s);
  if (it == trends_.end()) return false;
  *fit = it->second;
  return true;
}

bool DetectorSet::TimeToExhaustion(const std::string& s, double* seconds) const {
  MutexLock lock(&mu_);
  auto it = tte_.find(s);
  if (it == tte_.end()) return false;
  *seconds = it->second;
  return true;
}

std::vector<std::vector<double>> DetectorSet::CorrelationMatrix(const std::vector<std::string>& signals, double now,
                                                                double window_s) const {
  const size_t k = signals.size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::vector<double>> out(k, std::vector<double>(k, nan));
  // Align the series on the ticks they share.
  std::map<double, std::vector<double>> rows;
  for (size_t j = 0; j < k; ++j) {
    for (const auto& p : store_->Range(signals[j], now - window_s)) {
      auto& row = rows[p.t];
      if (row.empty()) row.assign(k, nan);
      row[j] = p.v;
    }
  }
  std::vector<const std::vector<double>*> complete;
  for (const auto& kv : rows) {
    bool full = true;
    for (double x : kv.second) full &= !std::isnan(x);
    if (full) complete.push_back(&kv.second);
  }
  if (complete.size() < 3) return out;
  Eigen::MatrixXd m(static_cast<Eigen::Index>(complete.size()), static_cast<Eigen::Index>(k));
  for (size_t i = 0; i < complete.size(); ++i)
    for (size_t j = 0; j < k; ++j) m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = (*complete[i])[j];
  Eigen::MatrixXd centered = m.rowwise() - m.colwise().mean();
  Eigen::MatrixXd cov = centered.transpose() * centered;
  for (size_t a = 0; a < k; ++a) {
    for (size_t b = 0; b < k; ++b) {
      const double va = cov(a, a), vb = cov(b, b);
      if (va > 0 && vb > 0) out[a][b] = cov(a, b) / std::sqrt(va * vb);
    }
  }
  return out;
}

std::vector<AnomalyEvent> DetectorSet::Events(double since) const {
  MutexLock lock(&mu_);
  std::vector<AnomalyEvent> out;
  for (const auto& e : events_)
    if (e.time >= since || (e.detector == "novelty" && (e.end < 0 || e.end >= since))) out.push_back(e);
  return out;
}

std::map<std::pair<std::string, std::string>, uint64_t> DetectorSet::Counts() const {
  MutexLock lock(&mu_);
  return counts_;
}

}  // namespace vigil::detectors
