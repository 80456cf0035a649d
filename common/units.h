// Durations ("500ms", "30s", "5m", "1h", "1h30m") and sizes ("512MiB",
// "2GiB", "64KB", "1024") as users write them in config and rule files.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace vigil {

// Seconds; InvalidArgument naming what was expected.
Status ParseDuration(const std::string& text, double* seconds);
// Bytes; binary (KiB, MiB, GiB, TiB) and decimal (KB, MB, GB, TB) units.
Status ParseSize(const std::string& text, int64_t* bytes);
std::string FormatDuration(double seconds);  // "1h30m", "500ms", "2.5s"
std::string FormatSize(int64_t bytes);       // "512 B", "1.5 MiB"

}  // namespace vigil
