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

int RunVigilctl(const std::string& args, std::string* out) {
  std::string cmd = std::string(VIGILCTL_PATH) + " " + args + " 2>/dev/null";
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

TEST(VigilctlTest, LogitsWritesASafetensorsFile) {
  Golden g("gpt2");
  vigil::testing::TempDir dir;
  std::string out;
  const std::string file = dir.File("logits.safetensors");
  ASSERT_EQ(RunVigilctl("logits --model " + ModelDir("gpt2") + " --prompt-ids " + Join(g.Ids("input_ids.3")) + " --out " + file,
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
  EXPECT_NE(out.find("12 rules: OK"), std::string::npos) << out;
  vigil::testing::TempDir dir;
  vigil::testing::WriteFile(dir.File("bad.yaml"), "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: ttft_p69 > 1\n");
  EXPECT_EQ(RunVigilctl("rules check " + dir.File("bad.yaml"), &out), 1);
}
#endif

}  // namespace
}  // namespace vigil
