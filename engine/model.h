// Decoder-only transformers (Llama, Qwen2, Mistral, OPT, GPT-2) over a paged
// KV cache, in plain libtorch ops that work on libtorch 1.13 and 2.x alike.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model_config.h"

namespace vigil::engine {

// Sequences that attend together, padded to a rectangle: the decodes of a step
// form one group, each prefill chunk its own.
struct AttentionGroup {
  torch::Tensor q_index;   // [batch*max_q] rows of the step's tokens; padding -> the dummy row T
  torch::Tensor kv_slots;  // [batch*max_ctx] KV-cache slots; padding -> slot 0 (masked)
  torch::Tensor mask;      // [batch, 1, max_q, max_ctx] additive: 0 or -inf
  int64_t batch = 0, max_q = 0, max_ctx = 0;
};

struct ForwardBatch {
  int64_t num_tokens = 0;
  torch::Tensor input_ids;       // [T] int64
  torch::Tensor positions;       // [T] int64
  torch::Tensor slot_mapping;    // [T] int64: where each token's K/V goes
  torch::Tensor logits_indices;  // [N] int64: tokens whose logits are wanted
  std::vector<AttentionGroup> groups;
};

// K and V of every layer: [num_blocks * block_size, num_kv_heads, head_dim].
struct KVCache {
  std::vector<torch::Tensor> k, v;
  int64_t num_slots = 0;
  static int64_t BytesPerBlock(const ModelConfig& c, int block_size, torch::Dtype dtype);
  static KVCache Allocate(const ModelConfig& c, int64_t num_blocks, int block_size, torch::Device device,
                          torch::Dtype dtype);
};

class Model {
 public:
  // Loads weights from dir's model.safetensors or sharded index.
  static Status Load(const std::string& dir, const ModelConfig& config, torch::Device device, torch::Dtype dtype,
                     std::unique_ptr<Model>* out);
  // Random weights from a fixed seed (the built-in model).
  static std::unique_ptr<Model> Random(const ModelConfig& config, uint64_t seed, torch::Device device,
                                       torch::Dtype dtype);

  // Runs one step; returns float32 logits [N, vocab] for batch.logits_indices.
  torch::Tensor Forward(const ForwardBatch& batch, KVCache& cache) const;

  const ModelConfig& config() const { return config_; }
  torch::Device device() const { return device_; }
  torch::Dtype dtype() const { return dtype_; }
  int64_t num_params() const;

  struct Layer {
    torch::Tensor ln1_w, ln1_b, ln2_w, ln2_b;
    torch::Tensor qkv_w, qkv_b, o_w, o_b;
    torch::Tensor up_w, up_b, down_w, down_b;  // up is gate|up fused for SwiGLU
  };

 private:
  Model(const ModelConfig& c, torch::Device d, torch::Dtype t) : config_(c), device_(d), dtype_(t) {}
  void BuildRope();
  void KeepNormsInFloat32();
  torch::Tensor Norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) const;
  torch::Tensor Attention(const torch::Tensor& q, const torch::Tensor& kc, const torch::Tensor& vc,
                          const ForwardBatch& batch, double scale) const;
  torch::Tensor Mlp(const Layer& l, const torch::Tensor& x) const;

  ModelConfig config_;
  torch::Device device_;
  torch::Dtype dtype_;
  torch::Tensor embed_, pos_embed_, final_w_, final_b_, lm_head_, project_in_, project_out_;
  torch::Tensor rope_cos_, rope_sin_;  // [max_pos, head_dim] float32
  std::vector<Layer> layers_;

  friend class WeightLoader;
};

// "float32"/"bfloat16"/"float16" (and "auto", resolved against the checkpoint
// and device) to a torch dtype.
Status ResolveDtype(const std::string& requested, const std::string& checkpoint_dtype, bool is_cuda, torch::Dtype* out);
std::string DtypeName(torch::Dtype dtype);

}  // namespace vigil::engine
