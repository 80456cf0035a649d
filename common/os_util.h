// Small POSIX helpers shared by the daemon, the CLI, benchmarks and tests.
#pragma once

#include <string>

namespace vigil {

// mkdir -p; quiet: callers report what they then cannot write.
void MakeDirs(const std::string& dir);
// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0).
int FreeLoopbackPort();
// The whole file; false when it cannot be opened or read.
bool ReadFileToString(const std::string& path, std::string* out);

}  // namespace vigil
