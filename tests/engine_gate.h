// Holds the engine thread inside a step, at one of a request's outputs, until
// the test releases it: what the test asks meanwhile (a capture, an abort)
// lands before the engine's next step, however late the test thread runs.
// The callback owns the gate (shared_ptr), so a late output after a failed
// assertion never touches freed test state.
#pragma once

#include <atomic>
#include <chrono>
#include <future>
#include <memory>

#include "engine/engine.h"

namespace vigil::testing {

class EngineGate {
 public:
  // A request callback that passes each output to `next`, then holds the
  // engine thread at the output that brings the request's tokens to `at`
  // (once, and never on its last output).
  static engine::OutputCallback Hold(std::shared_ptr<EngineGate> g, int at, engine::OutputCallback next = nullptr) {
    return [g, at, next](const engine::RequestOutput& o) {
      if (next) next(o);
      g->outputs_++;
      const int n = static_cast<int>(o.new_token_ids.size());
      const int before = g->tokens_.fetch_add(n);
      if (before < at && before + n >= at && !o.finished) {
        g->held_.set_value();
        g->go_.wait();
      }
    };
  }
  bool WaitHeld(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    return held_future_.wait_for(timeout) == std::future_status::ready;
  }
  // Idempotent: call it on every exit, so the engine thread is never left held.
  void Release() {
    if (!released_.exchange(true)) release_.set_value();
  }
  int outputs() const { return outputs_; }

 private:
  std::atomic<int> outputs_{0}, tokens_{0};
  std::atomic<bool> released_{false};
  std::promise<void> held_, release_;
  std::future<void> held_future_ = held_.get_future();
  std::shared_future<void> go_ = release_.get_future().share();
};

}  // namespace vigil::testing
