#include "common/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace vigil {

Status ParseDuration(const std::string& text, double* seconds) {
  const Status bad = Status::InvalidArgument("expected a duration like 500ms, 30s, 5m or 1h, got \"" + text + "\"");
  if (text.empty()) return bad;
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return bad;
    const double v = std::strtod(text.substr(start, i - start).c_str(), nullptr);
    size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string unit = text.substr(u, i - u);
    double mult;
    if (unit == "ms") mult = 1e-3;
    else if (unit == "us") mult = 1e-6;
    else if (unit == "s") mult = 1;
    else if (unit == "m") mult = 60;
    else if (unit == "h") mult = 3600;
    else if (unit == "d") mult = 86400;
    else return bad;
    total += v * mult;
  }
  if (!std::isfinite(total)) return bad;
  *seconds = total;
  return Status::OK();
}

Status ParseSize(const std::string& text, int64_t* bytes) {
  const Status bad = Status::InvalidArgument("expected a size like 512MiB or 2GiB, got \"" + text + "\"");
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return bad;
  const double v = std::strtod(text.substr(0, i).c_str(), nullptr);
  std::string unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  double mult;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB") mult = 1024.0;
  else if (unit == "MiB") mult = 1024.0 * 1024;
  else if (unit == "GiB") mult = 1024.0 * 1024 * 1024;
  else if (unit == "TiB") mult = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "KB" || unit == "kB") mult = 1e3;
  else if (unit == "MB") mult = 1e6;
  else if (unit == "GB") mult = 1e9;
  else if (unit == "TB") mult = 1e12;
  else return bad;
  const double b = v * mult;
  if (!std::isfinite(b) || b > 9.0e18) return bad;
  *bytes = static_cast<int64_t>(b);
  return Status::OK();
}

std::string FormatDuration(double s) {
  char buf[64];
  if (s < 1) {
    std::snprintf(buf, sizeof buf, "%gms", s * 1e3);
    return buf;
  }
  if (s < 60 || std::fmod(s, 60) != 0) {
    std::snprintf(buf, sizeof buf, "%gs", s);
    return buf;
  }
  const int64_t m = static_cast<int64_t>(s / 60);
  if (m % 60 == 0) return std::to_string(m / 60) + "h";
  if (m > 60) return std::to_string(m / 60) + "h" + std::to_string(m % 60) + "m";
  return std::to_string(m) + "m";
}

}  // namespace vigil

namespace vigil {

std::string FormatSize(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace vigil
