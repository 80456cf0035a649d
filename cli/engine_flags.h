// The flags of vigilctl generate / logits, torch-free. Two binaries register
// them: vigilctl, whose callback hands the command line to vigilctl-engine
// (cmd_generate.cc), and vigilctl-engine, which runs the engine
// (engine_tool.cc). So vigilctl itself does not link libtorch, whose static
// initialisation costs every other command ~0.6 s of CPU at start.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vigil::cli {

// The flags both commands share: which model, where, and its KV cache.
struct EngineFlags {
  std::string model = "builtin:tiny-llama", device = "cpu", dtype = "auto";
  int64_t block_size = 16, num_blocks = 0, max_model_len = 0;
  std::vector<std::string> prompt_ids;
};

struct GenerateFlags : EngineFlags {
  int64_t max_tokens = 16, top_k = 0, seed = 0;
  double temperature = 0, top_p = 1;
  bool ignore_eos = false;
  CLI::Option* seed_opt = nullptr;
};

struct LogitsFlags : EngineFlags {
  std::string out;
};

// Registers `generate` and `logits` on `app`; the chosen one's runner gets
// its parsed flags and returns the exit code (*rc).
struct EngineRunners {
  std::function<int(const GenerateFlags&)> generate;
  std::function<int(const LogitsFlags&)> logits;
};
void AddEngineCommands(CLI::App* app, int* rc, EngineRunners run);

}  // namespace vigil::cli
