// vigilctl detect: replay an exported series through a detector, scoring
// each point only from the points before it, as the daemon does live; or,
// with --corpus, every series of a NAB-shaped corpus (and score the run).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/nab_score.h"
#include "detectors/detectors.h"
#include "detectors/novelty.h"

namespace vigil::cli {

namespace {

namespace fs = std::filesystem;

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
  std::string input, output, corpus, results, detector = "novelty", direction = "both";
  int64_t window = 100, min_samples = 20;
  double threshold = 3.0;
  bool score = false;
};

// One series through one fresh detector: `in` -> `out` as
// timestamp,value,score,anomaly. For novelty, score is the episode's
// likelihood at the observation that opens it (0 elsewhere) and anomaly
// marks the openings: one alarm per episode.
class SeriesRun {
 public:
  explicit SeriesRun(const DetectFlags& f) : f_(f) {
    cfg_.window = static_cast<size_t>(f.window);
    cfg_.min_samples = static_cast<size_t>(f.min_samples);
    cfg_.threshold = f.threshold;
    if (f.direction == "high") cfg_.direction = detectors::Direction::kHigh;
    else if (f.direction == "low") cfg_.direction = detectors::Direction::kLow;
  }

  // Empty on success, else "file:line: what".
  std::string Run(const std::string& path, std::istream& in, std::ostream& out, NabRun* keep) {
    detectors::ZScoreDetector z(cfg_);
    detectors::RobustZScoreDetector r(cfg_);
    detectors::NoveltyDetector nov;
    std::string line;
    size_t lineno = 0;
    if (!std::getline(in, line)) return path + ": empty file";
    ++lineno;
    if (Trim(line.substr(0, line.find(','))) != "timestamp" || line.find(',') == std::string::npos ||
        Trim(line.substr(line.find(',') + 1)) != "value")
      return path + ":1: the header must be timestamp,value";
    out << "timestamp,value,score,anomaly\n";
    while (std::getline(in, line)) {
      ++lineno;
      if (Trim(line).empty()) continue;
      const size_t comma = line.find(',');
      if (comma == std::string::npos) return path + ":" + std::to_string(lineno) + ": expected timestamp,value";
      const std::string ts = Trim(line.substr(0, comma)), vs = Trim(line.substr(comma + 1));
      if (!LooksLikeTime(ts))
        return path + ":" + std::to_string(lineno) + ": timestamp \"" + ts +
               "\" is neither YYYY-MM-DD HH:MM:SS nor RFC 3339";
      char* end = nullptr;
      const double v = std::strtod(vs.c_str(), &end);
      if (vs.empty() || *end != '\0' || !std::isfinite(v))
        return path + ":" + std::to_string(lineno) + ": value \"" + vs + "\" is not a number";
      double score = 0;
      bool flag = false;
      if (f_.detector == "novelty") {
        const detectors::NoveltyResult res = nov.Observe(v);
        score = detectors::AlarmScore(res);
        flag = res.opened;
      } else {
        std::optional<double> zv = f_.detector == "zscore" ? z.Observe(v) : r.Observe(v);
        flag = zv && (f_.detector == "zscore" ? z.Flags(*zv) : r.Flags(*zv));
        if (zv) {
          // Directional detectors give no evidence for the other direction.
          const bool counts = cfg_.direction == detectors::Direction::kBoth ||
                              (cfg_.direction == detectors::Direction::kHigh) == (*zv > 0);
          score = counts ? detectors::ScoreFromZ(*zv, f_.threshold) : 0;
        }
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6f", score);
      out << ts << "," << vs << "," << buf << "," << (flag ? 1 : 0) << "\n";
      anomalies_ += flag;
      ++points_;
      if (keep) {
        keep->timestamps.push_back(ts);
        keep->scores.push_back(score);
      }
    }
    return "";
  }
  size_t points() const { return points_; }
  size_t anomalies() const { return anomalies_; }

 private:
  const DetectFlags& f_;
  detectors::ZScoreConfig cfg_;
  size_t points_ = 0, anomalies_ = 0;
};

int Fail(const std::string& m) {
  std::fprintf(stderr, "vigilctl detect: %s\n", m.c_str());
  return 2;
}

int DetectOne(const DetectFlags& f) {
  std::ifstream in(f.input);
  if (!in) return Fail(f.input + ": cannot open");
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (!f.output.empty()) {
    file.open(f.output);
    if (!file) return Fail(f.output + ": cannot open for writing");
    out = &file;
  }
  SeriesRun run(f);
  const std::string err = run.Run(f.input, in, *out, nullptr);
  if (!err.empty()) return Fail(err);
  std::fprintf(stderr, "%zu points, %zu anomalies (%s)\n", run.points(), run.anomalies(), f.detector.c_str());
  return 0;
}

// Every *.csv under corpus/data (or corpus itself), each through a fresh
// detector, results mirrored under --results; with --score, NAB's three
// profiles from corpus/labels and corpus/config.
int DetectCorpus(const DetectFlags& f) {
  const fs::path root =
      fs::is_directory(fs::path(f.corpus) / "data") ? fs::path(f.corpus) / "data" : fs::path(f.corpus);
  if (!fs::is_directory(root)) return Fail(f.corpus + ": not a directory");
  if (f.results.empty()) return Fail("--corpus needs --results DIR");
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".csv") files.push_back(it->path());
  if (ec) return Fail(root.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty()) return Fail(root.string() + ": no .csv file");
  std::map<std::string, NabRun> runs;
  size_t points = 0, anomalies = 0;
  for (const fs::path& p : files) {
    const std::string rel = fs::relative(p, root).generic_string();
    const fs::path dest = fs::path(f.results) / rel;
    fs::create_directories(dest.parent_path(), ec);
    std::ifstream in(p);
    std::ofstream out(dest);
    if (!in) return Fail(p.string() + ": cannot open");
    if (!out) return Fail(dest.string() + ": cannot open for writing");
    SeriesRun run(f);
    const std::string err = run.Run(p.string(), in, out, f.score ? &runs[rel] : nullptr);
    if (!err.empty()) return Fail(err);
    points += run.points();
    anomalies += run.anomalies();
  }
  std::fprintf(stderr, "%zu series, %zu points, %zu anomalies (%s) -> %s\n", files.size(), points, anomalies,
               f.detector.c_str(), f.results.c_str());
  if (!f.score) return 0;
  NabWindows windows;
  std::map<std::string, NabCost> profiles;
  std::string err;
  if (!LoadNabLabels(f.corpus, &windows, &profiles, &err))
    return Fail(err + " (--score needs NAB's labels/ and config/)");
  for (const char* name : {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}) {
    auto it = profiles.find(name);
    if (it == profiles.end()) continue;
    double thr = 0;
    const double s = NabScore(windows, runs, it->second, &thr);
    std::printf("NAB %s score %.1f (threshold %.4f, files %zu)\n", name, s, thr, runs.size());
  }
  return 0;
}

int Detect(const DetectFlags& f, bool zscore_flags_given) {
  if (f.window < 2 || f.min_samples < 2 || f.threshold <= 0)
    return Fail("--window and --min-samples must be >= 2, --threshold > 0");
  if (f.detector == "novelty" && zscore_flags_given)
    return Fail(
        "--window, --min-samples, --threshold and --direction tune zscore and robust; "
        "novelty's parameters are fixed (docs/detection.md)");
  if (f.input.empty() == f.corpus.empty()) return Fail("give either --input FILE or --corpus DIR");
  return f.corpus.empty() ? DetectOne(f) : DetectCorpus(f);
}

}  // namespace

void AddDetect(CLI::App* app, int* rc) {
  auto f = std::make_shared<DetectFlags>();
  CLI::App* d = AddCommand(app, "detect",
                           "Replay a timestamp,value CSV series (or a NAB-shaped corpus); write "
                           "timestamp,value,score,anomaly.",
                           rc, nullptr);
  d->add_option("--input", f->input, "the series: a CSV with a timestamp,value header");
  d->add_option("--output", f->output, "where to write the scored CSV (default: stdout)");
  d->add_option("--corpus", f->corpus, "a directory of series (NAB's layout: data/<category>/<file>.csv)");
  d->add_option("--results", f->results, "with --corpus: where to write one scored CSV per series (same paths)");
  d->add_flag("--score", f->score, "with --corpus: print NAB's scores (needs the corpus' labels/ and config/)");
  d->add_option("--detector", f->detector,
                "novelty (the default: episodes of shape novelty), robust (median/MAD) or zscore (mean/stddev)")
      ->check(CLI::IsMember({"novelty", "robust", "zscore"}))
      ->capture_default_str();
  CLI::Option* w = d->add_option("--window", f->window, "zscore/robust: points in the rolling window (>= 2)")
                       ->check(Decimal())
                       ->capture_default_str();
  CLI::Option* t = d->add_option("--threshold", f->threshold, "zscore/robust: flag points whose |z| exceeds this (> 0)")
                       ->capture_default_str();
  CLI::Option* m =
      d->add_option("--min-samples", f->min_samples, "zscore/robust: points seen before scoring starts (>= 2)")
          ->check(Decimal())
          ->capture_default_str();
  CLI::Option* dir =
      d->add_option("--direction", f->direction, "zscore/robust: which deviations count: high, low or both")
          ->check(CLI::IsMember({"high", "low", "both"}))
          ->capture_default_str();
  d->callback([f, rc, w, t, m, dir] { *rc = Detect(*f, w->count() + t->count() + m->count() + dir->count() > 0); });
}

}  // namespace vigil::cli
