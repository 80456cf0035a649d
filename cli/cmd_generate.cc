// vigilctl generate / logits: run the engine offline on a checkpoint, with
// no daemon, to debug a model or compare the engine with another one.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/engine_core.h"
#include "engine/safetensors.h"

namespace vigil::cli {

namespace {

const std::set<std::string> kEngineFlags = {"model", "device", "dtype", "block-size", "num-blocks", "max-model-len"};

Status MakeCore(const Args& a, std::unique_ptr<engine::EngineCore>* core) {
  engine::EngineConfig cfg;
  cfg.model = a.Get("model", "builtin:tiny-llama");
  cfg.device = a.Get("device", "cpu");
  cfg.dtype = a.Get("dtype", "auto");
  int64_t v = 0;
  VIGIL_RETURN_IF_ERROR(a.GetInt("block-size", 16, &v));
  cfg.block_size = static_cast<int>(v);
  VIGIL_RETURN_IF_ERROR(a.GetInt("num-blocks", 0, &cfg.num_blocks));
  VIGIL_RETURN_IF_ERROR(a.GetInt("max-model-len", 0, &v));
  cfg.max_model_len = static_cast<int>(v);
  cfg.kv_cache_memory = 64LL << 20;
  return engine::EngineCore::Create(cfg, core);
}

int Fail(const Status& st) {
  std::fprintf(stderr, "vigilctl: %s\n", st.message().c_str());
  return 2;
}

}  // namespace

int CmdGenerate(int argc, char** argv) {
  Args a;
  std::set<std::string> flags = kEngineFlags;
  flags.insert({"prompt-ids", "max-tokens", "temperature", "top-p", "top-k", "seed"});
  Status st = a.Parse(argc, argv, flags, {"ignore-eos"});
  if (!st.ok()) return Fail(st);
  if (a.GetAll("prompt-ids").empty()) return Fail(Status::InvalidArgument("--prompt-ids is required"));
  engine::SamplingParams p;
  int64_t v = 0;
  double d = 0;
  if (!(st = a.GetInt("max-tokens", 16, &v)).ok()) return Fail(st);
  p.max_tokens = static_cast<int>(v);
  if (!(st = a.GetDouble("temperature", 0.0, &d)).ok()) return Fail(st);
  p.temperature = static_cast<float>(d);
  if (!(st = a.GetDouble("top-p", 1.0, &d)).ok()) return Fail(st);
  p.top_p = static_cast<float>(d);
  if (!(st = a.GetInt("top-k", 0, &v)).ok()) return Fail(st);
  p.top_k = static_cast<int>(v);
  if (a.Has("seed")) {
    if (!(st = a.GetInt("seed", 0, &v)).ok()) return Fail(st);
    p.seed = static_cast<uint64_t>(v);
  }
  p.ignore_eos = a.Has("ignore-eos");

  std::unique_ptr<engine::EngineCore> core;
  if (!(st = MakeCore(a, &core)).ok()) return Fail(st);
  const auto& prompts = a.GetAll("prompt-ids");
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

int CmdLogits(int argc, char** argv) {
  Args a;
  std::set<std::string> flags = kEngineFlags;
  flags.insert({"prompt-ids", "out"});
  Status st = a.Parse(argc, argv, flags, {});
  if (!st.ok()) return Fail(st);
  if (a.GetAll("prompt-ids").size() != 1) return Fail(Status::InvalidArgument("give exactly one --prompt-ids"));
  if (!a.Has("out")) return Fail(Status::InvalidArgument("--out FILE.safetensors is required"));
  std::vector<int32_t> ids;
  if (!(st = ParseIdList(a.Get("prompt-ids"), &ids)).ok()) return Fail(st);
  std::unique_ptr<engine::EngineCore> core;
  if (!(st = MakeCore(a, &core)).ok()) return Fail(st);
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
  st = engine::WriteSafetensors(a.Get("out"), {{"logits", "F32", {static_cast<int64_t>(ids.size()), vocab},
                                                logits.data(), logits.size() * sizeof(float)}});
  if (!st.ok()) return Fail(st);
  spdlog::info("wrote logits [{}, {}] to {}", ids.size(), vocab, a.Get("out"));
  return 0;
}

}  // namespace vigil::cli
