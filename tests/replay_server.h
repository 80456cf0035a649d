// A replay of an engine's /metrics for watch-mode end-to-end tests: a
// replay file (etc/scenarios/replays/*.yaml) names each family an engine
// serves and how it moves (a gauge's value, or values published once a
// second in turn; a counter's rate; a histogram's buckets and where its
// observations fall), and ReplayServer renders it, at the seconds elapsed
// since it started, as the engine would: prometheus_client's text format.
// Why: the watched engines (vLLM, SGLang) cannot run here; their
// expositions' shapes can, and the rules see exactly what a scrape gives.
#pragma once

#include <httplib.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace vigil::testing {

// From `at` seconds on, until the next phase: a counter's or histogram's
// rate, a histogram's observation, a gauge's value.
struct ReplayPhase {
  double at = 0, rate = 0, observe = 0, value = 0;
};

struct ReplaySeries {
  std::string name, type, labels;   // labels: `a="x",b="y"` (sorted as written)
  std::vector<ReplayPhase> phases;  // if set, in place of value/rate/observe
  double value = 0;                 // gauge
  std::vector<double> values;       // gauge published once a second, in turn
  double rate = 0;                  // counter per second; histogram observations per second
  std::vector<double> buckets;      // histogram upper bounds, ascending (+Inf added)
  double observe = 0;               // histogram: every observation's value
  bool no_inf = false;              // histogram: leave its +Inf bucket out (a malformed family)
};

struct Replay {
  std::string engine;
  std::vector<ReplaySeries> series;
};

inline Replay LoadReplay(const std::string& path) {
  const YAML::Node doc = YAML::LoadFile(path);
  Replay r;
  r.engine = doc["engine"].as<std::string>("");
  for (const auto& n : doc["series"]) {
    ReplaySeries s;
    s.name = n["name"].as<std::string>();
    s.type = n["type"].as<std::string>();
    std::string l;
    if (n["labels"])
      for (const auto& kv : n["labels"]) {
        if (!l.empty()) l += ",";
        l += kv.first.as<std::string>() + "=\"" + kv.second.as<std::string>() + "\"";
      }
    s.labels = l;
    s.value = n["value"].as<double>(0);
    if (n["values"]) s.values = n["values"].as<std::vector<double>>();
    s.rate = n["rate"].as<double>(0);
    if (n["buckets"]) s.buckets = n["buckets"].as<std::vector<double>>();
    s.observe = n["observe"].as<double>(0);
    s.no_inf = n["no_inf"].as<bool>(false);
    if (n["phases"])
      for (const auto& ph : n["phases"]) {
        ReplayPhase p;
        p.at = ph["at"].as<double>(0);
        p.rate = ph["rate"].as<double>(0);
        p.observe = ph["observe"].as<double>(0);
        p.value = ph["value"].as<double>(0);
        s.phases.push_back(p);
      }
    r.series.push_back(std::move(s));
  }
  return r;
}

inline std::string Num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

// The exposition `t` seconds into the replay.
inline std::string RenderReplay(const Replay& r, double t) {
  std::string out;
  auto line = [&out](const std::string& name, const std::string& labels, double v) {
    out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + Num(v) + "\n";
  };
  std::map<std::string, bool> typed;
  for (const ReplaySeries& s : r.series) {
    if (!typed[s.name]) {
      out += "# HELP " + s.name + " replayed\n# TYPE " + s.name + " " + (s.type == "info" ? "gauge" : s.type) + "\n";
      typed[s.name] = true;
    }
    // The phases in force up to `t`, each with how long it has lasted.
    std::vector<std::pair<ReplayPhase, double>> spans;
    if (s.phases.empty()) {
      spans.push_back({ReplayPhase{0, s.rate, s.observe, s.value}, t});
    } else {
      for (size_t k = 0; k < s.phases.size() && s.phases[k].at <= t; ++k) {
        const double end = k + 1 < s.phases.size() ? std::min(t, s.phases[k + 1].at) : t;
        spans.push_back({s.phases[k], end - s.phases[k].at});
      }
    }
    if (s.type == "gauge") {
      double v = s.values.empty() ? s.value : s.values[static_cast<size_t>(t) % s.values.size()];
      if (!s.phases.empty() && !spans.empty()) v = spans.back().first.value;
      line(s.name, s.labels, v);
    } else if (s.type == "counter") {
      double n = 0;
      for (const auto& [ph, d] : spans) n += ph.rate * d;
      line(s.name, s.labels, std::floor(n));
    } else if (s.type == "histogram") {
      double n = 0, sum = 0;
      std::vector<double> in(s.buckets.size(), 0);
      for (const auto& [ph, d] : spans) {
        const double k = std::floor(ph.rate * d);
        n += k;
        sum += k * ph.observe;
        for (size_t b = 0; b < s.buckets.size(); ++b) in[b] += ph.observe <= s.buckets[b] ? k : 0;
      }
      const std::string sep = s.labels.empty() ? "" : s.labels + ",";
      for (size_t b = 0; b < s.buckets.size(); ++b)
        line(s.name + "_bucket", sep + "le=\"" + Num(s.buckets[b]) + "\"", in[b]);
      if (!s.no_inf) line(s.name + "_bucket", sep + "le=\"+Inf\"", n);
      line(s.name + "_count", s.labels, n);
      line(s.name + "_sum", s.labels, sum);
    } else if (s.type == "info") {  // an info gauge: its labels are the figures, its value when set
      line(s.name, s.labels, s.value);
    }
  }
  return out;
}

// Serves each replay at /NAME on a loopback port, from its own clock.
class ReplayServer {
 public:
  explicit ReplayServer(std::map<std::string, Replay> replays) : replays_(std::move(replays)) {
    start_ = std::chrono::steady_clock::now();
    for (const auto& [name, replay] : replays_) {
      const Replay* r = &replay;
      server_.Get("/" + name, [this, r](const httplib::Request&, httplib::Response& res) {
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        res.set_content(RenderReplay(*r, t), "text/plain; version=0.0.4; charset=utf-8");
      });
    }
    server_.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("", "text/plain"); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ReplayServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::map<std::string, Replay> replays_;
  std::chrono::steady_clock::time_point start_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace vigil::testing
