// Where an installed vigild finds its data (tokenizer, dashboard): next to
// the running binary first, so a build configured for one prefix works when
// packaged for another (the .deb installs to /usr from a /usr/local build).
#pragma once

#include <unistd.h>

#include <string>

namespace vigil::daemon {

// <prefix>/share/vigil for /proc/self/exe = <prefix>/bin/vigild; "" if unknown.
inline std::string ExeRelativeDataDir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string dir(buf, static_cast<size_t>(n));
  for (int up = 0; up < 2; ++up) {  // drop "vigild", then "bin"
    const size_t slash = dir.rfind('/');
    if (slash == std::string::npos) return "";
    dir.resize(slash);
  }
  return dir + "/share/vigil";
}

}  // namespace vigil::daemon
