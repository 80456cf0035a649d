// Helpers shared by the fuzz targets.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace vigil::fuzz {

// A memory-backed file for parsers that take a path (safetensors, traces):
// rewritten with each input, no disk writes. Returns its /proc path.
inline std::string WriteMemFile(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("vigil-fuzz", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  if (ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace vigil::fuzz
