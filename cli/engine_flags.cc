#include "cli/engine_flags.h"

#include <memory>

#include "cli/flags.h"

namespace vigil::cli {

namespace {

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

}  // namespace

void AddEngineCommands(CLI::App* app, int* rc, EngineRunners run) {
  auto g = std::make_shared<GenerateFlags>();
  CLI::App* gen = AddCommand(app, "generate", "Run the engine offline; one JSON line per prompt.", rc,
                             [g, r = run.generate] { return r(*g); });
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
                 rc, [l, r = run.logits] { return r(*l); });
  lg->add_option("--prompt-ids", l->prompt_ids, "token ids, comma-separated (once)")
      ->required()
      ->expected(1)
      ->take_all();
  lg->add_option("--out", l->out, "the safetensors file to write")->required();
  AddEngineFlags(lg, l.get());
}

}  // namespace vigil::cli
