// Engine throughput: output tokens/s and step time on a model (default the
// built-in one) at several batch sizes, in one run so the figures compare.
//   engine_bench [--model M] [--device cpu|cuda] [--dtype D] [--batches 1,8,32]
//                [--prompt-tokens 32] [--output-tokens 64]
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"
#include "common/logging.h"
#include "engine/engine_core.h"

using namespace vigil;

int main(int argc, char** argv) {
  InitLogging("warn");
  cli::Args a;
  Status st = a.Parse(argc - 1, argv + 1, {"model", "device", "dtype", "batches", "prompt-tokens", "output-tokens"},
                      {"json"});
  if (!st.ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", st.message().c_str());
    return 2;
  }
  std::vector<int32_t> batches;
  if (!(st = cli::ParseIdList(a.Get("batches", "1,8,32"), &batches)).ok()) {
    std::fprintf(stderr, "engine_bench: --batches: %s\n", st.message().c_str());
    return 2;
  }
  int64_t prompt_tokens = 0, output_tokens = 0;
  (void)a.GetInt("prompt-tokens", 32, &prompt_tokens);
  (void)a.GetInt("output-tokens", 64, &output_tokens);

  engine::EngineConfig cfg;
  cfg.model = a.Get("model", "builtin:tiny-llama");
  cfg.device = a.Get("device", "cpu");
  cfg.dtype = a.Get("dtype", "auto");
  cfg.max_num_seqs = 256;
  cfg.enable_prefix_caching = false;  // measure computation, not cache hits
  std::unique_ptr<engine::EngineCore> core;
  if (!(st = engine::EngineCore::Create(cfg, &core)).ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", st.ToString().c_str());
    return 2;
  }
  const auto& mi = core->model_info();
  std::printf("model %s (%s, %ld params) on %s/%s; prompt %ld tokens, %ld output tokens per request\n",
              mi.name.c_str(), mi.architecture.c_str(), static_cast<long>(mi.num_params), mi.device.c_str(),
              mi.dtype.c_str(), static_cast<long>(prompt_tokens), static_cast<long>(output_tokens));
  std::printf("%6s %14s %14s %14s %14s %10s\n", "batch", "out tok/s", "decode step", "p50 step", "p95 step",
              "vs batch1");
  nlohmann::json results = nlohmann::json::array();
  double base = 0;
  for (int32_t b : batches) {
    engine::SamplingParams p;
    p.temperature = 0;
    p.max_tokens = static_cast<int>(output_tokens);
    p.ignore_eos = true;
    auto run = [&](int tag) {
      for (int i = 0; i < b; ++i) {
        std::vector<int32_t> prompt(prompt_tokens);
        for (int64_t t = 0; t < prompt_tokens; ++t) prompt[t] = static_cast<int32_t>((i * 131 + t * 7 + tag) % mi.vocab_size);
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
      const double wall = engine::NowSeconds() - t0;
      return std::make_pair(wall, steps);
    };
    run(-1);  // warm-up
    auto [wall, steps] = run(b);
    std::sort(steps.begin(), steps.end());
    const double tokens = static_cast<double>(b) * static_cast<double>(output_tokens - 1);
    const double tps = tokens / wall;
    const double mean = wall / static_cast<double>(steps.size());
    const double p50 = steps[steps.size() / 2], p95 = steps[std::min(steps.size() - 1, steps.size() * 95 / 100)];
    if (base == 0) base = tps;
    std::printf("%6d %14.1f %11.3f ms %11.3f ms %11.3f ms %9.2fx\n", b, tps, mean * 1e3, p50 * 1e3, p95 * 1e3,
                tps / base);
    results.push_back({{"batch", b}, {"output_tokens_per_s", tps}, {"mean_step_ms", mean * 1e3},
                       {"p50_step_ms", p50 * 1e3}, {"p95_step_ms", p95 * 1e3}});
  }
  if (a.Has("json")) std::printf("%s\n", results.dump().c_str());
  return 0;
}
