// The signal table: one row per signal, the only place a signal is defined.
// A row names the signal (what detectors, rules, the API and the docs use),
// says how it is derived, and from which input of each source: a field of
// the hosted engine's EngineStats, a canonical input of a scraped engine's
// InstanceReading (scrape/adapter.h). The catalogue, both derivers
// (monitor/signals.h, scrape/deriver.h) and the coverage report
// (pipeline/coverage.h) are built from it, so a new signal is one row.
// Torch-free and engine-free: EngineStats is only named here.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vigil {
class QuantileSketch;
namespace engine {
struct EngineStats;
}
}  // namespace vigil

namespace vigil::monitor {

// What the catalogue, /api/v1 and the docs call it (gauge/counter/derived).
enum class SignalKind { kGauge, kCounter, kDerived };

// How the value is made, the same for every source that has the signal.
enum class Derivation {
  kGauge,     // the input as read
  kCounter,   // the input made reset-safe (ResetSafeCounter)
  kRate,      // per second: the increase of the counter signal `of` over the window (WindowIncrease)
  kRatio,     // the increase of counter `of` over that of counter `per` in the window; absent while `per` is flat
  kQuantile,  // quantile `q` of the distribution `dist` over the window
  kSpecial,   // code of its own in each deriver, named by `special`
};

enum class Special {
  kNone,
  kBusyFraction,    // hosted: busy seconds over the last interval; scraped: the engine's gauge
  kCpuUtilization,  // hosted: engine thread CPU seconds over the last interval
  kUtilization,     // hosted: the device's figure (NVML on CUDA, else CPU time)
  kStalled,         // time since the engine's progress counter last moved with work in flight
  kStallTimeout,    // the setting EngineStalled compares with, next to kStalled
  kTargetUp,        // the scrape itself succeeded
  kTargetHealthUp,  // the target's health endpoint answered 200
};

// Which sources have the signal (SignalInfo::sources bits).
inline constexpr unsigned kHosted = 1, kScraped = 2;

using HostedValue = std::optional<double> (*)(const engine::EngineStats&);   // nullopt: absent this tick
using HostedSketch = const QuantileSketch& (*)(const engine::EngineStats&);  // cumulative

struct SignalInfo {
  const char* name;
  SignalKind kind;
  const char* unit;
  const char* help;
  Derivation how = Derivation::kGauge;
  unsigned sources = 0;  // kHosted | kScraped
  // kGauge/kCounter: the hosted engine's figure.
  HostedValue hosted = nullptr;
  // kGauge/kCounter: the canonical input read from a scrape; kQuantile: the
  // histogram; kRatio: a gauge read instead where the counters are absent;
  // kSpecial: the input its code needs (coverage names it when missing).
  const char* scrape = nullptr;
  // kRate: the counter signal; kRatio: the counters (a counter signal, or a
  // canonical scrape counter that is no signal of its own).
  const char* of = nullptr;
  const char* per = nullptr;
  // kQuantile: the distribution (rows of one share its window), its hosted
  // sketch, and q.
  const char* dist = nullptr;
  HostedSketch sketch = nullptr;
  double q = 0;
  Special special = Special::kNone;
};

// Every signal, in catalogue order (visible in APIs and docs).
const std::vector<SignalInfo>& Catalogue();
const SignalInfo* FindSignal(const std::string& name);

// The hosted engine's figure for `signal` as its row reads it (kGauge and
// kCounter rows; before reset-safety): what /health/report and /metrics
// serve, so EngineStats is mapped to a signal in one place. Throws
// std::logic_error for a name with no such row: a programming error.
std::optional<double> HostedFigure(const engine::EngineStats& s, const std::string& signal);

inline bool FromHosted(const SignalInfo& s) { return s.sources & kHosted; }
inline bool FromScrape(const SignalInfo& s) { return s.sources & kScraped; }

// The canonical scrape inputs (scrape/adapter.h) `s` is derived from, all
// of which a scrape must expose for it (empty: the scrape itself). A
// fallback gauge (kRatio's `scrape`) stands for its alternatives: the
// adapter reports it missing only when neither it nor the counters are served.
std::vector<std::string> ScrapeInputs(const SignalInfo& s);

}  // namespace vigil::monitor
