// The engine's public interface: torch-free, so the daemon, monitor and tests
// talk to the engine without including libtorch (and can substitute a fake).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/config.h"
#include "engine/capture.h"
#include "engine/stats.h"

namespace vigil::engine {

struct SamplingParams {
  int max_tokens = 16;
  float temperature = 1.0f;  // 0: greedy
  float top_p = 1.0f;        // (0,1]
  int top_k = 0;             // 0 or -1: disabled
  std::optional<uint64_t> seed;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  // Return the logits of every prompt position (vigilctl logits, golden tests).
  bool return_prompt_logits = false;
};

// Incremental output of one request, delivered on the engine thread. Keep the
// callback short: copy out and return.
struct RequestOutput {
  std::string request_id;
  std::vector<int32_t> new_token_ids;
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  std::string error;  // set when finish_reason == kError
  int64_t num_prompt_tokens = 0;
  int64_t num_output_tokens = 0;     // so far
  int64_t num_cached_tokens = 0;     // prompt tokens served from the prefix cache
  std::vector<float> prompt_logits;  // [num_prompt_tokens * vocab] when asked
};
using OutputCallback = std::function<void(const RequestOutput&)>;

struct ModelInfo {
  std::string name;          // "builtin:tiny-llama" or the checkpoint path
  std::string architecture;  // llama, qwen2, opt, gpt2
  int64_t vocab_size = 0;
  int64_t max_model_len = 0;
  int64_t num_layers = 0;
  int64_t hidden_size = 0;
  int64_t num_params = 0;
  std::vector<int32_t> eos_token_ids;
  std::string device;
  std::string dtype;
  int64_t kv_blocks = 0;
  int64_t kv_cache_bytes = 0;
};

// The hosted engine. One engine thread runs the steps; AddRequest, Abort and
// GetStats are thread-safe and never wait for a step to finish.
class Engine {
 public:
  virtual ~Engine() = default;

  // Queues a request. Fails at once (never later, never retried forever) when
  // the request can never be served: empty or over-long prompt, token ids out
  // of range, more KV blocks than exist, a duplicate id, or after Stop().
  virtual Status AddRequest(const std::string& request_id, std::vector<int32_t> prompt_token_ids,
                            const SamplingParams& params, OutputCallback on_output) = 0;
  // Aborts a queued or running request; its blocks are freed at the next
  // iteration and its callback gets a final kAbort output. Unknown ids are ignored.
  virtual void Abort(const std::string& request_id) = 0;

  virtual EngineStats GetStats() const = 0;
  // The few numbers request admission and liveness checks need, without
  // copying the histograms and sketches of a full snapshot.
  struct Load {
    int64_t requests_running = 0;
    int64_t requests_waiting = 0;
    double kv_cache_usage = 0;
    int64_t generation_tokens_total = 0;
    int64_t heartbeat_ns = 0;
  };
  virtual Load GetLoad() const = 0;
  virtual const ModelInfo& model_info() const = 0;
  virtual const EngineConfig& config() const = 0;

  // Starts the engine thread. Stop() aborts what is left and joins it.
  virtual Status Start() = 0;
  virtual void Stop() = 0;

  // Records the next steps (engine/capture.h) until a bound or StopCapture();
  // `done` runs on the engine thread with the data and must only hand it
  // off. Unavailable while another capture runs.
  virtual Status StartCapture(const CaptureOptions& options, CaptureCallback done) = 0;
  virtual void StopCapture() = 0;
  virtual bool capture_running() const = 0;
};

// Loads the model named by config.model and sizes the KV cache.
Status CreateEngine(const EngineConfig& config, std::unique_ptr<Engine>* engine);

}  // namespace vigil::engine
