// The load generator behind `vigilctl load` and `vigilctl scenario`: drives
// any OpenAI-compatible server (Vigil, vLLM, llama.cpp's server) closed loop
// (N clients) or open loop (Poisson arrivals, latencies measured from the
// intended start so a slow server cannot hide queueing: no coordinated
// omission), and measures TTFT, TBT and E2E from the SSE stream.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "common/status.h"

namespace httplib {
class Client;
}

namespace vigil::cli {

struct LoadOptions {
  std::string url = "http://127.0.0.1:8000";
  std::string model;  // empty: the server's first /v1/models entry
  std::string api_key;
  int concurrency = 0;    // closed loop
  double rate = 0;        // open loop, requests/s (Poisson)
  int64_t requests = 0;   // stop after this many (0: no limit)
  double duration_s = 0;  // ... or after this long (0: no limit)
  int prompt_tokens = 128;
  double prompt_tokens_stddev = 0;
  int max_tokens = 128;
  int shared_prefix_tokens = 0;  // a prefix common to every prompt
  bool stream = true;
  uint64_t seed = 1;
  int vocab = 30000;               // prompt token ids are drawn below this
  bool ignore_eos = true;          // so every request produces max_tokens
  double disconnect_fraction = 0;  // clients that hang up mid-stream
  int disconnect_after = 4;        // ... after this many chunks
  double request_timeout_s = 600;
};

// The options' own consistency (a rate or concurrency, a bound, a shared
// prefix shorter than the prompt): what Run would refuse, checked up front.
Status ValidateLoadOptions(const LoadOptions& o);

// A named preset after the classic vLLM load tests; `scale` shrinks token
// counts and request counts for a small CPU model. False for an unknown name.
bool LoadPreset(const std::string& name, double scale, LoadOptions* o);
std::vector<std::string> LoadPresetNames();

struct Percentiles {
  double p50 = 0, p95 = 0, p99 = 0, mean = 0;
  size_t n = 0;
};

struct LoadResult {
  int64_t sent = 0, ok = 0, disconnected = 0;
  std::map<std::string, int64_t> errors;  // by type: http_503, connect, timeout, ...
  int64_t output_tokens = 0, prompt_tokens = 0;
  double wall_s = 0;
  Percentiles ttft, tbt, e2e;  // seconds
  double output_tokens_per_s = 0, requests_per_s = 0;
  nlohmann::json ToJson() const;
  std::string ToText() const;
};

// Live figures for a progress display, called about twice a second.
using LoadProgress = std::function<void(const LoadResult& so_far, double elapsed_s)>;

class LoadGenerator {
 public:
  explicit LoadGenerator(LoadOptions o) : o_(std::move(o)) {}
  // Runs until requests or duration is reached, or Stop().
  Status Run(LoadResult* out, const LoadProgress& progress = nullptr);
  // Also closes the sockets of requests in flight, including ones a
  // saturated server has not started answering.
  void Stop() EXCLUDES(clients_mu_);

 private:
  LoadOptions o_;
  std::atomic<bool> stop_{false};
  Mutex clients_mu_;
  std::set<httplib::Client*> clients_ GUARDED_BY(clients_mu_);  // one per worker thread
};

Percentiles ComputePercentiles(std::vector<double> v);

}  // namespace vigil::cli
