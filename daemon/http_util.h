// Small helpers shared by vigild's HTTP handlers.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/time_util.h"
#include "daemon/openai.h"
#include "detectors/detectors.h"

namespace httplib {
struct Response;
}

namespace vigil::daemon {

nlohmann::json AnomalyJson(const detectors::AnomalyEvent& e);
// An OpenAI-style error body with the ApiError's status.
void SendError(httplib::Response& res, const ApiError& e);

}  // namespace vigil::daemon
