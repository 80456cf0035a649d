#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace vigil {

Status SetLogLevel(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  // from_str maps anything unknown to "off"; only "off" itself may mean off.
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level \"" + level +
                                   "\" (expected trace, debug, info, warn, error, critical or off)");
  }
  spdlog::set_level(lvl);
  return Status::OK();
}

void InitLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("vigil");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  if (!SetLogLevel(level).ok()) spdlog::set_level(spdlog::level::info);
}

}  // namespace vigil
