#include "monitor/sampler.h"

#include <spdlog/spdlog.h>

#include "common/time_util.h"

#include <chrono>
#include <cmath>

namespace vigil::monitor {

Sampler::Sampler(SamplerConfig cfg, StatsSource source, SeriesStore* store)
    : cfg_(cfg), source_(std::move(source)), store_(store), deriver_(cfg.deriver) {}

Sampler::~Sampler() { Stop(); }

void Sampler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Sampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Sampler::TickOnce(double now) {
  auto values = deriver_.Tick(now, source_());
  store_->AppendTick(now, values);
  for (auto& h : hooks_) h(now, values);
  ++ticks_;
}

void Sampler::Loop() {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg_.interval_s));
  const auto start = Clock::now();
  uint64_t n = 0;
  while (true) {
    TickOnce(UnixNow());
    // Next slot on the grid start + k*interval after now; overrun slots are skipped.
    const auto now = Clock::now();
    const uint64_t due = static_cast<uint64_t>((now - start) / interval) + 1;
    if (due > n + 1) {
      skipped_ += due - n - 1;
      spdlog::debug("sampler: a tick overran its interval; skipped {} tick(s)", due - n - 1);
    }
    n = due;
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_until(lock, start + interval * static_cast<int64_t>(n), [this] { return stop_; })) return;
  }
}

}  // namespace vigil::monitor
