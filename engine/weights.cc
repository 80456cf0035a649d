// Checkpoint loading: maps each architecture's HuggingFace tensor names onto
// the engine's fused layout (qkv and gate|up in one matrix).
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/model.h"
#include "engine/safetensors.h"

namespace vigil::engine {

namespace {

bool FileExists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string ShapeString(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

Status TorchDtype(const std::string& st, torch::Dtype* out) {
  if (st == "F32") *out = torch::kFloat32;
  else if (st == "F16") *out = torch::kFloat16;
  else if (st == "BF16") *out = torch::kBFloat16;
  else if (st == "F64") *out = torch::kFloat64;
  else return Status::Unimplemented("weight dtype " + st + " is not supported (F32, F16, BF16)");
  return Status::OK();
}

}  // namespace

// Opens model.safetensors or the shards of model.safetensors.index.json and
// hands out tensors converted to the model's device and dtype.
class WeightLoader {
 public:
  Status Open(const std::string& dir) {
    dir_ = dir;
    const std::string index = dir + "/model.safetensors.index.json";
    if (FileExists(index)) {
      std::ifstream in(index);
      nlohmann::json j;
      try {
        in >> j;
      } catch (const std::exception& e) { return Status::Corruption(index + ": not valid JSON: " + e.what()); }
      if (!j.contains("weight_map") || !j["weight_map"].is_object())
        return Status::Corruption(index + ": missing \"weight_map\" object");
      std::map<std::string, size_t> file_index;
      for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
        if (!it->is_string())
          return Status::Corruption(index + ": weight_map[\"" + it.key() + "\"] is not a file name");
        const std::string file = it->get<std::string>();
        if (file.find('/') != std::string::npos)
          return Status::Corruption(index + ": shard name \"" + file + "\" has a path");
        if (!file_index.count(file)) {
          std::unique_ptr<SafetensorsFile> f;
          VIGIL_RETURN_IF_ERROR(SafetensorsFile::Open(dir + "/" + file, &f));
          file_index[file] = files_.size();
          files_.push_back(std::move(f));
        }
        const SafetensorsFile* f = files_[file_index[file]].get();
        if (!f->Has(it.key()))
          return Status::Corruption(index + ": tensor \"" + it.key() + "\" is mapped to " + file + " but is not in it");
        where_[it.key()] = f;
      }
      return Status::OK();
    }
    const std::string single = dir + "/model.safetensors";
    if (!FileExists(single)) {
      return Status::NotFound(dir + ": no model.safetensors or model.safetensors.index.json " +
                              "(only safetensors checkpoints are supported)");
    }
    std::unique_ptr<SafetensorsFile> f;
    VIGIL_RETURN_IF_ERROR(SafetensorsFile::Open(single, &f));
    for (const auto& kv : f->tensors()) where_[kv.first] = f.get();
    files_.push_back(std::move(f));
    return Status::OK();
  }

  bool Has(const std::string& name) const { return where_.count(name) > 0; }

  // The tensor, checked against `shape` (empty: any), on device in dtype.
  Status Get(const std::string& name, const std::vector<int64_t>& shape, torch::Tensor* out) {
    auto it = where_.find(name);
    if (it == where_.end()) return Status::NotFound(dir_ + ": checkpoint has no tensor \"" + name + "\"");
    TensorView v;
    VIGIL_RETURN_IF_ERROR(it->second->Get(name, &v));
    if (!shape.empty() && v.shape != shape) {
      return Status::Corruption(it->second->path() + ": tensor \"" + name + "\" has shape " + ShapeString(v.shape) +
                                ", the config implies " + ShapeString(shape));
    }
    torch::Dtype src;
    VIGIL_RETURN_IF_ERROR(TorchDtype(v.dtype, &src).WithContext(it->second->path() + ": tensor \"" + name + "\""));
    // from_blob aliases the mapping; the copy detaches it before unmapping.
    auto t = torch::from_blob(const_cast<void*>(v.data), v.shape, src);
    *out = t.to(device_, dtype_, /*non_blocking=*/false, /*copy=*/true);
    used_.insert(name);
    return Status::OK();
  }
  Status GetOptional(const std::string& name, const std::vector<int64_t>& shape, torch::Tensor* out) {
    return Has(name) ? Get(name, shape, out) : Status::OK();
  }
  std::vector<std::string> Unused() const {
    std::vector<std::string> out;
    for (const auto& kv : where_)
      if (!used_.count(kv.first)) out.push_back(kv.first);
    return out;
  }

  Status LoadLlama(Model* m);
  Status LoadOpt(Model* m);
  Status LoadGpt2(Model* m);

  torch::Device device_ = torch::kCPU;
  torch::Dtype dtype_ = torch::kFloat32;

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> where_;
  std::set<std::string> used_;
};

Status WeightLoader::LoadLlama(Model* m) {
  const ModelConfig& c = m->config_;
  const int64_t H = c.hidden_size, I = c.intermediate_size, qs = c.q_size(), kvs = c.kv_size();
  VIGIL_RETURN_IF_ERROR(Get("model.embed_tokens.weight", {c.vocab_size, H}, &m->embed_));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Model::Layer l;
    torch::Tensor q, k, v, qb, kb, vb, gate, up, gb, ub;
    VIGIL_RETURN_IF_ERROR(Get(p + "input_layernorm.weight", {H}, &l.ln1_w));
    VIGIL_RETURN_IF_ERROR(Get(p + "post_attention_layernorm.weight", {H}, &l.ln2_w));
    VIGIL_RETURN_IF_ERROR(Get(p + "self_attn.q_proj.weight", {qs, H}, &q));
    VIGIL_RETURN_IF_ERROR(Get(p + "self_attn.k_proj.weight", {kvs, H}, &k));
    VIGIL_RETURN_IF_ERROR(Get(p + "self_attn.v_proj.weight", {kvs, H}, &v));
    VIGIL_RETURN_IF_ERROR(Get(p + "self_attn.o_proj.weight", {H, qs}, &l.o_w));
    l.qkv_w = torch::cat({q, k, v}, 0);
    if (c.qkv_bias) {
      VIGIL_RETURN_IF_ERROR(Get(p + "self_attn.q_proj.bias", {qs}, &qb));
      VIGIL_RETURN_IF_ERROR(Get(p + "self_attn.k_proj.bias", {kvs}, &kb));
      VIGIL_RETURN_IF_ERROR(Get(p + "self_attn.v_proj.bias", {kvs}, &vb));
      l.qkv_b = torch::cat({qb, kb, vb}, 0);
    }
    if (c.out_bias) VIGIL_RETURN_IF_ERROR(Get(p + "self_attn.o_proj.bias", {H}, &l.o_b));
    VIGIL_RETURN_IF_ERROR(Get(p + "mlp.gate_proj.weight", {I, H}, &gate));
    VIGIL_RETURN_IF_ERROR(Get(p + "mlp.up_proj.weight", {I, H}, &up));
    VIGIL_RETURN_IF_ERROR(Get(p + "mlp.down_proj.weight", {H, I}, &l.down_w));
    l.up_w = torch::cat({gate, up}, 0);
    if (c.mlp_bias) {
      VIGIL_RETURN_IF_ERROR(Get(p + "mlp.gate_proj.bias", {I}, &gb));
      VIGIL_RETURN_IF_ERROR(Get(p + "mlp.up_proj.bias", {I}, &ub));
      VIGIL_RETURN_IF_ERROR(Get(p + "mlp.down_proj.bias", {H}, &l.down_b));
      l.up_b = torch::cat({gb, ub}, 0);
    }
    m->layers_.push_back(std::move(l));
  }
  VIGIL_RETURN_IF_ERROR(Get("model.norm.weight", {H}, &m->final_w_));
  if (Has("lm_head.weight") && !c.tie_word_embeddings) {
    VIGIL_RETURN_IF_ERROR(Get("lm_head.weight", {c.vocab_size, H}, &m->lm_head_));
  } else if (c.tie_word_embeddings) {
    m->lm_head_ = m->embed_;
  } else {
    return Status::NotFound(dir_ + ": checkpoint has no tensor \"lm_head.weight\" and tie_word_embeddings is false");
  }
  return Status::OK();
}

Status WeightLoader::LoadOpt(Model* m) {
  const ModelConfig& c = m->config_;
  const int64_t H = c.hidden_size, I = c.intermediate_size, E = c.word_embed_proj_dim;
  std::string p = Has("model.decoder.embed_tokens.weight") ? "model.decoder." : "decoder.";
  VIGIL_RETURN_IF_ERROR(Get(p + "embed_tokens.weight", {c.vocab_size, E}, &m->embed_));
  VIGIL_RETURN_IF_ERROR(Get(p + "embed_positions.weight", {c.max_position_embeddings + 2, H}, &m->pos_embed_));
  if (E != H) {
    VIGIL_RETURN_IF_ERROR(Get(p + "project_in.weight", {H, E}, &m->project_in_));
    VIGIL_RETURN_IF_ERROR(Get(p + "project_out.weight", {E, H}, &m->project_out_));
  }
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string lp = p + "layers." + std::to_string(i) + ".";
    Model::Layer l;
    torch::Tensor q, k, v, qb, kb, vb;
    VIGIL_RETURN_IF_ERROR(Get(lp + "self_attn.q_proj.weight", {H, H}, &q));
    VIGIL_RETURN_IF_ERROR(Get(lp + "self_attn.k_proj.weight", {H, H}, &k));
    VIGIL_RETURN_IF_ERROR(Get(lp + "self_attn.v_proj.weight", {H, H}, &v));
    VIGIL_RETURN_IF_ERROR(Get(lp + "self_attn.out_proj.weight", {H, H}, &l.o_w));
    l.qkv_w = torch::cat({q, k, v}, 0);
    if (c.qkv_bias) {
      VIGIL_RETURN_IF_ERROR(Get(lp + "self_attn.q_proj.bias", {H}, &qb));
      VIGIL_RETURN_IF_ERROR(Get(lp + "self_attn.k_proj.bias", {H}, &kb));
      VIGIL_RETURN_IF_ERROR(Get(lp + "self_attn.v_proj.bias", {H}, &vb));
      VIGIL_RETURN_IF_ERROR(Get(lp + "self_attn.out_proj.bias", {H}, &l.o_b));
      l.qkv_b = torch::cat({qb, kb, vb}, 0);
    }
    VIGIL_RETURN_IF_ERROR(Get(lp + "self_attn_layer_norm.weight", {H}, &l.ln1_w));
    VIGIL_RETURN_IF_ERROR(Get(lp + "self_attn_layer_norm.bias", {H}, &l.ln1_b));
    VIGIL_RETURN_IF_ERROR(Get(lp + "final_layer_norm.weight", {H}, &l.ln2_w));
    VIGIL_RETURN_IF_ERROR(Get(lp + "final_layer_norm.bias", {H}, &l.ln2_b));
    VIGIL_RETURN_IF_ERROR(Get(lp + "fc1.weight", {I, H}, &l.up_w));
    VIGIL_RETURN_IF_ERROR(Get(lp + "fc2.weight", {H, I}, &l.down_w));
    if (c.mlp_bias) {
      VIGIL_RETURN_IF_ERROR(Get(lp + "fc1.bias", {I}, &l.up_b));
      VIGIL_RETURN_IF_ERROR(Get(lp + "fc2.bias", {H}, &l.down_b));
    }
    m->layers_.push_back(std::move(l));
  }
  // Post-norm OPT (350m) has no final layer norm.
  if (c.pre_norm) {
    VIGIL_RETURN_IF_ERROR(GetOptional(p + "final_layer_norm.weight", {H}, &m->final_w_));
    VIGIL_RETURN_IF_ERROR(GetOptional(p + "final_layer_norm.bias", {H}, &m->final_b_));
  }
  if (Has("lm_head.weight") && !c.tie_word_embeddings) {
    VIGIL_RETURN_IF_ERROR(Get("lm_head.weight", {c.vocab_size, E}, &m->lm_head_));
  } else {
    m->lm_head_ = m->embed_;
  }
  return Status::OK();
}

Status WeightLoader::LoadGpt2(Model* m) {
  const ModelConfig& c = m->config_;
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  const std::string p = Has("transformer.wte.weight") ? "transformer." : "";
  VIGIL_RETURN_IF_ERROR(Get(p + "wte.weight", {c.vocab_size, H}, &m->embed_));
  VIGIL_RETURN_IF_ERROR(Get(p + "wpe.weight", {c.max_position_embeddings, H}, &m->pos_embed_));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string lp = p + "h." + std::to_string(i) + ".";
    Model::Layer l;
    // GPT-2's Conv1D stores weights as [in, out]: transpose to linear's [out, in].
    torch::Tensor w;
    VIGIL_RETURN_IF_ERROR(Get(lp + "ln_1.weight", {H}, &l.ln1_w));
    VIGIL_RETURN_IF_ERROR(Get(lp + "ln_1.bias", {H}, &l.ln1_b));
    VIGIL_RETURN_IF_ERROR(Get(lp + "attn.c_attn.weight", {H, 3 * H}, &w));
    l.qkv_w = w.t().contiguous();
    VIGIL_RETURN_IF_ERROR(Get(lp + "attn.c_attn.bias", {3 * H}, &l.qkv_b));
    VIGIL_RETURN_IF_ERROR(Get(lp + "attn.c_proj.weight", {H, H}, &w));
    l.o_w = w.t().contiguous();
    VIGIL_RETURN_IF_ERROR(Get(lp + "attn.c_proj.bias", {H}, &l.o_b));
    VIGIL_RETURN_IF_ERROR(Get(lp + "ln_2.weight", {H}, &l.ln2_w));
    VIGIL_RETURN_IF_ERROR(Get(lp + "ln_2.bias", {H}, &l.ln2_b));
    VIGIL_RETURN_IF_ERROR(Get(lp + "mlp.c_fc.weight", {H, I}, &w));
    l.up_w = w.t().contiguous();
    VIGIL_RETURN_IF_ERROR(Get(lp + "mlp.c_fc.bias", {I}, &l.up_b));
    VIGIL_RETURN_IF_ERROR(Get(lp + "mlp.c_proj.weight", {I, H}, &w));
    l.down_w = w.t().contiguous();
    VIGIL_RETURN_IF_ERROR(Get(lp + "mlp.c_proj.bias", {H}, &l.down_b));
    m->layers_.push_back(std::move(l));
  }
  VIGIL_RETURN_IF_ERROR(Get(p + "ln_f.weight", {H}, &m->final_w_));
  VIGIL_RETURN_IF_ERROR(Get(p + "ln_f.bias", {H}, &m->final_b_));
  if (Has("lm_head.weight") && !c.tie_word_embeddings) {
    VIGIL_RETURN_IF_ERROR(Get("lm_head.weight", {c.vocab_size, H}, &m->lm_head_));
  } else {
    m->lm_head_ = m->embed_;
  }
  return Status::OK();
}

Status Model::Load(const std::string& dir, const ModelConfig& config, torch::Device device, torch::Dtype dtype,
                   std::unique_ptr<Model>* out) {
  std::unique_ptr<Model> m(new Model(config, device, dtype));
  WeightLoader loader;
  loader.device_ = device;
  loader.dtype_ = dtype;
  VIGIL_RETURN_IF_ERROR(loader.Open(dir));
  try {
    if (config.architecture == "opt") {
      VIGIL_RETURN_IF_ERROR(loader.LoadOpt(m.get()));
    } else if (config.architecture == "gpt2") {
      VIGIL_RETURN_IF_ERROR(loader.LoadGpt2(m.get()));
    } else {
      VIGIL_RETURN_IF_ERROR(loader.LoadLlama(m.get()));
    }
  } catch (const std::exception& e) { return Status::Internal(dir + ": loading weights failed: " + e.what()); }
  for (const std::string& name : loader.Unused()) {
    // Rotary caches and the like are harmless; say so at debug level only.
    spdlog::debug("{}: tensor \"{}\" is not used by the {} model", dir, name, config.architecture);
  }
  m->KeepNormsInFloat32();
  m->BuildRope();
  *out = std::move(m);
  return Status::OK();
}

}  // namespace vigil::engine
