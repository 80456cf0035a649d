// Engine throughput: output tokens/s and step time on a model (default the
// built-in one) at several batch sizes, in one run so the figures compare.
//   engine_bench [--model M | --shape tinyllama-1.1b] [--device cpu|cuda] [--dtype D]
//                [--batches 1,8,32] [--prompt-tokens 32] [--output-tokens 64] [--json]
// --shape: a built-in random-weight model of a real model's shape (no
// download); dtype auto is bf16 on CUDA, float32 on CPU.
// "out tok/s" counts decode steps only; "e2e tok/s" all output tokens over
// the whole batch, prefill included (what HF's generate() timing measures).
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/args.h"
#include "common/logging.h"
#include "engine/engine_core.h"

using namespace vigil;

int main(int argc, char** argv) {
  InitLogging("warn");
  bench::Args a;
  Status st = a.Parse(argc - 1, argv + 1,
                      {"model", "shape", "device", "dtype", "batches", "prompt-tokens", "output-tokens"}, {"json"});
  if (!st.ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", st.message().c_str());
    return 2;
  }
  std::vector<int32_t> batches;
  if (!(st = ParseIdList(a.Get("batches", "1,8,32"), &batches)).ok()) {
    std::fprintf(stderr, "engine_bench: --batches: %s\n", st.message().c_str());
    return 2;
  }
  int64_t prompt_tokens = 0, output_tokens = 0;
  (void)a.GetInt("prompt-tokens", 32, &prompt_tokens);
  (void)a.GetInt("output-tokens", 64, &output_tokens);

  if (a.Has("model") && a.Has("shape")) {
    std::fprintf(stderr, "engine_bench: --model and --shape are exclusive\n");
    return 2;
  }
  int32_t max_batch = 1;
  for (int32_t b : batches) max_batch = std::max(max_batch, b);

  engine::EngineConfig cfg;
  cfg.model = a.Has("shape") ? "builtin:" + a.Get("shape", "") : a.Get("model", "builtin:tiny-llama");
  cfg.device = a.Get("device", "cpu");
  cfg.dtype = a.Get("dtype", "auto");
  cfg.max_num_seqs = std::max(256, max_batch);
  // One prefill step for the whole batch, so the decode figures are decode.
  cfg.max_num_batched_tokens =
      static_cast<int>(std::max<int64_t>(cfg.max_num_batched_tokens, int64_t{max_batch} * prompt_tokens));
  // The KV cache holds exactly the largest batch (one batch runs at a time):
  // attention gathers only the batch's slots, so the cache's size costs no
  // step time, and a 1.1B model's batch of 128 fits where the default would not.
  const int64_t blocks_per_seq = (prompt_tokens + output_tokens + cfg.block_size - 1) / cfg.block_size + 1;
  cfg.num_blocks = max_batch * blocks_per_seq;
  cfg.enable_prefix_caching = false;  // measure computation, not cache hits
  std::unique_ptr<engine::EngineCore> core;
  if (!(st = engine::EngineCore::Create(cfg, &core)).ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", st.ToString().c_str());
    return 2;
  }
  const auto& mi = core->model_info();
  std::printf("model %s (%s, %ld params) on %s/%s; prompt %ld tokens, %ld output tokens per request\n", mi.name.c_str(),
              mi.architecture.c_str(), static_cast<long>(mi.num_params), mi.device.c_str(), mi.dtype.c_str(),
              static_cast<long>(prompt_tokens), static_cast<long>(output_tokens));
  std::printf("%6s %14s %14s %14s %14s %14s %10s\n", "batch", "out tok/s", "e2e tok/s", "decode step", "p50 step",
              "p95 step", "vs batch1");
  nlohmann::json results = nlohmann::json::array();
  double base = 0;
  for (int32_t b : batches) {
    engine::SamplingParams p;
    p.temperature = 0;
    p.max_tokens = static_cast<int>(output_tokens);
    p.ignore_eos = true;
    struct Run {
      double wall, e2e;
      std::vector<double> steps;
    };
    auto run = [&](int tag) {
      const double start = engine::NowSeconds();
      for (int i = 0; i < b; ++i) {
        std::vector<int32_t> prompt(prompt_tokens);
        for (int64_t t = 0; t < prompt_tokens; ++t)
          prompt[t] = static_cast<int32_t>((i * 131 + t * 7 + tag) % mi.vocab_size);
        (void)core->AddRequest(std::to_string(tag) + "-" + std::to_string(i), prompt, p, nullptr);
      }
      core->Step();  // the prefill step is excluded from the decode figures
      std::vector<double> steps;
      const double t0 = engine::NowSeconds();
      while (core->HasWork()) {
        const double s0 = engine::NowSeconds();
        core->Step();
        steps.push_back(engine::NowSeconds() - s0);
      }
      const double end = engine::NowSeconds();
      return Run{end - t0, end - start, steps};
    };
    run(-1);  // warm-up
    Run r = run(b);
    if (r.steps.empty()) {
      std::fprintf(stderr, "engine_bench: batch %d finished in its prefill step (--output-tokens 1?)\n", b);
      return 2;
    }
    std::vector<double>& steps = r.steps;
    std::sort(steps.begin(), steps.end());
    const double tokens = static_cast<double>(b) * static_cast<double>(output_tokens - 1);
    const double tps = tokens / r.wall;
    const double e2e = static_cast<double>(b) * static_cast<double>(output_tokens) / r.e2e;
    const double mean = r.wall / static_cast<double>(steps.size());
    const double p50 = steps[steps.size() / 2], p95 = steps[std::min(steps.size() - 1, steps.size() * 95 / 100)];
    if (base == 0) base = tps;
    std::printf("%6d %14.1f %14.1f %11.3f ms %11.3f ms %11.3f ms %9.2fx\n", b, tps, e2e, mean * 1e3, p50 * 1e3,
                p95 * 1e3, tps / base);
    std::fflush(stdout);
    results.push_back({{"batch", b},
                       {"output_tokens_per_s", tps},
                       {"e2e_output_tokens_per_s", e2e},
                       {"mean_step_ms", mean * 1e3},
                       {"p50_step_ms", p50 * 1e3},
                       {"p95_step_ms", p95 * 1e3}});
  }
  if (a.Has("json")) std::printf("%s\n", results.dump().c_str());
  return 0;
}
