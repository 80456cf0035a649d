#include "engine/model.h"

#include <cmath>
#include <optional>

#include "engine/tracer.h"

namespace vigil::engine {

Status ResolveDtype(const std::string& requested, const std::string& checkpoint_dtype, bool is_cuda,
                    torch::Dtype* out) {
  std::string name = requested;
  if (name == "auto") {
    // CPU matmuls in half precision are slow on libtorch 1.13: compute in fp32
    // there. On GPU keep the checkpoint's half type, else bf16.
    if (!is_cuda) name = "float32";
    else name = (checkpoint_dtype == "float16" || checkpoint_dtype == "bfloat16") ? checkpoint_dtype : "bfloat16";
  }
  if (name == "float32" || name == "float") *out = torch::kFloat32;
  else if (name == "bfloat16") *out = torch::kBFloat16;
  else if (name == "float16" || name == "half") *out = torch::kFloat16;
  else return Status::InvalidArgument("dtype \"" + requested + "\" (expected auto, float32, bfloat16 or float16)");
  return Status::OK();
}

std::string DtypeName(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat32: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    default: return "other";
  }
}

int64_t KVCache::BytesPerBlock(const ModelConfig& c, int block_size, torch::Dtype dtype) {
  return 2 * c.num_layers * block_size * c.kv_size() * static_cast<int64_t>(torch::elementSize(dtype));
}

KVCache KVCache::Allocate(const ModelConfig& c, int64_t num_blocks, int block_size, torch::Device device,
                          torch::Dtype dtype) {
  KVCache kv;
  kv.num_slots = num_blocks * block_size;
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    kv.k.push_back(torch::zeros({kv.num_slots, c.num_kv_heads, c.head_dim}, opts));
    kv.v.push_back(torch::zeros({kv.num_slots, c.num_kv_heads, c.head_dim}, opts));
  }
  return kv;
}

int64_t Model::num_params() const {
  auto n = [](const torch::Tensor& t) { return t.defined() ? t.numel() : int64_t{0}; };
  int64_t total = n(embed_) + n(pos_embed_) + n(final_w_) + n(final_b_) + n(project_in_) + n(project_out_);
  if (!config_.tie_word_embeddings) total += n(lm_head_);
  for (const Layer& l : layers_) {
    for (const torch::Tensor* t : {&l.ln1_w, &l.ln1_b, &l.ln2_w, &l.ln2_b, &l.qkv_w, &l.qkv_b, &l.o_w, &l.o_b, &l.up_w,
                                   &l.up_b, &l.down_w, &l.down_b})
      total += n(*t);
  }
  return total;
}

void Model::BuildRope() {
  if (config_.positions != PositionKind::kRotary) return;
  const int64_t d = config_.head_dim;
  const RopeScaling& s = config_.rope_scaling;
  std::vector<float> inv(d / 2);
  for (int64_t i = 0; i < d / 2; ++i) {
    // Computed as HF does: float32 exponent, then the reciprocal.
    float expo = static_cast<float>(2 * i) / static_cast<float>(d);
    double f = 1.0 / std::pow(static_cast<float>(config_.rope_theta), expo);
    if (s.type == "linear") f /= s.factor;
    if (s.type == "llama3") {
      const double low_wl = s.original_max_position_embeddings / s.low_freq_factor;
      const double high_wl = s.original_max_position_embeddings / s.high_freq_factor;
      const double wl = 2 * M_PI / f;
      if (wl > low_wl) {
        f = f / s.factor;
      } else if (wl >= high_wl) {
        double smooth =
            (s.original_max_position_embeddings / wl - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1 - smooth) * f / s.factor + smooth * f;
      }
    }
    inv[i] = static_cast<float>(f);
  }
  auto inv_t = torch::from_blob(inv.data(), {d / 2}, torch::kFloat32).clone();
  auto pos = torch::arange(config_.max_position_embeddings, torch::kFloat32);
  auto freqs = torch::outer(pos, inv_t);
  auto emb = torch::cat({freqs, freqs}, -1);
  rope_cos_ = emb.cos().to(device_);
  rope_sin_ = emb.sin().to(device_);
}

// x and the norm weights are float32 (see Forward and KeepNormsInFloat32).
torch::Tensor Model::Norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) const {
  TraceScope span("norm");
  if (config_.norm == NormKind::kLayerNorm) { return torch::layer_norm(x, {x.size(-1)}, w, b, config_.norm_eps); }
  auto var = x.pow(2).mean(-1, /*keepdim=*/true);
  return w * (x * torch::rsqrt(var + config_.norm_eps));
}

void Model::KeepNormsInFloat32() {
  auto up = [](torch::Tensor& t) {
    if (t.defined()) t = t.to(torch::kFloat32);
  };
  for (Layer& l : layers_) {
    up(l.ln1_w);
    up(l.ln1_b);
    up(l.ln2_w);
    up(l.ln2_b);
  }
  up(final_w_);
  up(final_b_);
}

torch::Tensor Model::Mlp(const Layer& l, const torch::Tensor& x) const {
  auto h = torch::linear(x, l.up_w, l.up_b);
  std::optional<TraceScope> act_span(std::in_place, "activation");
  switch (config_.activation) {
    case Activation::kSiluGated: {
      auto parts = h.chunk(2, -1);
      h = torch::silu(parts[0]) * parts[1];
      break;
    }
    case Activation::kRelu: h = torch::relu(h); break;
    case Activation::kGeluTanh: h = torch::gelu(h, "tanh"); break;
    case Activation::kGelu: h = torch::gelu(h); break;
  }
  act_span.reset();
  return torch::linear(h, l.down_w, l.down_b);
}

torch::Tensor Model::Attention(const torch::Tensor& q, const torch::Tensor& kc, const torch::Tensor& vc,
                               const ForwardBatch& batch, double scale) const {
  const int64_t T = batch.num_tokens, H = config_.num_heads, Hkv = config_.num_kv_heads, D = config_.head_dim;
  // One extra zero row receives the padding of every group.
  auto qp = torch::cat({q, torch::zeros({1, H, D}, q.options())}, 0);
  auto out = torch::zeros({T + 1, H * D}, q.options());
  for (const AttentionGroup& g : batch.groups) {
    auto qg = qp.index_select(0, g.q_index).view({g.batch, g.max_q, H, D}).transpose(1, 2);
    auto kg = kc.index_select(0, g.kv_slots).view({g.batch, g.max_ctx, Hkv, D}).transpose(1, 2);
    auto vg = vc.index_select(0, g.kv_slots).view({g.batch, g.max_ctx, Hkv, D}).transpose(1, 2);
    if (Hkv != H) {
      kg = kg.repeat_interleave(H / Hkv, 1);
      vg = vg.repeat_interleave(H / Hkv, 1);
    }
    torch::Tensor og;
    if (g.max_q == 1) {
      // Decode: one query row per sequence. Broadcast multiply-and-sum runs
      // as a few vectorized kernels; a batched matmul would, on CPU builds
      // without MKL, loop over batch x heads in small GEMMs (three ATen calls
      // each, which also swamps a profiler capture).
      auto scores = (qg * kg).sum(-1).unsqueeze(-2) * scale + g.mask;  // [b, H, 1, ctx]
      auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
      og = (probs.transpose(-1, -2) * vg)
               .sum(-2)  // [b, H, D]
               .reshape({g.batch, H * D});
    } else {
      auto scores = torch::matmul(qg, kg.transpose(-1, -2)) * scale + g.mask;
      auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
      og = torch::matmul(probs, vg).transpose(1, 2).reshape({g.batch * g.max_q, H * D});
    }
    out.index_copy_(0, g.q_index, og);
  }
  return out.narrow(0, 0, T);
}

torch::Tensor Model::Forward(const ForwardBatch& batch, KVCache& cache) const {
  torch::NoGradGuard no_grad;
  const int64_t T = batch.num_tokens, H = config_.num_heads, Hkv = config_.num_kv_heads, D = config_.head_dim;
  const auto f32 = torch::kFloat32;
  // Mixed precision: weights, matmuls and the KV cache in the model dtype;
  // the residual stream, norms and RoPE in float32 (a no-op for fp32 models),
  // which keeps bf16 logits close to the float32 reference.
  auto x = embed_.index_select(0, batch.input_ids);
  if (project_in_.defined()) x = torch::linear(x, project_in_);
  x = x.to(f32);
  if (config_.positions == PositionKind::kLearned) {
    x = x + pos_embed_.index_select(0, batch.positions + config_.position_offset).to(f32);
  }
  torch::Tensor cos, sin;
  if (config_.positions == PositionKind::kRotary) {
    cos = rope_cos_.index_select(0, batch.positions).unsqueeze(1);
    sin = rope_sin_.index_select(0, batch.positions).unsqueeze(1);
  }
  auto rope = [&](const torch::Tensor& t) {
    auto tf = t.to(f32);
    auto halves = tf.chunk(2, -1);
    return (tf * cos + torch::cat({-halves[1], halves[0]}, -1) * sin).to(dtype_);
  };
  const int64_t qs = config_.q_size(), kvs = config_.kv_size();
  for (size_t li = 0; li < layers_.size(); ++li) {
    const Layer& l = layers_[li];
    TraceScope layer_span("layer");
    layer_span.Arg("layer", static_cast<double>(li));
    double scale = 1.0 / std::sqrt(static_cast<double>(D));
    if (config_.scale_attn_by_layer) scale /= static_cast<double>(li + 1);

    std::optional<TraceScope> attn_span(std::in_place, "attention");
    auto h = (config_.pre_norm ? Norm(x, l.ln1_w, l.ln1_b) : x).to(dtype_);
    auto qkv = torch::linear(h, l.qkv_w, l.qkv_b);
    auto q = qkv.narrow(-1, 0, qs).reshape({T, H, D});
    auto k = qkv.narrow(-1, qs, kvs).reshape({T, Hkv, D});
    auto v = qkv.narrow(-1, qs + kvs, kvs).reshape({T, Hkv, D});
    if (cos.defined()) {
      q = rope(q);
      k = rope(k);
    }
    cache.k[li].index_copy_(0, batch.slot_mapping, k);
    cache.v[li].index_copy_(0, batch.slot_mapping, v);
    torch::Tensor attn;
    {
      TraceScope core("attention_core");  // cache write is above; this is the paged attention itself
      attn = Attention(q, cache.k[li], cache.v[li], batch, scale);
    }
    x = x + torch::linear(attn, l.o_w, l.o_b).to(f32);
    if (!config_.pre_norm) x = Norm(x, l.ln1_w, l.ln1_b);
    attn_span.reset();

    TraceScope mlp_span("mlp");
    h = (config_.pre_norm ? Norm(x, l.ln2_w, l.ln2_b) : x).to(dtype_);
    x = x + Mlp(l, h).to(f32);
    if (!config_.pre_norm) x = Norm(x, l.ln2_w, l.ln2_b);
  }
  TraceScope head_span("lm_head");
  x = x.index_select(0, batch.logits_indices);
  if (final_w_.defined()) x = Norm(x, final_w_, final_b_);
  x = x.to(dtype_);
  if (project_out_.defined()) x = torch::linear(x, project_out_);
  return torch::linear(x, lm_head_).to(f32);
}

std::unique_ptr<Model> Model::Random(const ModelConfig& c, uint64_t seed, torch::Device device, torch::Dtype dtype) {
  std::unique_ptr<Model> m(new Model(c, device, dtype));
  // Generated on the CPU in float32 so the weights do not depend on the device.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto rnd = [&](std::vector<int64_t> shape, double std) {
    auto t = torch::empty(shape, torch::kFloat32);
    t.normal_(0.0, std, gen);
    return t.to(device, dtype);
  };
  auto ones = [&](int64_t n) { return torch::ones({n}, torch::TensorOptions().dtype(dtype).device(device)); };
  const int64_t Hd = c.hidden_size;
  const double std = 0.02;
  m->embed_ = rnd({c.vocab_size, Hd}, std);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    Layer l;
    l.ln1_w = ones(Hd);
    l.ln2_w = ones(Hd);
    l.qkv_w = rnd({c.q_size() + 2 * c.kv_size(), Hd}, std);
    l.o_w = rnd({Hd, c.q_size()}, std);
    l.up_w = rnd({2 * c.intermediate_size, Hd}, std);
    l.down_w = rnd({Hd, c.intermediate_size}, std);
    m->layers_.push_back(l);
  }
  m->final_w_ = ones(Hd);
  m->lm_head_ = c.tie_word_embeddings ? m->embed_ : rnd({c.vocab_size, Hd}, std);
  m->KeepNormsInFloat32();
  m->BuildRope();
  return m;
}

}  // namespace vigil::engine
