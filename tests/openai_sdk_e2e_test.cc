// The official OpenAI Node SDK (npm `openai`, pinned in tests/node) as a real
// client of vigild: tests/node/openai_sdk_test.mjs drives completions and
// chat, whole and streamed with include_usage, and the SDK's typed errors.
// scripts/deps.sh --test installs node and the SDK (npm ci in tests/node).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>

#include "daemon_harness.h"

namespace vigil {
namespace {

using vigil::testing::DaemonProcess;

TEST(OpenAiSdkE2E, TheNodeSdkStreamsAndCompletesAgainstVigild) {
  const std::string dir = std::string(VIGIL_SOURCE_DIR) + "/tests/node";
  struct stat st {};
  ASSERT_EQ(stat((dir + "/node_modules/openai/package.json").c_str(), &st), 0)
      << "the OpenAI Node SDK is not installed: run scripts/deps.sh --test (npm ci in tests/node)";
  DaemonProcess d("engine:\n  model: builtin:tiny-llama\n  num_blocks: 512\n  max_model_len: 1024\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  const std::string cmd =
      "VIGIL_URL=http://127.0.0.1:" + std::to_string(d.port()) + " node " + dir + "/openai_sdk_test.mjs 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  ASSERT_TRUE(WIFEXITED(rc)) << out;
  EXPECT_EQ(WEXITSTATUS(rc), 0) << out << "\n" << d.Log();
  EXPECT_NE(out.find("ok: OpenAI Node SDK"), std::string::npos) << out;
}

}  // namespace
}  // namespace vigil
