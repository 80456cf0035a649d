// Chrome Trace Event files: written gzip-compressed from a capture within a
// byte budget (cut at an event boundary and marked truncated), and read back
// (gzip or plain JSON, Vigil's or PyTorch/vLLM's) for the summary.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "engine/capture.h"

namespace vigil::capture {

// A complete ("X") event; what the summary reads.
struct Event {
  std::string name;
  std::string cat;
  double ts = 0;   // microseconds
  double dur = 0;  // microseconds
  int64_t pid = 0;
  int64_t tid = 0;
  nlohmann::json args;  // may be null
};

Event FromRecord(const engine::TraceRecord& r);

struct WriteResult {
  int64_t bytes = 0;  // uncompressed JSON
  int64_t compressed_bytes = 0;
  int64_t events_written = 0;
  int64_t events_dropped = 0;
  bool truncated = false;
};

// Writes {"traceEvents": [...], "displayTimeUnit": "ms", "vigil": metadata}
// to `path` (gzip). Events go out in time order; when the next one would
// take the JSON past `max_bytes`, writing stops there and metadata gets
// "truncated": true. Fails cleanly (file removed) on a disk error.
Status WriteTrace(const std::string& path, std::vector<Event> events, nlohmann::json metadata, int64_t max_bytes,
                  WriteResult* out);

// Reads a trace (gzip or plain): its complete events ("X", and "B"/"E"
// pairs), and the "vigil" metadata when present.
Status ReadTrace(const std::string& path, std::vector<Event>* events, nlohmann::json* metadata);

}  // namespace vigil::capture
