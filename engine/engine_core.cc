#include "engine/engine_core.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <random>

#include "common/clock.h"
#include "engine/engine_core_impl.h"

namespace vigil::engine {

double NowSeconds() { return RealClock::Steady(); }

EngineCore::EngineCore() : impl_(new Impl()) {}
EngineCore::~EngineCore() = default;

Status EngineCore::Create(const EngineConfig& config, std::unique_ptr<EngineCore>* out) {
  std::unique_ptr<EngineCore> core(new EngineCore());
  Impl& s = *core->impl_;
  s.cfg = config;
  try {
    s.device = torch::Device(config.device);
  } catch (const std::exception&) {
    return Status::InvalidArgument("engine.device: \"" + config.device + "\" is not a device (cpu, cuda, cuda:N)");
  }
  if (s.device.is_cuda() && !torch::cuda::is_available()) {
    return Status::InvalidArgument("engine.device: \"" + config.device +
                                   "\" requested but this libtorch has no usable CUDA device");
  }
  if (config.block_size <= 0 || config.block_size > 1024)
    return Status::InvalidArgument("engine.block_size must be in [1, 1024]");
  if (config.max_num_seqs <= 0) return Status::InvalidArgument("engine.max_num_seqs must be positive");
  if (config.max_num_batched_tokens <= 0)
    return Status::InvalidArgument("engine.max_num_batched_tokens must be positive");
  if (config.faults.leak_blocks_on_abort < 0 || config.faults.leak_blocks_on_abort > 1)
    return Status::InvalidArgument("engine.faults.leak_blocks_on_abort must be a probability in [0, 1]");

  const bool builtin = config.model.rfind("builtin:", 0) == 0;
  if (builtin) {
    if (!BuiltinModelConfig(config.model.substr(8), &s.mcfg))
      return Status::InvalidArgument("engine.model: unknown built-in model \"" + config.model +
                                     "\" (built in: builtin:tiny-llama, builtin:tinyllama-1.1b)");
  } else {
    VIGIL_RETURN_IF_ERROR(LoadModelConfig(config.model, &s.mcfg));
  }
  torch::Dtype dtype;
  VIGIL_RETURN_IF_ERROR(
      ResolveDtype(config.dtype, s.mcfg.torch_dtype, s.device.is_cuda(), &dtype).WithContext("engine.dtype"));

  int64_t max_len = config.max_model_len > 0 ? config.max_model_len : s.mcfg.max_position_embeddings;
  if (max_len > s.mcfg.max_position_embeddings) {
    return Status::InvalidArgument("engine.max_model_len " + std::to_string(max_len) +
                                   " exceeds the model's max_position_embeddings " +
                                   std::to_string(s.mcfg.max_position_embeddings));
  }
  if (!config.enable_chunked_prefill && config.max_num_batched_tokens < max_len) {
    return Status::InvalidArgument("engine.max_num_batched_tokens (" + std::to_string(config.max_num_batched_tokens) +
                                   ") must be >= max_model_len (" + std::to_string(max_len) +
                                   ") when chunked prefill is disabled, or long prompts could never be scheduled");
  }

  const int64_t per_block = KVCache::BytesPerBlock(s.mcfg, config.block_size, dtype);
  int64_t num_blocks = config.num_blocks;
  if (num_blocks <= 0) num_blocks = config.kv_cache_memory / per_block;
  if (num_blocks <= 0) {
    return Status::InvalidArgument("engine.kv_cache_memory " + std::to_string(config.kv_cache_memory) +
                                   " bytes holds no KV block (one block takes " + std::to_string(per_block) + ")");
  }
  const int64_t blocks_for_max_len = (max_len + config.block_size - 1) / config.block_size;
  if (num_blocks < blocks_for_max_len) {
    spdlog::warn(
        "KV cache of {} blocks cannot hold one sequence of max_model_len {} ({} blocks); "
        "longer requests will be rejected",
        num_blocks, max_len, blocks_for_max_len);
  }

  try {
    torch::manual_seed(static_cast<uint64_t>(config.seed));
    if (builtin) {
      s.model = Model::Random(s.mcfg, config.seed == 0 ? 20240611 : config.seed, s.device, dtype);
    } else {
      VIGIL_RETURN_IF_ERROR(Model::Load(config.model, s.mcfg, s.device, dtype, &s.model));
    }
    s.cache = KVCache::Allocate(s.mcfg, num_blocks, config.block_size, s.device, dtype);
  } catch (const std::exception& e) {
    return Status::ResourceExhausted("engine: could not load the model or allocate the KV cache (" +
                                     std::to_string(num_blocks * per_block) + " bytes): " + e.what());
  }

  std::vector<int32_t> eos;
  for (int32_t id : s.mcfg.eos_token_ids) {
    if (id >= 0 && id < s.mcfg.vocab_size) eos.push_back(id);
    else spdlog::warn("EOS token id {} is outside the vocabulary of {}; ignored", id, s.mcfg.vocab_size);
  }
  s.blocks = std::make_unique<BlockManager>(num_blocks, config.block_size, config.enable_prefix_caching);
  SchedulerConfig sc;
  sc.max_num_seqs = config.max_num_seqs;
  sc.max_num_batched_tokens = config.max_num_batched_tokens;
  sc.max_model_len = max_len;
  sc.enable_chunked_prefill = config.enable_chunked_prefill;
  s.scheduler = std::make_unique<Scheduler>(sc, s.blocks.get(), eos);
  s.engine_rng.seed(config.seed);
  s.request_timeout_s = config.request_timeout_s;

  ModelInfo& mi = s.info;
  mi.name = config.model;
  mi.architecture = s.mcfg.architecture;
  mi.vocab_size = s.mcfg.vocab_size;
  mi.max_model_len = max_len;
  mi.num_layers = s.mcfg.num_layers;
  mi.hidden_size = s.mcfg.hidden_size;
  mi.num_params = s.model->num_params();
  mi.eos_token_ids = eos;
  mi.device = s.device.str();
  mi.dtype = DtypeName(dtype);
  mi.kv_blocks = num_blocks;
  mi.kv_cache_bytes = num_blocks * per_block;

  EngineStats& st = s.stats;
  st.max_num_seqs = config.max_num_seqs;
  st.max_num_batched_tokens = config.max_num_batched_tokens;
  st.block_size = config.block_size;
  st.max_model_len = max_len;
  st.prefix_caching_enabled = config.enable_prefix_caching;
  st.chunked_prefill_enabled = config.enable_chunked_prefill;
  st.cuda_device = s.device.is_cuda() ? (s.device.has_index() ? s.device.index() : 0) : -1;
  s.RefreshCheap(NowSeconds());
  s.RefreshSlow(NowSeconds(), true);

  spdlog::info(
      "engine: {} ({}, {} params) on {} in {}; KV cache {} blocks x {} tokens ({:.1f} MiB); "
      "max_model_len {}, max_num_seqs {}, max_num_batched_tokens {}, chunked prefill {}, prefix caching {}",
      mi.name, mi.architecture, mi.num_params, mi.device, mi.dtype, num_blocks, config.block_size,
      mi.kv_cache_bytes / 1048576.0, max_len, config.max_num_seqs, config.max_num_batched_tokens,
      config.enable_chunked_prefill ? "on" : "off", config.enable_prefix_caching ? "on" : "off");
  if (config.faults.leak_blocks_on_abort > 0) {
    spdlog::warn(
        "FAULT INJECTION ON: engine.faults.leak_blocks_on_abort={} — aborted requests will leak KV "
        "blocks on purpose. Never use this in production.",
        config.faults.leak_blocks_on_abort);
  }
  if (config.faults.stall_step_ms > 0) {
    spdlog::warn("FAULT INJECTION ON: engine.faults.stall_step_ms={} — every engine iteration stalls.",
                 config.faults.stall_step_ms);
  }
  *out = std::move(core);
  return Status::OK();
}

Status EngineCore::ValidateRequest(const std::vector<int32_t>& prompt, const SamplingParams& p) const {
  const Impl& s = *impl_;
  const int64_t n = static_cast<int64_t>(prompt.size());
  if (n == 0) return Status::InvalidArgument("the prompt is empty");
  for (int64_t i = 0; i < n; ++i) {
    if (prompt[i] < 0 || prompt[i] >= s.info.vocab_size) {
      return Status::InvalidArgument("prompt token id " + std::to_string(prompt[i]) + " at position " +
                                     std::to_string(i) + " is outside the vocabulary [0, " +
                                     std::to_string(s.info.vocab_size) + ")");
    }
  }
  if (n >= s.info.max_model_len) {
    return Status::InvalidArgument("the prompt has " + std::to_string(n) + " tokens; max_model_len is " +
                                   std::to_string(s.info.max_model_len) +
                                   " and must leave room for at least one output token");
  }
  if (p.max_tokens < 1) return Status::InvalidArgument("max_tokens must be at least 1");
  if (!(p.temperature >= 0) || p.temperature > 1e6f) return Status::InvalidArgument("temperature must be >= 0");
  if (!(p.top_p > 0 && p.top_p <= 1)) return Status::InvalidArgument("top_p must be in (0, 1]");
  if (p.top_k < -1) return Status::InvalidArgument("top_k must be -1, 0 (disabled) or positive");
  for (int32_t t : p.stop_token_ids) {
    if (t < 0 || t >= s.info.vocab_size)
      return Status::InvalidArgument("stop_token_ids holds " + std::to_string(t) + ", outside the vocabulary");
  }
  const int64_t total = std::min<int64_t>(n + static_cast<int64_t>(p.max_tokens), s.info.max_model_len);
  const int64_t needed = (total + s.cfg.block_size - 1) / s.cfg.block_size;
  if (needed > s.info.kv_blocks) {
    return Status::ResourceExhausted("the request needs " + std::to_string(needed) + " KV blocks (" +
                                     std::to_string(total) + " tokens) but the cache has " +
                                     std::to_string(s.info.kv_blocks) + "; it could never run");
  }
  return Status::OK();
}

Status EngineCore::AddRequest(const std::string& id, std::vector<int32_t> prompt, const SamplingParams& params,
                              OutputCallback on_output, double arrival_time) {
  Impl& s = *impl_;
  Status st = ValidateRequest(prompt, params);
  if (!st.ok()) {
    ++s.stats.requests_rejected_total;
    return st;
  }
  if (s.scheduler->Find(id) != nullptr) return Status::InvalidArgument("duplicate request id \"" + id + "\"");
  auto r = std::make_unique<Request>();
  r->id = id;
  r->num_prompt_tokens = static_cast<int64_t>(prompt.size());
  r->tokens = std::move(prompt);
  r->max_total_tokens = std::min<int64_t>(r->num_prompt_tokens + params.max_tokens, s.info.max_model_len);
  r->params = params;
  if (r->params.top_k < 0) r->params.top_k = 0;
  r->on_output = std::move(on_output);
  r->arrival_time = arrival_time >= 0 ? arrival_time : NowSeconds();
  r->rng.seed(params.seed ? *params.seed : s.engine_rng() ^ (++s.request_counter * 0x9e3779b97f4a7c15ULL));
  s.scheduler->Add(std::move(r));
  return Status::OK();
}

bool EngineCore::AbortRequest(const std::string& id) {
  Impl& s = *impl_;
  bool leak = false;
  if (s.cfg.faults.leak_blocks_on_abort > 0) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    leak = u(s.fault_rng) < s.cfg.faults.leak_blocks_on_abort;
  }
  std::unique_ptr<Request> r = s.scheduler->Remove(id, leak);
  if (!r) return false;
  if (leak) spdlog::debug("fault: leaked the KV blocks of aborted request {}", id);
  r->finish_reason = FinishReason::kAbort;
  s.ObserveFinished(*r, NowSeconds());
  s.Emit(r.get(), {}, true);
  return true;
}

void EngineCore::AbortAll() {
  for (const std::string& id : impl_->scheduler->RequestIds()) AbortRequest(id);
  impl_->RefreshCheap(NowSeconds());
}

bool EngineCore::HasWork() const { return impl_->scheduler->has_work(); }
void EngineCore::Step() { impl_->Step(); }

const EngineStats& EngineCore::stats(bool force) {
  const double now = NowSeconds();
  impl_->RefreshCheap(now);
  impl_->RefreshSlow(now, force);
  return impl_->stats;
}
const ModelInfo& EngineCore::model_info() const { return impl_->info; }
const EngineConfig& EngineCore::config() const { return impl_->cfg; }
BlockCounts EngineCore::block_counts() const { return impl_->blocks->Counts(); }
std::string EngineCore::CheckInvariants() const { return impl_->blocks->CheckInvariants(); }

}  // namespace vigil::engine
