// Small helpers shared by vigild's HTTP handlers.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "daemon/openai.h"
#include "detectors/detectors.h"

namespace httplib {
struct Response;
}

namespace vigil::daemon {

double UnixNow();
// RFC 3339 ("2026-11-23T02:00:00Z", optional fraction and offset) to unix seconds.
bool ParseRfc3339(const std::string& s, double* out);
nlohmann::json AnomalyJson(const detectors::AnomalyEvent& e);
// An OpenAI-style error body with the ApiError's status.
void SendError(httplib::Response& res, const ApiError& e);

}  // namespace vigil::daemon
