// Process-wide logging setup on spdlog. Logs go to stderr (journald picks them
// up under systemd); call sites use spdlog::info/warn/error directly.
#pragma once

#include <string>

#include "common/status.h"

namespace vigil {

// Level names as users write them: trace, debug, info, warn, error, critical, off.
Status SetLogLevel(const std::string& level);
void InitLogging(const std::string& level = "info");

}  // namespace vigil
