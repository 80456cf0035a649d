// Many concurrent HTTP requests from one thread (non-blocking sockets and
// poll): a thousand streaming clients cost a thousand sockets, not a thousand
// threads. Closed loop: each of `concurrency` slots sends its next request
// when the last one ends, until `requests` have been sent. Used by the
// serving tests and bench/http_bench.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace vigil::cli {

struct FleetOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string method = "POST";
  std::string path = "/v1/completions";
  std::string body;     // the same for every request (JSON)
  std::string api_key;  // sent as Authorization: Bearer
  int concurrency = 1;
  int64_t requests = 1;
  double timeout_s = 120;  // the whole run; what is unfinished then counts as "timeout"
  bool keep_alive = true;  // a slot's next request reuses its connection (unless the server closes it)
};

struct FleetResult {
  int64_t ok = 0;                         // 200 with a complete body (a stream ends in data: [DONE])
  std::map<int, int64_t> status;          // by HTTP status
  std::map<std::string, int64_t> errors;  // connect, reset, incomplete, timeout, bad_response
  int64_t retry_after = 0;                // responses carrying a Retry-After header
  int64_t events = 0;                     // SSE data events, [DONE] excluded
  std::vector<double> ttfb_s;             // request sent -> first SSE event (the whole body if not SSE), per 200
  std::vector<double> e2e_s;              // request sent -> complete, per 200
  std::vector<std::string> error_bodies;  // the first few non-200 bodies
  double wall_s = 0;
  int max_open = 0;  // most connections open at once
};

// Runs the fleet; `tick` (if set) is called about every 100 ms from the
// fleet's thread with the number of requests in flight.
FleetResult RunFleet(const FleetOptions& o, const std::function<void(int in_flight)>& tick = nullptr);

}  // namespace vigil::cli
