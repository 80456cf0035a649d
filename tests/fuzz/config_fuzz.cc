// The daemon's YAML config (daemon/config*.cc) on arbitrary text.
#include "daemon/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vigil::daemon::Config c;
  (void)vigil::daemon::ParseConfig(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml", &c);
  return 0;
}
