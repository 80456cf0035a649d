// Wall-clock time as the APIs speak it: unix seconds and RFC 3339 (UTC).
#pragma once

#include <string>

namespace vigil {

// The real clock's Unix time, for code with no injected Clock (common/clock.h).
double UnixNow();
// "2026-11-23T02:00:00.000Z" (milliseconds, UTC).
std::string FormatRfc3339(double unix_seconds);
// RFC 3339 ("2026-11-23T02:00:00Z", optional fraction and offset) to unix seconds.
bool ParseRfc3339(const std::string& s, double* out);

}  // namespace vigil
