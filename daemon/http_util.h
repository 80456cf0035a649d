// Small helpers shared by vigild's HTTP handlers.
#pragma once

#include <algorithm>
#include <functional>

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "common/time_util.h"
#include "daemon/openai.h"
#include "detectors/detectors.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace vigil::daemon {

nlohmann::json AnomalyJson(const detectors::AnomalyEvent& e);
// An OpenAI-style error body with the ApiError's status.
void SendError(httplib::Response& res, const ApiError& e);
// The one Status -> HTTP mapping: InvalidArgument and ResourceExhausted (a
// request that can never fit) 400, NotFound 404, FailedPrecondition 409,
// Unavailable 503, Unimplemented 501, anything else 500.
ApiError ErrorFromStatus(const Status& st);

inline void SendStatus(httplib::Response& res, const Status& st) { SendError(res, ErrorFromStatus(st)); }

// The daemon's admin check, given to the components that serve admin
// endpoints: false after it has answered 401/403 itself.
using AccessCheck = std::function<bool(const httplib::Request&, httplib::Response&)>;

}  // namespace vigil::daemon
