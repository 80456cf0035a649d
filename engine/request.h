// A request as the scheduler tracks it. Torch-free.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace vigil::engine {

enum class RequestState { kWaiting, kRunning, kFinished };

struct Request {
  std::string id;
  std::vector<int32_t> tokens;  // prompt followed by the outputs so far
  int64_t num_prompt_tokens = 0;
  int64_t num_computed_tokens = 0;  // tokens whose KV is in the cache
  int64_t num_cached_tokens = -1;   // prefix-cache hit at first schedule (-1: not yet)
  int64_t max_total_tokens = 0;     // min(prompt + max_tokens, max_model_len)
  SamplingParams params;
  OutputCallback on_output;
  RequestState state = RequestState::kWaiting;
  FinishReason finish_reason = FinishReason::kNone;
  int64_t num_preemptions = 0;
  std::mt19937_64 rng;
  std::vector<float> prompt_logits_acc;  // when params.return_prompt_logits
  bool prompt_logits_sent = false;

  // Steady-clock seconds; < 0 means "not yet".
  double arrival_time = -1, first_scheduled_time = -1, first_token_time = -1, last_token_time = -1;

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
  bool is_prefill() const { return num_computed_tokens < num_tokens() - 1; }
};

}  // namespace vigil::engine
