// vigilctl generate / logits: run the engine offline on a checkpoint, with
// no daemon, to debug a model or compare the engine with another one.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/id_list.h"
#include "engine/engine_core.h"
#include "engine/safetensors.h"

namespace vigil::cli {

namespace {

// The flags both commands share: which model, where, and its KV cache.
struct EngineFlags {
  std::string model = "builtin:tiny-llama", device = "cpu", dtype = "auto";
  int64_t block_size = 16, num_blocks = 0, max_model_len = 0;
  std::vector<std::string> prompt_ids;
};

void AddEngineFlags(CLI::App* app, EngineFlags* f) {
  app->add_option("--model", f->model, "checkpoint folder (HF safetensors) or builtin:tiny-llama")
      ->capture_default_str();
  app->add_option("--device", f->device, "cpu, cuda or cuda:N")->capture_default_str();
  app->add_option("--dtype", f->dtype, "auto, float32, bfloat16 or float16")->capture_default_str();
  app->add_option("--block-size", f->block_size, "tokens per KV block")->check(Decimal())->capture_default_str();
  app->add_option("--num-blocks", f->num_blocks, "KV blocks (0: as many as 64 MiB hold)")
      ->check(Decimal())
      ->capture_default_str();
  app->add_option("--max-model-len", f->max_model_len, "longest sequence (0: the model's)")
      ->check(Decimal())
      ->capture_default_str();
}

Status MakeCore(const EngineFlags& f, std::unique_ptr<engine::EngineCore>* core) {
  engine::EngineConfig cfg;
  cfg.model = f.model;
  cfg.device = f.device;
  cfg.dtype = f.dtype;
  cfg.block_size = static_cast<int>(f.block_size);
  cfg.num_blocks = f.num_blocks;
  cfg.max_model_len = static_cast<int>(f.max_model_len);
  cfg.kv_cache_memory = 64LL << 20;
  return engine::EngineCore::Create(cfg, core);
}

int Fail(const Status& st) {
  std::fprintf(stderr, "vigilctl: %s\n", st.message().c_str());
  return 2;
}

struct GenerateFlags : EngineFlags {
  int64_t max_tokens = 16, top_k = 0, seed = 0;
  double temperature = 0, top_p = 1;
  bool ignore_eos = false;
  CLI::Option* seed_opt = nullptr;
};

int Generate(const GenerateFlags& f) {
  engine::SamplingParams p;
  p.max_tokens = static_cast<int>(f.max_tokens);
  p.temperature = static_cast<float>(f.temperature);
  p.top_p = static_cast<float>(f.top_p);
  p.top_k = static_cast<int>(f.top_k);
  if (f.seed_opt->count()) p.seed = static_cast<uint64_t>(f.seed);
  p.ignore_eos = f.ignore_eos;

  Status st;
  std::unique_ptr<engine::EngineCore> core;
  if (!(st = MakeCore(f, &core)).ok()) return Fail(st);
  const auto& prompts = f.prompt_ids;
  std::vector<nlohmann::json> results(prompts.size());
  // All sequences are queued before the first step, so they run batched.
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int32_t> ids;
    if (!(st = ParseIdList(prompts[i], &ids)).ok()) return Fail(st);
    results[i] = {{"prompt_ids", ids}, {"output_ids", nlohmann::json::array()}, {"finish_reason", nullptr}};
    auto* out = &results[i];
    st = core->AddRequest(std::to_string(i), ids, p, [out](const engine::RequestOutput& o) {
      for (int32_t t : o.new_token_ids) (*out)["output_ids"].push_back(t);
      if (o.finished) (*out)["finish_reason"] = engine::FinishReasonName(o.finish_reason);
    });
    if (!st.ok()) return Fail(st.WithContext("--prompt-ids " + prompts[i]));
  }
  while (core->HasWork()) core->Step();
  for (const auto& r : results) std::printf("%s\n", r.dump().c_str());
  return 0;
}

struct LogitsFlags : EngineFlags {
  std::string out;
};

int Logits(const LogitsFlags& f) {
  if (f.prompt_ids.size() != 1) return Fail(Status::InvalidArgument("give exactly one --prompt-ids"));
  Status st;
  std::vector<int32_t> ids;
  if (!(st = ParseIdList(f.prompt_ids[0], &ids)).ok()) return Fail(st);
  std::unique_ptr<engine::EngineCore> core;
  if (!(st = MakeCore(f, &core)).ok()) return Fail(st);
  engine::SamplingParams p;
  p.max_tokens = 1;
  p.temperature = 0;
  p.ignore_eos = true;
  p.return_prompt_logits = true;
  std::vector<float> logits;
  st = core->AddRequest("logits", ids, p, [&logits](const engine::RequestOutput& o) {
    if (!o.prompt_logits.empty()) logits = o.prompt_logits;
  });
  if (!st.ok()) return Fail(st);
  while (core->HasWork()) core->Step();
  const int64_t vocab = core->model_info().vocab_size;
  if (logits.size() != ids.size() * static_cast<size_t>(vocab))
    return Fail(Status::Internal("the engine returned no prompt logits"));
  st = engine::WriteSafetensors(
      f.out,
      {{"logits", "F32", {static_cast<int64_t>(ids.size()), vocab}, logits.data(), logits.size() * sizeof(float)}});
  if (!st.ok()) return Fail(st);
  spdlog::info("wrote logits [{}, {}] to {}", ids.size(), vocab, f.out);
  return 0;
}

}  // namespace

void AddGenerate(CLI::App* app, int* rc) {
  auto g = std::make_shared<GenerateFlags>();
  CLI::App* gen = AddCommand(app, "generate", "Run the engine offline; one JSON line per prompt.", rc,
                             [g] { return Generate(*g); });
  gen->add_option("--prompt-ids", g->prompt_ids, "token ids, comma-separated; repeat for a batch")
      ->required()
      ->expected(1)
      ->take_all();
  AddEngineFlags(gen, g.get());
  gen->add_option("--max-tokens", g->max_tokens, "tokens to generate per prompt")
      ->check(Decimal())
      ->capture_default_str();
  gen->add_option("--temperature", g->temperature, "sampling temperature (0: greedy)")->capture_default_str();
  gen->add_option("--top-p", g->top_p, "nucleus sampling mass")->capture_default_str();
  gen->add_option("--top-k", g->top_k, "sample from the k likeliest (0: all)")->check(Decimal())->capture_default_str();
  g->seed_opt = gen->add_option("--seed", g->seed, "sampling seed (default: unseeded)")->check(Decimal());
  gen->add_flag("--ignore-eos", g->ignore_eos, "keep generating past the end-of-sequence token");

  auto l = std::make_shared<LogitsFlags>();
  CLI::App* lg =
      AddCommand(app, "logits", "Write the float32 logits of every prompt position as tensor \"logits\" (safetensors).",
                 rc, [l] { return Logits(*l); });
  lg->add_option("--prompt-ids", l->prompt_ids, "token ids, comma-separated (once)")
      ->required()
      ->expected(1)
      ->take_all();
  lg->add_option("--out", l->out, "the safetensors file to write")->required();
  AddEngineFlags(lg, l.get());
}

}  // namespace vigil::cli
