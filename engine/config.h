// Engine settings (the daemon's `engine:` config section maps onto this).
// Torch-free: anything may include it.
#pragma once

#include <cstdint>
#include <string>

namespace vigil::engine {

// Deliberate misbehaviour for demonstrating and testing pathologies. All off
// by default; the engine logs loudly when any is on.
struct FaultConfig {
  // Probability in [0,1] that an aborted request's KV blocks are not freed.
  double leak_blocks_on_abort = 0.0;
  // Test hook: each engine iteration sleeps this long before stepping, so
  // a "stuck engine" can be simulated (0 = off).
  int64_t stall_step_ms = 0;
};

struct EngineConfig {
  // Checkpoint directory (config.json + *.safetensors) or "builtin:tiny-llama".
  std::string model = "builtin:tiny-llama";
  std::string device = "cpu";             // "cpu", "cuda", "cuda:N"
  std::string dtype = "auto";             // auto | float32 | bfloat16 | float16
  int block_size = 16;                    // tokens per KV block
  int64_t num_blocks = 0;                 // 0: derive from kv_cache_memory
  int64_t kv_cache_memory = 256LL << 20;  // bytes for K and V of all layers
  int max_num_seqs = 64;                  // running requests per step
  int max_num_batched_tokens = 2048;      // token budget per step
  int max_model_len = 0;                  // 0: the model's max_position_embeddings
  bool enable_chunked_prefill = true;
  bool enable_prefix_caching = true;
  uint64_t seed = 0;               // seeds the built-in model and unseeded sampling
  double request_timeout_s = 300;  // running longer than this counts as stuck
  FaultConfig faults;
};

}  // namespace vigil::engine
