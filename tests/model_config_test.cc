#include "engine/model_config.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace vigil::engine {
namespace {

TEST(ModelConfigTest, LoadsEveryFixture) {
  ModelConfig c;
  ASSERT_TRUE(LoadModelConfig(vigil::testing::ModelDir("llama"), &c).ok());
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);  // from rope_parameters
  EXPECT_FALSE(c.tie_word_embeddings);
  ASSERT_TRUE(LoadModelConfig(vigil::testing::ModelDir("qwen2"), &c).ok());
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1000000.0);
  ASSERT_TRUE(LoadModelConfig(vigil::testing::ModelDir("opt"), &c).ok());
  EXPECT_EQ(c.position_offset, 2);
  EXPECT_EQ(c.activation, Activation::kRelu);
  ASSERT_TRUE(LoadModelConfig(vigil::testing::ModelDir("gpt2"), &c).ok());
  EXPECT_EQ(c.activation, Activation::kGeluTanh);
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{50256});  // outside its vocab: the engine drops it
}

TEST(ModelConfigTest, OlderTopLevelRopeTheta) {
  ModelConfig c;
  Status st = ParseModelConfig(R"({"model_type":"llama","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,
    "num_attention_heads":2,"intermediate_size":16,"rope_theta":500000.0,
    "rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
    "original_max_position_embeddings":8192}})",
                               "cfg", &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
}

TEST(ModelConfigTest, ClearErrors) {
  ModelConfig c;
  EXPECT_NE(ParseModelConfig(R"({"model_type":"mamba","vocab_size":3})", "x/config.json", &c)
                .message()
                .find("model_type \"mamba\" is not supported"),
            std::string::npos);
  EXPECT_NE(ParseModelConfig(R"({"model_type":"llama","vocab_size":"big"})", "x/config.json", &c)
                .message()
                .find("\"vocab_size\" must be an integer"),
            std::string::npos);
  EXPECT_NE(ParseModelConfig("{", "x/config.json", &c).message().find("x/config.json: not valid JSON"),
            std::string::npos);
  EXPECT_NE(ParseModelConfig(R"({"model_type":"llama","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,
    "num_attention_heads":2,"intermediate_size":16,"rope_scaling":{"rope_type":"yarn","factor":2}})",
                             "c", &c)
                .message()
                .find("rope type \"yarn\""),
            std::string::npos);
  EXPECT_EQ(LoadModelConfig("/nonexistent", &c).code(), Status::Code::kNotFound);
}

// The built-in shapes: the daemon's tiny default, and TinyLlama-1.1B's for
// benchmarks at a real model's size.
TEST(ModelConfigTest, BuiltinShapes) {
  ModelConfig c;
  ASSERT_TRUE(BuiltinModelConfig("tiny-llama", &c));
  EXPECT_EQ(c.hidden_size, 256);
  ASSERT_TRUE(BuiltinModelConfig("tinyllama-1.1b", &c));
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.num_layers, 22);
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.num_heads, 32);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim * c.num_heads, c.hidden_size);
  EXPECT_EQ(c.intermediate_size, 5632);
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_FALSE(BuiltinModelConfig("huge", &c));
}

}  // namespace
}  // namespace vigil::engine
