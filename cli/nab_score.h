// NAB's scoring (the Numenta Anomaly Benchmark's sweeper and threshold
// optimizer), ported so `vigilctl detect --corpus` can score a run without
// Python. Checked against the reference scorer (bench/nab_score.py in the
// shared fixtures) to 0.1 on the same results: docs/detection.md.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace vigil::cli {

struct NabCost {
  double tp = 1, fn = 1, fp = 0.11;
};

// One corpus file's detector output: row timestamps (as in the data) and scores.
struct NabRun {
  std::vector<std::string> timestamps;
  std::vector<double> scores;
};

// Windows per corpus file (data/-relative path): [start, end] timestamps.
using NabWindows = std::map<std::string, std::vector<std::pair<std::string, std::string>>>;

// Reads labels/combined_windows.json and config/profiles.json under `nab_dir`.
bool LoadNabLabels(const std::string& nab_dir, NabWindows* windows, std::map<std::string, NabCost>* profiles,
                   std::string* error);

// The normalized score (0: flags nothing, 100: perfect) over the labelled
// files present in `runs`; windows of files absent from `runs` count as missed.
double NabScore(const NabWindows& windows, const std::map<std::string, NabRun>& runs, const NabCost& cost,
                double* threshold = nullptr);

}  // namespace vigil::cli
