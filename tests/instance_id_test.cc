#include "common/instance_id.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(InstanceIdTest, HostedEngineIsLocal) {
  EXPECT_EQ(InstanceId::Local().Name(), "local");
  EXPECT_TRUE(InstanceId::FromLabels({}).local());
  EXPECT_TRUE(InstanceId::FromLabels({{"target", "local"}, {"engine", "x"}}).local());
  EXPECT_EQ(InstanceId::Local().Labels(), (std::map<std::string, std::string>{{"target", "local"}}));
}

TEST(InstanceIdTest, NameLabelsAndParseRoundTrip) {
  for (const InstanceId& id : {InstanceId::Watched("vllm-a"), InstanceId::Watched("triton", "llama"),
                               InstanceId::Watched("sgl", "meta-llama/Llama-3-8B")}) {
    EXPECT_EQ(InstanceId::Parse(id.Name()), id) << id.Name();
    EXPECT_EQ(InstanceId::FromLabels(id.Labels()), id) << id.Name();
    EXPECT_FALSE(id.local());
  }
  // An engine named after a model path keeps its slashes: targets have none.
  EXPECT_EQ(InstanceId::Parse("sgl/meta-llama/Llama-3-8B").engine, "meta-llama/Llama-3-8B");
  EXPECT_EQ(InstanceId::Watched("t", "e").Name(), "t/e");
  EXPECT_EQ(InstanceId::Watched("t").Labels().count("engine"), 0u);
}

}  // namespace
}  // namespace vigil
