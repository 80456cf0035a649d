// vigilctl generate / logits as a user runs them: the real binary, its
// stdout, and the safetensors file it writes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.h"

namespace vigil {
namespace {

using vigil::testing::Golden;
using vigil::testing::ModelDir;

// The exit code; stdout in *out (with stderr too when `with_stderr`).
int RunVigilctl(const std::string& args, std::string* out, bool with_stderr = false) {
  std::string cmd = std::string(VIGILCTL_PATH) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  out->clear();
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string Join(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

TEST(VigilctlTest, GenerateBatchesSeveralPromptsAndMatchesHF) {
  Golden g("qwen2");
  std::string out;
  ASSERT_EQ(RunVigilctl("generate --model " + ModelDir("qwen2") + " --prompt-ids " + Join(g.Ids("greedy_prompt.0")) +
                            " --prompt-ids " + Join(g.Ids("greedy_prompt.1")) + " --max-tokens 16 --ignore-eos",
                        &out),
            0);
  std::istringstream lines(out);
  std::string line;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(std::getline(lines, line));
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["prompt_ids"].get<std::vector<int32_t>>(), g.Ids("greedy_prompt." + std::to_string(i)));
    EXPECT_EQ(j["output_ids"].get<std::vector<int32_t>>(), g.Ids("greedy_output." + std::to_string(i)));
    EXPECT_EQ(j["finish_reason"], "length");
  }
}

// Every command but generate/logits must start without libtorch's static
// initialisation (~0.6 s of CPU per run); those two execute vigilctl-engine.
TEST(VigilctlTest, OnlyTheEngineToolLinksLibtorch) {
  std::string deps;
  FILE* p = popen(("ldd " + std::string(VIGILCTL_PATH)).c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) deps.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << deps;
  EXPECT_NE(deps.find("libc.so"), std::string::npos) << deps;  // ldd did list the libraries
  EXPECT_EQ(deps.find("libtorch"), std::string::npos) << deps;
}

TEST(VigilctlTest, LogitsWritesASafetensorsFile) {
  Golden g("gpt2");
  vigil::testing::TempDir dir;
  std::string out;
  const std::string file = dir.File("logits.safetensors");
  ASSERT_EQ(RunVigilctl(
                "logits --model " + ModelDir("gpt2") + " --prompt-ids " + Join(g.Ids("input_ids.3")) + " --out " + file,
                &out),
            0);
  std::unique_ptr<engine::SafetensorsFile> f;
  ASSERT_TRUE(engine::SafetensorsFile::Open(file, &f).ok());
  engine::TensorView v;
  ASSERT_TRUE(f->Get("logits", &v).ok());
  EXPECT_EQ(v.shape, (std::vector<int64_t>{17, 512}));
  auto want = g.Floats("logits.3");
  const float* got = static_cast<const float*>(v.data);
  double err = 0;
  for (size_t i = 0; i < want.size(); ++i) err = std::max(err, std::fabs(double(got[i]) - want[i]));
  EXPECT_LE(err, 1e-4);
}

TEST(VigilctlTest, BadArgumentsExitTwo) {
  std::string out;
  EXPECT_EQ(RunVigilctl("generate --prompt-ids 1,x", &out), 2);
  EXPECT_EQ(RunVigilctl("generate --model /nonexistent --prompt-ids 1", &out), 2);
  EXPECT_EQ(RunVigilctl("generate --bogus", &out), 2);
  EXPECT_EQ(RunVigilctl("frobnicate", &out), 2);
  EXPECT_EQ(RunVigilctl("logits --prompt-ids 1", &out), 2);
  EXPECT_EQ(RunVigilctl("generate --prompt-ids 1 --max-tokens 1x", &out, true), 2);
  EXPECT_NE(out.find("--max-tokens"), std::string::npos) << out;
  EXPECT_EQ(RunVigilctl("", &out, true), 2);
  EXPECT_NE(out.find("generate"), std::string::npos) << out;  // the usage, on stderr
}

// Every command and subcommand, with flags (and positionals, subcommands)
// its --help must name. Commands this build lacks are skipped.
const std::vector<std::pair<std::string, std::vector<std::string>>> kCommands = {
    {"generate",
     {"--prompt-ids", "--model", "--device", "--dtype", "--block-size", "--num-blocks", "--max-model-len",
      "--max-tokens", "--temperature", "--top-p", "--top-k", "--seed", "--ignore-eos"}},
    {"logits", {"--prompt-ids", "--out", "--model", "--device", "--dtype"}},
    {"tokenize", {"--tokenizer", "--text", "--file"}},
    {"detect", {"--input", "--output", "--detector", "--window", "--threshold", "--min-samples", "--direction"}},
    {"rules", {"check", "test", "export"}},
    {"rules check", {"FILE"}},
    {"rules test", {"FILE"}},
    {"rules export", {"FILE", "--format", "-o,--output", "--tests-out", "--for-scale"}},
    {"status", {"--url", "--instance", "--json"}},
    {"silence", {"add", "list", "expire"}},
    {"silence add", {"MATCHER", "--duration", "--start", "--end", "--comment", "--author", "--url", "--token-file"}},
    {"silence list", {"--json", "--url", "--token-file"}},
    {"silence expire", {"ID", "--url", "--token-file"}},
    {"capture", {"start", "list", "get", "summary"}},
    {"capture start", {"--duration", "--reason", "--url", "--token-file"}},
    {"capture list", {"--json", "--url", "--token-file"}},
    {"capture get", {"ID", "--out", "--url", "--token-file"}},
    {"capture summary", {"ID|FILE", "--json", "--url", "--token-file"}},
    {"load",
     {"--url",
      "--model",
      "--api-key",
      "--scenario",
      "--scale",
      "--concurrency",
      "--rate",
      "--requests",
      "--duration",
      "--prompt-tokens",
      "--prompt-tokens-stddev",
      "--max-tokens",
      "--shared-prefix-tokens",
      "--seed",
      "--vocab",
      "--disconnect-fraction",
      "--disconnect-after",
      "--stream",
      "--no-stream",
      "--json"}},
    {"scenario", {"run"}},
    {"scenario run", {"NAME|FILE", "--watch", "--json", "--verbose", "--keep", "--scenarios", "--rules", "--vigild"}},
    {"completion", {"bash"}},
    {"completion bash", {}},
};

bool Built(const std::string& command) {
  static std::string top;
  if (top.empty()) RunVigilctl("--help", &top);
  const std::string first = command.substr(0, command.find(' '));
  return top.find("\n  " + first + " ") != std::string::npos;
}

TEST(VigilctlHelpTest, TopLevelHelpListsTheCommands) {
  std::string out;
  ASSERT_EQ(RunVigilctl("--help", &out), 0);
  for (const char* c : {"generate", "logits"}) EXPECT_NE(out.find(c), std::string::npos) << out;
  int built = 0;
  for (const auto& [command, flags] : kCommands) built += Built(command);
  std::printf("%d of %zu commands in this build\n", built, kCommands.size());
}

TEST(VigilctlHelpTest, EveryCommandsHelpExitsZeroAndNamesItsFlags) {
  for (const auto& [command, flags] : kCommands) {
    if (!Built(command)) continue;
    std::string out;
    ASSERT_EQ(RunVigilctl(command + " --help", &out), 0) << command;
    EXPECT_NE(out.find("Usage: vigilctl " + command), std::string::npos) << out;
    for (const auto& f : flags)
      EXPECT_NE(out.find(f), std::string::npos) << command << " --help lacks " << f << ":\n" << out;
    // One line per flag, each with a description.
    for (const auto& f : flags) {
      if (f[0] != '-') continue;
      const size_t at = out.find("  " + f);
      ASSERT_NE(at, std::string::npos) << command << ": " << f;
      const std::string line = out.substr(at, out.find('\n', at) - at);
      EXPECT_GT(line.size(), f.size() + 12) << command << ": " << f << " has no description: " << line;
    }
  }
}

TEST(VigilctlHelpTest, BashCompletionCompletesCommandsAndFlags) {
  if (std::system("command -v bash >/dev/null 2>&1") != 0) GTEST_SKIP() << "no bash";
  vigil::testing::TempDir dir;
  const std::string script = dir.File("vigilctl.bash");
  std::string out;
  ASSERT_EQ(RunVigilctl("completion bash > " + script, &out), 0);
  // COMP_WORDS from `line`; its last word is the one being completed.
  auto complete = [&](const std::string& line) {
    const std::string cmd = "bash -c 'source " + script + " && COMP_WORDS=(" + line +
                            ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _vigilctl; echo \"${COMPREPLY[*]}\"'";
    FILE* p = popen(cmd.c_str(), "r");
    std::string got;
    char buf[512];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) got.append(buf, n);
    pclose(p);
    while (!got.empty() && got.back() == '\n') got.pop_back();
    return got;
  };
  EXPECT_EQ(complete("vigilctl gen"), "generate");
  EXPECT_EQ(complete("vigilctl --json gen"), "generate");
  EXPECT_EQ(complete("vigilctl generate --prompt"), "--prompt-ids");
  if (Built("rules")) {
    EXPECT_EQ(complete("vigilctl rules ex"), "export");
    EXPECT_EQ(complete("vigilctl rules export --for"), "--format --for-scale");
    EXPECT_EQ(complete("vigilctl rules export a.yaml"), "");  // files, by bash itself
  }
  if (Built("silence")) { EXPECT_EQ(complete("vigilctl silence add --tok"), "--token-file"); }
}

TEST(VigilctlHelpTest, AnUnknownFlagExitsTwoNamingIt) {
  for (const auto& [command, flags] : kCommands) {
    if (!Built(command)) continue;
    std::string out;
    EXPECT_EQ(RunVigilctl(command + " --no-such-flag", &out, true), 2) << command << ": " << out;
    EXPECT_NE(out.find("--no-such-flag"), std::string::npos) << command << ": " << out;
  }
  std::string out;
  EXPECT_EQ(RunVigilctl("frobnicate", &out, true), 2);
  EXPECT_NE(out.find("frobnicate"), std::string::npos) << out;
  if (Built("rules")) {
    EXPECT_EQ(RunVigilctl("rules frobnicate", &out, true), 2);
    EXPECT_NE(out.find("unknown command \"frobnicate\""), std::string::npos) << out;
    // A flag's value that is no number names the flag.
    EXPECT_EQ(RunVigilctl("rules export --format prometheus --for-scale x a.yaml", &out, true), 2);
    EXPECT_NE(out.find("--for-scale"), std::string::npos) << out;
    EXPECT_EQ(RunVigilctl("rules export --format promql a.yaml", &out, true), 2);
    EXPECT_NE(out.find("--format"), std::string::npos) << out;
  }
  if (Built("detect")) {
    // Integers are decimal: no octal "010", no "true".
    EXPECT_EQ(RunVigilctl("detect --input x.csv --window true", &out, true), 2);
    EXPECT_NE(out.find("--window"), std::string::npos) << out;
    EXPECT_EQ(RunVigilctl("detect --input x.csv --detector magic", &out, true), 2);
    EXPECT_NE(out.find("--detector"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

#ifdef VIGIL_HAVE_RULES
TEST(VigilctlRulesTest, CheckPassesThePackAndFailsABadFile) {
  std::string out;
  EXPECT_EQ(RunVigilctl("rules check " + std::string(VIGIL_TEST_DATA_DIR) + "/../../etc/rules/pathologies.yaml " +
                            std::string(VIGIL_TEST_DATA_DIR) + "/../../etc/rules/classic.yaml",
                        &out),
            0);
  EXPECT_NE(out.find("15 rules: OK"), std::string::npos) << out;  // the pathology pack
  vigil::testing::TempDir dir;
  vigil::testing::WriteFile(dir.File("bad.yaml"),
                            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: ttft_p69 > 1\n");
  EXPECT_EQ(RunVigilctl("rules check " + dir.File("bad.yaml"), &out), 1);
}
#endif

}  // namespace
}  // namespace vigil
