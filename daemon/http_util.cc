#include "daemon/http_util.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/time_util.h"
#include "daemon/diagnosis.h"

namespace vigil::daemon {

using json = nlohmann::json;

json AnomalyJson(const detectors::AnomalyEvent& e) {
  json j = {{"time", FormatTime(e.time)}, {"detector", e.detector},   {"signals", e.signals}, {"value", e.value},
            {"score", e.score},           {"direction", e.direction}, {"message", e.message}};
  if (e.detector == "zscore") {
    j["mean"] = e.mean;
    j["stddev"] = e.stddev;
  }
  if (e.detector == "novelty") {
    j["start"] = j["time"];
    j["end"] = e.end >= 0 ? json(FormatTime(e.end)) : json(nullptr);
    j["peak_score"] = e.peak;
    j["expected"] = e.expected;
  }
  if (e.detector == "trend") {
    j["slope_per_s"] = e.slope;
    j["r2"] = e.r2;
    if (e.time_to_exhaustion_s >= 0) j["time_to_exhaustion_s"] = e.time_to_exhaustion_s;
  }
  return j;
}

void SendError(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(e.ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

ApiError ErrorFromStatus(const Status& st) {
  ApiError e;
  e.message = st.message();
  switch (st.code()) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kResourceExhausted: break;  // 400 invalid_request_error
    case Status::Code::kNotFound:
      e.status = 404;
      e.type = "NotFoundError";
      break;
    case Status::Code::kFailedPrecondition:
      e.status = 409;
      e.type = "conflict";
      break;
    case Status::Code::kUnavailable:
      e.status = 503;
      e.type = "service_unavailable";
      break;
    case Status::Code::kUnimplemented:
      e.status = 501;
      e.type = "not_implemented";
      break;
    default:
      e.status = 500;
      e.type = "internal_error";
      break;
  }
  return e;
}

}  // namespace vigil::daemon
