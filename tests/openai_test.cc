#include "daemon/openai.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace vigil::daemon {
namespace {

class OpenAiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tokenizer::Tokenizer::Load(vigil::testing::DataPath("tokenizers/gpt2.tokenizer.json"), &tok_).ok());
  }
  std::optional<ApiError> Parse(const std::string& body, bool chat = false) {
    return ParseGenerationRequest(body, chat, "m", *tok_, ChatTemplate(), &req_);
  }
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  GenerationRequest req_;
};

TEST_F(OpenAiTest, ParsesACompletion) {
  ASSERT_FALSE(Parse(R"({"model":"m","prompt":"Hello, world","max_tokens":7,"temperature":0.5,"top_p":0.9,
    "top_k":40,"seed":3,"stop":["\n"],"stop_token_ids":[50256],"stream":true,"stream_options":{"include_usage":true},
    "ignore_eos":true,"n":1})"));
  EXPECT_EQ(req_.prompt_ids, (std::vector<int32_t>{15496, 11, 995}));
  EXPECT_EQ(req_.params.max_tokens, 7);
  EXPECT_FLOAT_EQ(req_.params.temperature, 0.5f);
  EXPECT_EQ(req_.params.top_k, 40);
  EXPECT_EQ(*req_.params.seed, 3u);
  EXPECT_EQ(req_.stop, std::vector<std::string>{"\n"});
  EXPECT_TRUE(req_.stream && req_.include_usage && req_.params.ignore_eos);
}

TEST_F(OpenAiTest, ChatUsesTheTemplate) {
  ASSERT_FALSE(Parse(R"({"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]})", true));
  EXPECT_EQ(tok_->Decode(req_.prompt_ids), "<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n");
  EXPECT_EQ(req_.params.max_tokens, 256);
}

TEST_F(OpenAiTest, ErrorsCarryStatusParamAndType) {
  auto e = Parse(R"({"model":"other","prompt":"x"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 404);
  EXPECT_EQ(e->code, "model_not_found");
  e = Parse(R"({"prompt":"x","max_tokens":"ten"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "max_tokens");
  EXPECT_EQ(e->ToJson()["error"]["type"], "invalid_request_error");
  e = Parse(R"({"prompt":"x","n":2})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "n");
}

TEST(StopStringsTest, FindAndHoldBack) {
  std::vector<std::string> stops = {"END", "\n\n"};
  EXPECT_EQ(FindStop("abcENDdef", stops), 3u);
  EXPECT_EQ(FindStop("abc", stops), std::string::npos);
  EXPECT_EQ(FindStop("xxEN", stops, 3), std::string::npos);
  EXPECT_EQ(FindStop("xxEND", stops, 4), 2u);  // straddles the already-sent point
  EXPECT_EQ(StopHoldback("abcEN", stops), 2u);
  EXPECT_EQ(StopHoldback("abc\n", stops), 1u);
  EXPECT_EQ(StopHoldback("abc", stops), 0u);
}

}  // namespace
}  // namespace vigil::daemon
