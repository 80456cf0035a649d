// vigilctl-engine: the engine half of `vigilctl generate` / `vigilctl logits`.
// vigilctl parses and checks the command line, then executes this binary with
// the same arguments (cli/cmd_generate.cc); only this one links libtorch.
// Run offline on a checkpoint, with no daemon, to debug a model or compare
// the engine with another one.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/engine_flags.h"
#include "common/id_list.h"
#include "common/logging.h"
#include "engine/engine_core.h"
#include "engine/safetensors.h"

namespace vigil::cli {
namespace {

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
}  // namespace vigil::cli

int main(int argc, char** argv) {
  vigil::InitLogging("warn");
  CLI::App app("vigilctl-engine: the engine half of vigilctl generate and logits (run those instead).", "vigilctl");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // as vigilctl parses
  app.require_subcommand(1);
  int rc = 0;
  vigil::cli::AddEngineCommands(&app, &rc, {vigil::cli::Generate, vigil::cli::Logits});
  CLI11_PARSE(app, argc, argv);  // vigilctl checked the line already: only a direct run errs here
  return rc;
}
