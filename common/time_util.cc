#include "common/time_util.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "common/clock.h"

namespace vigil {

double UnixNow() { return RealClock::Unix(); }

bool ParseRfc3339(const std::string& s, double* out) {
  int y, mo, d, h, mi;
  double sec;
  char rest[16] = {0};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, rest) < 6) return false;
  // %lf takes any number: huge seconds made times no time_t can hold.
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || !(sec >= 0 && sec < 61))
    return false;
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

std::string FormatRfc3339(double t) {
  const time_t secs = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>((t - static_cast<double>(secs)) * 1000));
  return buf;
}

}  // namespace vigil
