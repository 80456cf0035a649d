// Small POSIX helpers shared by the daemon, the CLI, benchmarks and tests.
#pragma once

#include <string>

#include "common/status.h"

namespace vigil {

// mkdir -p; quiet: callers report what they then cannot write.
void MakeDirs(const std::string& dir);
// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0).
int FreeLoopbackPort();
// The whole file; false when it cannot be opened or read.
bool ReadFileToString(const std::string& path, std::string* out);
// The whole file, or NotFound: "<path>: cannot open <what>".
Status ReadWholeFile(const std::string& path, const std::string& what, std::string* out);
// A secret file (token, key): its first line without trailing whitespace.
// NotFound when it cannot be read, InvalidArgument when that line is empty.
Status ReadSecretFile(const std::string& path, const std::string& what, std::string* out);

}  // namespace vigil
