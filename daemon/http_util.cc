#include "daemon/http_util.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "daemon/diagnosis.h"

namespace vigil::daemon {

using json = nlohmann::json;

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool ParseRfc3339(const std::string& s, double* out) {
  int y, mo, d, h, mi;
  double sec;
  char rest[16] = {0};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, rest) < 6) return false;
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  double t = static_cast<double>(timegm(&tm)) + sec;
  std::string r = rest;
  if (r.empty() || r == "Z" || r == "z") {
  } else if ((r[0] == '+' || r[0] == '-') && r.size() == 6 && r[3] == ':') {
    const int oh = std::atoi(r.substr(1, 2).c_str()), om = std::atoi(r.substr(4, 2).c_str());
    t -= (r[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else {
    return false;
  }
  *out = t;
  return true;
}

json AnomalyJson(const detectors::AnomalyEvent& e) {
  json j = {{"time", FormatTime(e.time)}, {"detector", e.detector}, {"signals", e.signals}, {"value", e.value},
            {"score", e.score}, {"direction", e.direction}, {"message", e.message}};
  if (e.detector == "zscore") {
    j["mean"] = e.mean;
    j["stddev"] = e.stddev;
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

}  // namespace vigil::daemon
