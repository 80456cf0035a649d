// vigilctl: Vigil's command-line tool.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "common/logging.h"

namespace {

void Usage(FILE* to) {
  std::fprintf(to,
               "usage: vigilctl COMMAND [options]\n\n"
               "commands:\n"
               "  generate --model PATH|builtin:tiny-llama --prompt-ids 1,2,3 [--prompt-ids ...]\n"
               "           [--max-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S]\n"
               "           [--ignore-eos] [--device cpu|cuda] [--dtype auto|float32|bfloat16|float16]\n"
               "           Run the engine offline; one JSON line per prompt.\n"
               "  logits   --model PATH --prompt-ids 1,2,3 --out FILE.safetensors\n"
               "           Write the float32 logits of every prompt position as tensor \"logits\".\n"
               "  tokenize --tokenizer tokenizer.json (--text T | --file F) [--decode]\n"
               "           Print the token ids of a text as JSON.\n"
               "  detect   --input FILE.csv [--detector robust|zscore] [--window N] [--threshold X]\n"
               "           [--min-samples N] [--direction high|low|both] [--output FILE]\n"
               "           Replay a timestamp,value series; write timestamp,value,score,anomaly.\n"
               "  rules check FILE...\n"
               "           Parse and type-check rule files; every error as file:line:col; exit 1 on any.\n"
               "  rules export --format prometheus [--for-scale F] [-o RULES [--tests-out TESTS]] FILE...\n"
               "           The same rules as Prometheus alerting rules over /metrics names.\n"
               "  rules test FILE...\n"
               "           Run rule unit tests (promtool's format) against synthetic series.\n"
               "  status [--url http://127.0.0.1:8000] [--instance NAME] [--json]\n"
               "           The daemon's diagnosis on one screen; exit 0 healthy, 1 otherwise.\n"
               "  silence add MATCHER... [--duration 1h | --end TIME] [--start TIME] --comment TEXT [--author NAME]\n"
               "  silence list [--json]\n"
               "  silence expire ID...\n"
               "           Silences over the admin API (--url, --token-file or VIGIL_ADMIN_TOKEN).\n"
               "           Matchers: name=value, name!=value, name=~regex, name!~regex.\n"
               "  capture start [--duration 5s] [--reason TEXT]\n"
               "  capture list [--json]\n"
               "  capture get ID [--out FILE]\n"
               "           Profiling captures over the admin API (--url, --token-file or VIGIL_ADMIN_TOKEN).\n"
               "  capture summary ID|FILE [--json]\n"
               "           Where the time went; FILE may be any Chrome trace (Vigil's, vLLM's, PyTorch's; gzip or not).\n"
               "  load [--url U] [--model M] [--scenario low_load|saturation|long_prompts|long_outputs|burst [--scale F]]\n"
               "       [--concurrency N | --rate R] [--requests N] [--duration D] [--prompt-tokens N]\n"
               "       [--prompt-tokens-stddev S] [--max-tokens N] [--shared-prefix-tokens N] [--no-stream] [--seed S]\n"
               "       [--disconnect-fraction F --disconnect-after N] [--json]\n"
               "           Drive any OpenAI-compatible server; TTFT, TBT, E2E percentiles, tokens/s, errors.\n"
               "  scenario run NAME|FILE [--json] [--verbose] [--keep]\n"
               "           Start vigild with a pathology scenario (etc/scenarios), drive its load, and check\n"
               "           which rules fire and when; exit 0 when the expectation holds.\n");
}

}  // namespace

int main(int argc, char** argv) {
  vigil::InitLogging("warn");
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    Usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  if (cmd == "generate") return vigil::cli::CmdGenerate(argc - 2, argv + 2);
  if (cmd == "logits") return vigil::cli::CmdLogits(argc - 2, argv + 2);
#ifdef VIGIL_HAVE_STATUS
  if (cmd == "status") return vigil::cli::CmdStatus(argc - 2, argv + 2);
  if (cmd == "silence") return vigil::cli::CmdSilence(argc - 2, argv + 2);
  if (cmd == "capture") return vigil::cli::CmdCapture(argc - 2, argv + 2);
  if (cmd == "load") return vigil::cli::CmdLoad(argc - 2, argv + 2);
  if (cmd == "scenario") return vigil::cli::CmdScenario(argc - 2, argv + 2);
#endif
#ifdef VIGIL_HAVE_RULES
  if (cmd == "rules") return vigil::cli::CmdRules(argc - 2, argv + 2);
#endif
#ifdef VIGIL_HAVE_DETECTORS
  if (cmd == "detect") return vigil::cli::CmdDetect(argc - 2, argv + 2);
#endif
#ifdef VIGIL_HAVE_TOKENIZER
  if (cmd == "tokenize") return vigil::cli::CmdTokenize(argc - 2, argv + 2);
#endif
  std::fprintf(stderr, "vigilctl: unknown command \"%s\"\n\n", cmd.c_str());
  Usage(stderr);
  return 2;
}
