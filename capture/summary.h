// What a capture says at a glance: step times, where the engine thread's
// time went by category (attention, matmul/linear, normalization,
// activation, sampling, scheduler and other host overhead, other operators,
// idle between steps; fractions of the window that add up to 1), the
// prefill/decode split, the top operators by self time, and GPU kernel time.
// Works on Vigil's traces and on PyTorch/vLLM ones (no step spans there: the
// busiest host thread is analysed and "idle" is the time between its
// top-level events).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "capture/trace.h"

namespace vigil::capture {

// `window_*_us` 0: the span of the events.
nlohmann::json Summarize(const std::vector<Event>& events, double window_start_us = 0, double window_end_us = 0);

// The category of an operator or span name ("" for structural spans).
std::string Category(const std::string& name, bool vigil_span);

}  // namespace vigil::capture
