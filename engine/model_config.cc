#include "engine/model_config.h"
#include "common/os_util.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace vigil::engine {

using json = nlohmann::json;

namespace {

Status ReadFile(const std::string& path, std::string* out) { return ReadWholeFile(path, "model file", out); }

// Typed lookups that name the key when it has the wrong type.
class Reader {
 public:
  Reader(const json& j, std::string source) : j_(j), source_(std::move(source)) {}
  Status Int(const char* key, int64_t* out, bool required) {
    if (!j_.contains(key) || j_[key].is_null()) {
      return required ? Status::InvalidArgument(source_ + ": missing \"" + key + "\"") : Status::OK();
    }
    if (!j_[key].is_number_integer()) return Status::InvalidArgument(source_ + ": \"" + key + "\" must be an integer");
    *out = j_[key].get<int64_t>();
    return Status::OK();
  }
  Status Double(const char* key, double* out) {
    if (!j_.contains(key) || j_[key].is_null()) return Status::OK();
    if (!j_[key].is_number()) return Status::InvalidArgument(source_ + ": \"" + key + "\" must be a number");
    *out = j_[key].get<double>();
    return Status::OK();
  }
  Status Bool(const char* key, bool* out) {
    if (!j_.contains(key) || j_[key].is_null()) return Status::OK();
    if (!j_[key].is_boolean()) return Status::InvalidArgument(source_ + ": \"" + key + "\" must be true or false");
    *out = j_[key].get<bool>();
    return Status::OK();
  }
  Status String(const char* key, std::string* out) {
    if (!j_.contains(key) || j_[key].is_null()) return Status::OK();
    if (!j_[key].is_string()) return Status::InvalidArgument(source_ + ": \"" + key + "\" must be a string");
    *out = j_[key].get<std::string>();
    return Status::OK();
  }

 private:
  const json& j_;
  std::string source_;
};

void AddTokenIds(const json& v, std::vector<int32_t>* out) {
  auto add = [out](int64_t id) {
    for (int32_t e : *out)
      if (e == id) return;
    out->push_back(static_cast<int32_t>(id));
  };
  if (v.is_number_integer()) add(v.get<int64_t>());
  if (v.is_array())
    for (const json& e : v)
      if (e.is_number_integer()) add(e.get<int64_t>());
}

Status ParseRope(const json& j, const std::string& source, ModelConfig* c) {
  // Newer configs nest rope_theta inside rope_parameters; older ones put it
  // at the top level and scaling in rope_scaling.
  const json* params = nullptr;
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) params = &j["rope_parameters"];
  else if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) params = &j["rope_scaling"];
  if (j.contains("rope_theta") && j["rope_theta"].is_number()) c->rope_theta = j["rope_theta"].get<double>();
  if (params == nullptr) return Status::OK();
  Reader r(*params, source + ": rope parameters");
  VIGIL_RETURN_IF_ERROR(r.Double("rope_theta", &c->rope_theta));
  std::string type = "default";
  VIGIL_RETURN_IF_ERROR(r.String("rope_type", &type));
  if (params->contains("type") && (*params)["type"].is_string()) type = (*params)["type"].get<std::string>();
  RopeScaling& s = c->rope_scaling;
  s.type = type;
  VIGIL_RETURN_IF_ERROR(r.Double("factor", &s.factor));
  VIGIL_RETURN_IF_ERROR(r.Double("low_freq_factor", &s.low_freq_factor));
  VIGIL_RETURN_IF_ERROR(r.Double("high_freq_factor", &s.high_freq_factor));
  VIGIL_RETURN_IF_ERROR(r.Int("original_max_position_embeddings", &s.original_max_position_embeddings, false));
  if (type != "default" && type != "linear" && type != "llama3") {
    return Status::Unimplemented(source + ": rope type \"" + type +
                                 "\" is not supported (supported: default, linear, llama3)");
  }
  if (params->contains("partial_rotary_factor") && (*params)["partial_rotary_factor"].is_number() &&
      (*params)["partial_rotary_factor"].get<double>() != 1.0) {
    return Status::Unimplemented(source + ": partial_rotary_factor != 1 is not supported");
  }
  return Status::OK();
}

}  // namespace

Status ParseModelConfig(const std::string& text, const std::string& source, ModelConfig* out) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) { return Status::InvalidArgument(source + ": not valid JSON: " + e.what()); }
  if (!j.is_object()) return Status::InvalidArgument(source + ": not a JSON object");
  ModelConfig c;
  Reader r(j, source);
  std::string type;
  VIGIL_RETURN_IF_ERROR(r.String("model_type", &type));
  if (type.empty()) return Status::InvalidArgument(source + ": missing \"model_type\"");
  c.architecture = type;
  VIGIL_RETURN_IF_ERROR(r.Int("vocab_size", &c.vocab_size, true));
  VIGIL_RETURN_IF_ERROR(r.Bool("tie_word_embeddings", &c.tie_word_embeddings));
  VIGIL_RETURN_IF_ERROR(r.String("torch_dtype", &c.torch_dtype));
  VIGIL_RETURN_IF_ERROR(r.String("dtype", &c.torch_dtype));

  if (type == "llama" || type == "qwen2" || type == "mistral") {
    VIGIL_RETURN_IF_ERROR(r.Int("hidden_size", &c.hidden_size, true));
    VIGIL_RETURN_IF_ERROR(r.Int("num_hidden_layers", &c.num_layers, true));
    VIGIL_RETURN_IF_ERROR(r.Int("num_attention_heads", &c.num_heads, true));
    c.num_kv_heads = c.num_heads;
    VIGIL_RETURN_IF_ERROR(r.Int("num_key_value_heads", &c.num_kv_heads, false));
    VIGIL_RETURN_IF_ERROR(r.Int("intermediate_size", &c.intermediate_size, true));
    VIGIL_RETURN_IF_ERROR(r.Int("max_position_embeddings", &c.max_position_embeddings, false));
    VIGIL_RETURN_IF_ERROR(r.Double("rms_norm_eps", &c.norm_eps));
    c.head_dim = c.num_heads > 0 ? c.hidden_size / c.num_heads : 0;
    VIGIL_RETURN_IF_ERROR(r.Int("head_dim", &c.head_dim, false));
    c.norm = NormKind::kRMSNorm;
    c.positions = PositionKind::kRotary;
    c.activation = Activation::kSiluGated;
    std::string act = "silu";
    VIGIL_RETURN_IF_ERROR(r.String("hidden_act", &act));
    if (act != "silu") return Status::Unimplemented(source + ": hidden_act \"" + act + "\" is not supported (silu)");
    VIGIL_RETURN_IF_ERROR(ParseRope(j, source, &c));
    if (type == "qwen2") {
      c.qkv_bias = true;
    } else {
      VIGIL_RETURN_IF_ERROR(r.Bool("attention_bias", &c.qkv_bias));
      c.out_bias = c.qkv_bias;
      VIGIL_RETURN_IF_ERROR(r.Bool("mlp_bias", &c.mlp_bias));
    }
    bool sliding = false;
    VIGIL_RETURN_IF_ERROR(r.Bool("use_sliding_window", &sliding));
    if (sliding) return Status::Unimplemented(source + ": sliding-window attention is not supported");
  } else if (type == "opt") {
    VIGIL_RETURN_IF_ERROR(r.Int("hidden_size", &c.hidden_size, true));
    VIGIL_RETURN_IF_ERROR(r.Int("num_hidden_layers", &c.num_layers, true));
    VIGIL_RETURN_IF_ERROR(r.Int("num_attention_heads", &c.num_heads, true));
    VIGIL_RETURN_IF_ERROR(r.Int("ffn_dim", &c.intermediate_size, true));
    VIGIL_RETURN_IF_ERROR(r.Int("max_position_embeddings", &c.max_position_embeddings, true));
    c.word_embed_proj_dim = c.hidden_size;
    VIGIL_RETURN_IF_ERROR(r.Int("word_embed_proj_dim", &c.word_embed_proj_dim, false));
    c.num_kv_heads = c.num_heads;
    c.head_dim = c.hidden_size / c.num_heads;
    c.norm = NormKind::kLayerNorm;
    c.norm_eps = 1e-5;
    c.positions = PositionKind::kLearned;
    c.position_offset = 2;
    c.qkv_bias = c.out_bias = c.mlp_bias = true;
    VIGIL_RETURN_IF_ERROR(r.Bool("enable_bias", &c.qkv_bias));
    c.out_bias = c.mlp_bias = c.qkv_bias;
    VIGIL_RETURN_IF_ERROR(r.Bool("do_layer_norm_before", &c.pre_norm));
    c.tie_word_embeddings = true;
    VIGIL_RETURN_IF_ERROR(r.Bool("tie_word_embeddings", &c.tie_word_embeddings));
    std::string act = "relu";
    VIGIL_RETURN_IF_ERROR(r.String("activation_function", &act));
    if (act == "relu") c.activation = Activation::kRelu;
    else if (act == "gelu") c.activation = Activation::kGelu;
    else return Status::Unimplemented(source + ": activation_function \"" + act + "\" is not supported (relu, gelu)");
    bool affine = true;
    VIGIL_RETURN_IF_ERROR(r.Bool("layer_norm_elementwise_affine", &affine));
    if (!affine) return Status::Unimplemented(source + ": layer_norm_elementwise_affine=false is not supported");
  } else if (type == "gpt2") {
    VIGIL_RETURN_IF_ERROR(r.Int("n_embd", &c.hidden_size, true));
    VIGIL_RETURN_IF_ERROR(r.Int("n_layer", &c.num_layers, true));
    VIGIL_RETURN_IF_ERROR(r.Int("n_head", &c.num_heads, true));
    VIGIL_RETURN_IF_ERROR(r.Int("n_positions", &c.max_position_embeddings, true));
    c.intermediate_size = 4 * c.hidden_size;
    VIGIL_RETURN_IF_ERROR(r.Int("n_inner", &c.intermediate_size, false));
    VIGIL_RETURN_IF_ERROR(r.Double("layer_norm_epsilon", &c.norm_eps));
    c.num_kv_heads = c.num_heads;
    c.head_dim = c.hidden_size / c.num_heads;
    c.norm = NormKind::kLayerNorm;
    c.positions = PositionKind::kLearned;
    c.qkv_bias = c.out_bias = c.mlp_bias = true;
    c.tie_word_embeddings = true;
    VIGIL_RETURN_IF_ERROR(r.Bool("tie_word_embeddings", &c.tie_word_embeddings));
    std::string act = "gelu_new";
    VIGIL_RETURN_IF_ERROR(r.String("activation_function", &act));
    if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast") c.activation = Activation::kGeluTanh;
    else if (act == "gelu") c.activation = Activation::kGelu;
    else if (act == "relu") c.activation = Activation::kRelu;
    else return Status::Unimplemented(source + ": activation_function \"" + act + "\" is not supported");
    bool scale = true;
    VIGIL_RETURN_IF_ERROR(r.Bool("scale_attn_weights", &scale));
    if (!scale) return Status::Unimplemented(source + ": scale_attn_weights=false is not supported");
    VIGIL_RETURN_IF_ERROR(r.Bool("scale_attn_by_inverse_layer_idx", &c.scale_attn_by_layer));
  } else {
    return Status::Unimplemented(source + ": model_type \"" + type +
                                 "\" is not supported (supported: llama, qwen2, mistral, opt, gpt2)");
  }
  if (c.max_position_embeddings <= 0) c.max_position_embeddings = 2048;
  if (c.hidden_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 || c.num_kv_heads <= 0 || c.head_dim <= 0 ||
      c.vocab_size <= 0 || c.intermediate_size <= 0) {
    return Status::InvalidArgument(source + ": sizes must be positive");
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    return Status::InvalidArgument(source + ": num_attention_heads must be a multiple of num_key_value_heads");
  }
  if (j.contains("eos_token_id")) AddTokenIds(j["eos_token_id"], &c.eos_token_ids);
  if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer())
    c.bos_token_id = j["bos_token_id"].get<int32_t>();
  *out = c;
  return Status::OK();
}

Status LoadModelConfig(const std::string& dir, ModelConfig* out) {
  std::string text;
  const std::string path = dir + "/config.json";
  VIGIL_RETURN_IF_ERROR(ReadFile(path, &text));
  VIGIL_RETURN_IF_ERROR(ParseModelConfig(text, path, out));
  std::string gen;
  if (ReadFile(dir + "/generation_config.json", &gen).ok()) {
    try {
      json g = json::parse(gen);
      if (g.contains("eos_token_id")) AddTokenIds(g["eos_token_id"], &out->eos_token_ids);
    } catch (const std::exception&) {
      // generation_config.json is advisory; a broken one does not stop loading.
    }
  }
  return Status::OK();
}

ModelConfig TinyLlamaConfig() {
  ModelConfig c;
  c.architecture = "llama";
  c.vocab_size = 50257;  // GPT-2's tokenizer, which the daemon pairs with it
  c.hidden_size = 256;
  c.num_layers = 4;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.intermediate_size = 688;
  c.max_position_embeddings = 8192;
  c.norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = true;
  c.eos_token_ids = {50256};  // GPT-2's <|endoftext|>
  c.bos_token_id = 50256;
  c.torch_dtype = "float32";
  return c;
}

bool BuiltinModelConfig(const std::string& name, ModelConfig* out) {
  if (name == "tiny-llama") {
    *out = TinyLlamaConfig();
    return true;
  }
  if (name != "tinyllama-1.1b") return false;
  // TinyLlama/TinyLlama-1.1B's config.json (the shape the HF generate()
  // baseline in shared/bench uses too).
  ModelConfig c;
  c.architecture = "llama";
  c.vocab_size = 32000;
  c.hidden_size = 2048;
  c.num_layers = 22;
  c.num_heads = 32;
  c.num_kv_heads = 4;
  c.head_dim = 64;
  c.intermediate_size = 5632;
  c.max_position_embeddings = 2048;
  c.norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = false;
  c.eos_token_ids = {2};
  c.bos_token_id = 1;
  c.torch_dtype = "bfloat16";  // dtype auto: bf16 on CUDA, float32 on CPU
  *out = c;
  return true;
}

}  // namespace vigil::engine
