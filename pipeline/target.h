// A watched target: one HTTP server (vLLM, SGLang, TGI, llama.cpp's server
// or another vigild) whose /metrics Vigil scrapes on the monitor's grid.
// FetchTarget is the whole scrape of one target: GET the metrics (bounded in
// size and time), parse them as hostile input, map them to Vigil's inputs,
// and probe the health endpoint. It blocks; the pipeline runs it on a
// scrape worker, never on its own thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "scrape/adapter.h"
#include "scrape/exposition.h"

namespace vigil::pipeline {

struct ProfileConfig {
  bool enabled = false;         // the target serves /start_profile and /stop_profile (vLLM with its profiler on)
  std::string dir;              // where it writes traces (VLLM_TORCH_PROFILER_DIR), when readable from here
  double duration_s = 5;        // how long a capture profiles
  double stop_timeout_s = 120;  // /stop_profile returns once the trace is written: it can take long
};

struct TargetConfig {
  std::string name;
  std::string url;                                           // http(s)://host:port[/metrics path]; no path: /metrics
  scrape::EngineKind engine = scrape::EngineKind::kUnknown;  // kUnknown: auto
  double scrape_timeout_s = 2;
  std::string bearer_token_file;
  std::string health_path = "/health";  // "" : not probed
  double health_interval_s = 5;         // probed with a scrape at most this often
  ProfileConfig profile;
  scrape::ParseLimits limits;
};

// Splits "http://h:p/path" into the client's base ("http://h:p") and the
// path ("/path", "/metrics" when none). InvalidArgument for another scheme,
// no host, or a query/fragment.
Status SplitTargetUrl(const std::string& url, std::string* base, std::string* path);

struct ScrapeResult {
  double started = 0;  // unix seconds
  double duration_s = 0;
  bool ok = false;
  std::string error;  // why not ok, for /api/v1/targets and the log
  std::string
      reason;  // vigil_target_scrape_errors_total's reason: connect, timeout, http_status, too_large, syntax, ...
  scrape::EngineKind kind = scrape::EngineKind::kUnknown;  // detected (or configured)
  std::vector<scrape::InstanceReading> readings;
  std::vector<std::string> missing;
  // Families left out of an otherwise good scrape (a duplicate series, a
  // malformed histogram), each counted under its reason.
  std::vector<scrape::DroppedFamily> dropped;
  size_t samples = 0;
  int health = -1;  // -1 not probed this time; 1 answered 200; 0 did not
  std::string health_error;
};

// More engines than this behind one target fail the scrape (too_many_engines).
constexpr size_t kMaxEnginesPerTarget = 64;

// One target's HTTP connection, kept alive from scrape to scrape (else every
// scrape opens and closes two TCP connections, on both sides). One scrape at
// a time; reconnects when the target closed it.
class ScrapeSession {
 public:
  ScrapeSession();
  ~ScrapeSession();
  // `token`: the bearer token read from bearer_token_file ("" for none).
  ScrapeResult Fetch(const TargetConfig& t, const std::string& token, double now);

 private:
  struct Conn;
  std::unique_ptr<Conn> conn_;
  double last_probe_ = -1;  // when the health path was last probed (the scrape's `now`)
};

// One scrape on a fresh connection.
ScrapeResult FetchTarget(const TargetConfig& t, const std::string& token, double now);

}  // namespace vigil::pipeline
