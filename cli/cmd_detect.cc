// vigilctl detect: replay one exported series through a detector, scoring
// each point only from the points before it, as the daemon does live.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
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

}  // namespace

int CmdDetect(int argc, char** argv) {
  Args a;
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "vigilctl detect: %s\n", m.c_str());
    return 2;
  };
  Status st = a.Parse(argc, argv, {"input", "output", "detector", "window", "threshold", "min-samples", "direction"}, {});
  if (!st.ok()) return fail(st.message());
  if (!a.Has("input")) return fail("--input FILE.csv is required");
  const std::string kind = a.Get("detector", "robust");
  if (kind != "zscore" && kind != "robust") return fail("--detector must be zscore or robust");
  detectors::ZScoreConfig cfg;
  int64_t window = 100, min_samples = 20;
  double threshold = 3.0;
  if (!(st = a.GetInt("window", 100, &window)).ok() || !(st = a.GetInt("min-samples", 20, &min_samples)).ok() ||
      !(st = a.GetDouble("threshold", 3.0, &threshold)).ok())
    return fail(st.message());
  if (window < 2 || min_samples < 2 || threshold <= 0) return fail("--window and --min-samples must be >= 2, --threshold > 0");
  cfg.window = static_cast<size_t>(window);
  cfg.min_samples = static_cast<size_t>(min_samples);
  cfg.threshold = threshold;
  const std::string dir = a.Get("direction", "both");
  if (dir == "high") cfg.direction = detectors::Direction::kHigh;
  else if (dir == "low") cfg.direction = detectors::Direction::kLow;
  else if (dir != "both") return fail("--direction must be high, low or both");

  std::ifstream in(a.Get("input"));
  if (!in) return fail(a.Get("input") + ": cannot open");
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (a.Has("output")) {
    file.open(a.Get("output"));
    if (!file) return fail(a.Get("output") + ": cannot open for writing");
    out = &file;
  }
  detectors::ZScoreDetector z(cfg);
  detectors::RobustZScoreDetector r(cfg);
  std::string line;
  size_t lineno = 0;
  if (!std::getline(in, line)) return fail(a.Get("input") + ": empty file");
  ++lineno;
  if (Trim(line.substr(0, line.find(','))) != "timestamp" || line.find(',') == std::string::npos ||
      Trim(line.substr(line.find(',') + 1)) != "value")
    return fail(a.Get("input") + ":1: the header must be timestamp,value");
  *out << "timestamp,value,score,anomaly\n";
  size_t anomalies = 0, points = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (Trim(line).empty()) continue;
    const size_t comma = line.find(',');
    if (comma == std::string::npos) return fail(a.Get("input") + ":" + std::to_string(lineno) + ": expected timestamp,value");
    const std::string ts = Trim(line.substr(0, comma)), vs = Trim(line.substr(comma + 1));
    if (!LooksLikeTime(ts))
      return fail(a.Get("input") + ":" + std::to_string(lineno) + ": timestamp \"" + ts +
                  "\" is neither YYYY-MM-DD HH:MM:SS nor RFC 3339");
    char* end = nullptr;
    const double v = std::strtod(vs.c_str(), &end);
    if (vs.empty() || *end != '\0' || !std::isfinite(v))
      return fail(a.Get("input") + ":" + std::to_string(lineno) + ": value \"" + vs + "\" is not a number");
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

}  // namespace vigil::cli
