#include "engine/tracer.h"

#include <sys/syscall.h>
#include <unistd.h>

namespace vigil::engine {

namespace {
thread_local Tracer* g_active = nullptr;
}

Tracer* Tracer::Active() { return g_active; }

void Tracer::Begin() {
  const double unix_us = static_cast<double>(RealClock::UnixNs()) / 1e3;
  offset_us_ = unix_us - static_cast<double>(SteadyNs()) / 1e3;
  tid_ = static_cast<int64_t>(::syscall(SYS_gettid));
  spans_.clear();
  g_active = this;
}

void Tracer::End() {
  if (g_active == this) g_active = nullptr;
}

}  // namespace vigil::engine
