// The safetensors header parser (engine/safetensors.cc) on arbitrary files:
// a checkpoint is outside input. Every accepted tensor must lie inside the
// mapping with a byte size that matches its shape.
#include <cstdlib>
#include <cstring>

#include "engine/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<vigil::engine::SafetensorsFile> f;
  if (!vigil::engine::SafetensorsFile::Open(vigil::fuzz::WriteMemFile(data, size), &f).ok()) return 0;
  for (const auto& [name, t] : f->tensors()) {
    // What the weight loader does with an accepted tensor: size it, read it.
    const int64_t numel = t.numel();
    if (numel < 0 || static_cast<uint64_t>(numel) * vigil::engine::DtypeSize(t.dtype) != t.nbytes) std::abort();
    for (int64_t d : t.shape)
      if (d < 0) std::abort();
    volatile uint8_t sink = 0;
    const auto* p = static_cast<const uint8_t*>(t.data);
    for (size_t i = 0; i < t.nbytes; i += 4096) sink = sink + p[i];
    if (t.nbytes > 0) sink = sink + p[t.nbytes - 1];
  }
  return 0;
}
