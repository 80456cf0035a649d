#include "cli/nab_score.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

namespace vigil::cli {

namespace {

// "2014-04-10 07:15:00.000000" and "2014-04-10T07:15:00" name the same row.
std::string TimeKey(std::string t) {
  for (char& c : t)
    if (c == 'T') c = ' ';
  if (t.size() > 19 && t[19] == '.') {
    bool zeros = true;
    for (size_t i = 20; i < t.size() && t[i] != 'Z'; ++i) zeros &= t[i] == '0';
    if (zeros) t.resize(19);
  }
  if (!t.empty() && t.back() == 'Z') t.pop_back();
  return t;
}

double ScaledSigmoid(double x) { return x > 3.0 ? -1.0 : 2.0 / (1.0 + std::exp(5.0 * x)) - 1.0; }

struct Row {
  double score, weight;
  int window;  // -1: outside every window, -2: probationary
};

}  // namespace

bool LoadNabLabels(const std::string& dir, NabWindows* windows, std::map<std::string, NabCost>* profiles,
                   std::string* error) {
  auto read = [&](const std::string& rel, nlohmann::json* j) {
    std::ifstream in(dir + "/" + rel);
    if (!in) {
      *error = dir + "/" + rel + ": cannot open";
      return false;
    }
    *j = nlohmann::json::parse(in, nullptr, false);
    if (j->is_discarded() || !j->is_object()) {
      *error = dir + "/" + rel + ": not a JSON object";
      return false;
    }
    return true;
  };
  nlohmann::json labels, prof;
  if (!read("labels/combined_windows.json", &labels) || !read("config/profiles.json", &prof)) return false;
  for (const auto& [file, list] : labels.items()) {
    auto& w = (*windows)[file];
    if (!list.is_array()) continue;
    for (const auto& pair : list)
      if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string())
        w.emplace_back(TimeKey(pair[0].get<std::string>()), TimeKey(pair[1].get<std::string>()));
  }
  for (const auto& [name, p] : prof.items()) {
    const auto& m = p.value("CostMatrix", nlohmann::json::object());
    NabCost c;
    c.tp = m.value("tpWeight", 1.0);
    c.fn = m.value("fnWeight", 1.0);
    c.fp = m.value("fpWeight", 0.11);
    (*profiles)[name] = c;
  }
  return true;
}

double NabScore(const NabWindows& windows, const std::map<std::string, NabRun>& runs, const NabCost& cost,
                double* threshold) {
  std::vector<Row> rows;
  int total_windows = 0, next_window = 0;
  const double max_tp = ScaledSigmoid(-1.0);
  for (const auto& [file, wins] : windows) {
    total_windows += static_cast<int>(wins.size());
    auto run = runs.find(file);
    if (run == runs.end()) continue;
    const NabRun& r = run->second;
    const size_t n = r.timestamps.size();
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < n; ++i) index.emplace(TimeKey(r.timestamps[i]), i);
    std::vector<std::pair<size_t, size_t>> w;  // row ranges of the windows found in the file
    for (const auto& [a, b] : wins) {
      auto ia = index.find(a), ib = index.find(b);
      if (ia != index.end() && ib != index.end()) w.emplace_back(ia->second, ib->second);
    }
    // NAB's sweeper: within a window a detection is worth more the earlier it
    // comes; outside, a false positive costs less right after a window.
    const double probation = std::min(std::floor(0.15 * static_cast<double>(n)), 0.15 * 5000);
    size_t wi = 0;
    int cur = -1;
    double cur_len = 0, prev_len = 0;
    long cur_end = 0, prev_end = -1;
    for (size_t i = 0; i < n; ++i) {
      if (wi < w.size() && i == w[wi].first) {
        cur = next_window + static_cast<int>(wi);
        cur_end = static_cast<long>(w[wi].second);
        cur_len = static_cast<double>(w[wi].second - w[wi].first + 1);
      }
      double weight;
      if (cur >= 0) {
        weight = ScaledSigmoid(-(static_cast<double>(cur_end - static_cast<long>(i)) + 1) / cur_len) * cost.tp / max_tp;
      } else {
        const double u =
            prev_end < 0
                ? -1.0
                : ScaledSigmoid(std::fabs(static_cast<double>(prev_end - static_cast<long>(i))) / (prev_len - 1));
        weight = u * cost.fp;
      }
      rows.push_back({i < r.scores.size() ? r.scores[i] : 0.0, weight, static_cast<double>(i) >= probation ? cur : -2});
      if (cur >= 0 && static_cast<long>(i) == cur_end) {
        prev_end = cur_end;
        prev_len = cur_len;
        cur = -1;
        ++wi;
      }
    }
    next_window += static_cast<int>(w.size());
  }
  // The threshold optimizer: sweep every distinct score, best total wins.
  rows.erase(std::remove_if(rows.begin(), rows.end(), [](const Row& r) { return r.window == -2; }), rows.end());
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.score > b.score; });
  std::vector<double> part(static_cast<size_t>(next_window), 0.0);
  std::vector<char> seen(static_cast<size_t>(next_window), 0);
  double windows_sum = 0, fp = 0;
  for (const Row& r : rows) {
    if (r.window >= 0 && !seen[static_cast<size_t>(r.window)]) {
      seen[static_cast<size_t>(r.window)] = 1;
      part[static_cast<size_t>(r.window)] = -cost.fn;
      windows_sum -= cost.fn;
    }
  }
  double best = windows_sum, best_thr = 1.1, thr = 1.1;
  for (const Row& r : rows) {
    if (r.score != thr) {
      if (windows_sum + fp > best) {
        best = windows_sum + fp;
        best_thr = thr;
      }
      thr = r.score;
    }
    if (r.window < 0) {
      fp += r.weight;
    } else {
      double& p = part[static_cast<size_t>(r.window)];
      const double v = std::max(p, r.weight);
      windows_sum += v - p;
      p = v;
    }
  }
  if (windows_sum + fp > best) {
    best = windows_sum + fp;
    best_thr = thr;
  }
  if (threshold) *threshold = best_thr;
  const double null = -cost.fn * total_windows, perfect = cost.tp * total_windows;
  return perfect > null ? 100.0 * (best - null) / (perfect - null) : 0.0;
}

}  // namespace vigil::cli
