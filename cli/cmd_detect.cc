// vigilctl detect: replay one exported series through a detector, scoring
// each point only from the points before it, as the daemon does live.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "detectors/detectors.h"

namespace vigil::cli {

namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '"')) s.pop_back();
  size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '"')) ++b;
  return s.substr(b);
}

bool LooksLikeTime(const std::string& t) {
  // YYYY-MM-DD HH:MM:SS or RFC 3339 (YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm]).
  int y, mo, d, h, mi;
  double s;
  return std::sscanf(t.c_str(), "%4d-%2d-%2d%*[ T]%2d:%2d:%lf", &y, &mo, &d, &h, &mi, &s) == 6;
}

struct DetectFlags {
  std::string input, output, detector = "robust", direction = "both";
  int64_t window = 100, min_samples = 20;
  double threshold = 3.0;
};

int Detect(const DetectFlags& f) {
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "vigilctl detect: %s\n", m.c_str());
    return 2;
  };
  const std::string& kind = f.detector;
  detectors::ZScoreConfig cfg;
  const int64_t window = f.window, min_samples = f.min_samples;
  const double threshold = f.threshold;
  if (window < 2 || min_samples < 2 || threshold <= 0) return fail("--window and --min-samples must be >= 2, --threshold > 0");
  cfg.window = static_cast<size_t>(window);
  cfg.min_samples = static_cast<size_t>(min_samples);
  cfg.threshold = threshold;
  if (f.direction == "high") cfg.direction = detectors::Direction::kHigh;
  else if (f.direction == "low") cfg.direction = detectors::Direction::kLow;

  std::ifstream in(f.input);
  if (!in) return fail(f.input + ": cannot open");
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (!f.output.empty()) {
    file.open(f.output);
    if (!file) return fail(f.output + ": cannot open for writing");
    out = &file;
  }
  detectors::ZScoreDetector z(cfg);
  detectors::RobustZScoreDetector r(cfg);
  std::string line;
  size_t lineno = 0;
  if (!std::getline(in, line)) return fail(f.input + ": empty file");
  ++lineno;
  if (Trim(line.substr(0, line.find(','))) != "timestamp" || line.find(',') == std::string::npos ||
      Trim(line.substr(line.find(',') + 1)) != "value")
    return fail(f.input + ":1: the header must be timestamp,value");
  *out << "timestamp,value,score,anomaly\n";
  size_t anomalies = 0, points = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (Trim(line).empty()) continue;
    const size_t comma = line.find(',');
    if (comma == std::string::npos) return fail(f.input + ":" + std::to_string(lineno) + ": expected timestamp,value");
    const std::string ts = Trim(line.substr(0, comma)), vs = Trim(line.substr(comma + 1));
    if (!LooksLikeTime(ts))
      return fail(f.input + ":" + std::to_string(lineno) + ": timestamp \"" + ts +
                  "\" is neither YYYY-MM-DD HH:MM:SS nor RFC 3339");
    char* end = nullptr;
    const double v = std::strtod(vs.c_str(), &end);
    if (vs.empty() || *end != '\0' || !std::isfinite(v))
      return fail(f.input + ":" + std::to_string(lineno) + ": value \"" + vs + "\" is not a number");
    std::optional<double> zv = kind == "zscore" ? z.Observe(v) : r.Observe(v);
    const bool flag = zv && (kind == "zscore" ? z.Flags(*zv) : r.Flags(*zv));
    double score = 0;
    if (zv) {
      // Directional detectors give no evidence for the other direction.
      const bool counts = cfg.direction == detectors::Direction::kBoth ||
                          (cfg.direction == detectors::Direction::kHigh) == (*zv > 0);
      score = counts ? detectors::ScoreFromZ(*zv, threshold) : 0;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", score);
    *out << ts << "," << vs << "," << buf << "," << (flag ? 1 : 0) << "\n";
    anomalies += flag;
    ++points;
  }
  std::fprintf(stderr, "%zu points, %zu anomalies (%s, window %ld, threshold %g)\n", points, anomalies, kind.c_str(),
               static_cast<long>(window), threshold);
  return 0;
}

}  // namespace

void AddDetect(CLI::App* app, int* rc) {
  auto f = std::make_shared<DetectFlags>();
  CLI::App* d = AddCommand(app, "detect", "Replay a timestamp,value CSV series; write timestamp,value,score,anomaly.",
                           rc, [f] { return Detect(*f); });
  d->add_option("--input", f->input, "the series: a CSV with a timestamp,value header")->required();
  d->add_option("--output", f->output, "where to write the scored CSV (default: stdout)");
  d->add_option("--detector", f->detector, "robust (median/MAD) or zscore (mean/stddev)")
      ->check(CLI::IsMember({"robust", "zscore"}))->capture_default_str();
  d->add_option("--window", f->window, "points in the rolling window (>= 2)")->check(Decimal())->capture_default_str();
  d->add_option("--threshold", f->threshold, "flag points whose |z| exceeds this (> 0)")->capture_default_str();
  d->add_option("--min-samples", f->min_samples, "points seen before scoring starts (>= 2)")
      ->check(Decimal())->capture_default_str();
  d->add_option("--direction", f->direction, "which deviations count: high, low or both")
      ->check(CLI::IsMember({"high", "low", "both"}))->capture_default_str();
}

}  // namespace vigil::cli
