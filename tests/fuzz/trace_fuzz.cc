// The Chrome-trace reader (capture/trace.cc) on arbitrary files, gzip or
// plain: targets' profiler traces are outside input.
#include "capture/trace.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<vigil::capture::Event> events;
  nlohmann::json metadata;
  (void)vigil::capture::ReadTrace(vigil::fuzz::WriteMemFile(data, size), &events, &metadata);
  return 0;
}
