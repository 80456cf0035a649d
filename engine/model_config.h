// A decoder-only architecture as the engine runs it, parsed from a
// HuggingFace config.json. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::engine {

enum class NormKind { kRMSNorm, kLayerNorm };
enum class PositionKind { kRotary, kLearned };
enum class Activation { kSiluGated, kRelu, kGeluTanh, kGelu };

struct RopeScaling {
  std::string type = "default";  // default | linear | llama3
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // llama, qwen2, mistral, opt, gpt2
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 0;
  double norm_eps = 1e-5;
  NormKind norm = NormKind::kRMSNorm;
  PositionKind positions = PositionKind::kRotary;
  int64_t position_offset = 0;  // OPT's learned positions start at 2
  Activation activation = Activation::kSiluGated;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool qkv_bias = false;
  bool out_bias = false;
  bool mlp_bias = false;
  bool tie_word_embeddings = false;
  bool pre_norm = true;              // OPT-350m uses post-norm
  bool scale_attn_by_layer = false;  // GPT-2's scale_attn_by_inverse_layer_idx
  int64_t word_embed_proj_dim = 0;   // OPT: != hidden_size means project_in/out
  std::vector<int32_t> eos_token_ids;
  int32_t bos_token_id = -1;
  std::string torch_dtype = "float32";  // the checkpoint's dtype

  int64_t q_size() const { return num_heads * head_dim; }
  int64_t kv_size() const { return num_kv_heads * head_dim; }
};

// Reads dir/config.json (and dir/generation_config.json for EOS ids when
// present). Unsupported model types and rope scalings are clear errors.
Status LoadModelConfig(const std::string& dir, ModelConfig* out);
Status ParseModelConfig(const std::string& json_text, const std::string& source, ModelConfig* out);

// The built-in random-weight Llama (vocabulary of the GPT-2 tokenizer).
ModelConfig TinyLlamaConfig();

// The built-in random-weight models by the name after "builtin:":
// "tiny-llama" (TinyLlamaConfig: the daemon's default, with GPT-2's
// tokenizer) and "tinyllama-1.1b" (TinyLlama-1.1B's shape, bf16 on CUDA, so
// throughput at a real model's size is measured without downloading weights;
// its 32,000-token vocabulary fits no tokenizer Vigil ships). False for an
// unknown name.
bool BuiltinModelConfig(const std::string& name, ModelConfig* out);

}  // namespace vigil::engine
