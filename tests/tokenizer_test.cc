#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace vigil::tokenizer {
namespace {

using vigil::testing::DataPath;

std::unique_ptr<Tokenizer> LoadTok(const std::string& name) {
  std::unique_ptr<Tokenizer> t;
  Status st = Tokenizer::Load(DataPath("tokenizers/" + name + ".tokenizer.json"), &t);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return t;
}

class GoldenEncodingTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenEncodingTest, MatchesHuggingFaceExactly) {
  auto tok = LoadTok(GetParam());
  ASSERT_TRUE(tok);
  auto g = nlohmann::json::parse(vigil::testing::ReadFile(DataPath("tokenizers/golden_encodings.json")));
  const auto& texts = g["texts"];
  const auto& want = g[GetParam()];
  ASSERT_EQ(texts.size(), want.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    std::vector<int32_t> ids;
    ASSERT_TRUE(tok->Encode(text, &ids).ok()) << text;
    EXPECT_EQ(ids, want[i].get<std::vector<int32_t>>()) << "text #" << i << ": " << text;
    EXPECT_EQ(tok->Decode(ids), text) << "round trip of text #" << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, GoldenEncodingTest, ::testing::Values("gpt2", "llama3style"));

TEST(TokenizerTest, VocabularyAndSpecials) {
  auto tok = LoadTok("gpt2");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->TokenToId("<|endoftext|>"), 50256);
  EXPECT_TRUE(tok->IsSpecial(50256));
  EXPECT_EQ(tok->Decode({50256, 15496}, /*skip_special_tokens=*/true), "Hello");
  std::string bytes;
  EXPECT_FALSE(tok->DecodeBytes({60000}, &bytes).ok());
}

TEST(TokenizerTest, StreamingNeverSplitsAUtf8Sequence) {
  auto tok = LoadTok("gpt2");
  const std::string text = "emoji 🤖👍🏽 naïve 日本語 done";
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->Encode(text, &ids).ok());
  StreamDecoder sd(tok.get());
  std::string all;
  for (int32_t id : ids) {
    std::string chunk = sd.Push({id});
    EXPECT_TRUE(IsValidUtf8(chunk)) << "chunk for token " << id;
    all += chunk;
  }
  all += sd.Finish();
  EXPECT_EQ(all, text);
}

TEST(TokenizerTest, RejectsInvalidUtf8AndHugeInputStaysFast) {
  auto tok = LoadTok("llama3style");
  std::vector<int32_t> ids;
  EXPECT_FALSE(tok->Encode("bad \xff\xfe bytes", &ids).ok());
  // A megabyte without a break is one pre-token: the heap BPE keeps it O(n log n).
  std::string big(1 << 20, 'a');
  ASSERT_TRUE(tok->Encode(big, &ids).ok());
  EXPECT_GT(ids.size(), 0u);
  EXPECT_EQ(tok->Decode(ids), big);
  std::string spaces(200000, ' ');
  ASSERT_TRUE(tok->Encode(spaces + "x", &ids).ok());
  EXPECT_EQ(tok->Decode(ids), spaces + "x");
}

TEST(TokenizerTest, UnsupportedTokenizersAreClearErrors) {
  std::unique_ptr<Tokenizer> t;
  Status st = Tokenizer::FromJson(R"({"model":{"type":"Unigram","vocab":[]}})", "t.json", &t);
  EXPECT_EQ(st.code(), Status::Code::kUnimplemented);
  EXPECT_NE(st.message().find("t.json: tokenizer model type \"Unigram\""), std::string::npos);
  st = Tokenizer::FromJson(R"({"model":{"type":"BPE","byte_fallback":true}})", "t.json", &t);
  EXPECT_EQ(st.code(), Status::Code::kUnimplemented);
  st = Tokenizer::FromJson(R"({"normalizer":{"type":"NFKC"},"model":{"type":"BPE"}})", "t.json", &t);
  EXPECT_NE(st.message().find("normalizer \"NFKC\""), std::string::npos);
  EXPECT_FALSE(Tokenizer::FromJson("{", "t.json", &t).ok());
  // Found by tests/fuzz/tokenizer_load_fuzz: a field of the wrong JSON type
  // threw out of FromJson instead of failing.
  st = Tokenizer::FromJson(R"({"model":{"type":18446744073709551616}})", "t.json", &t);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("t.json: unexpected field type"), std::string::npos) << st.ToString();
  EXPECT_EQ(Tokenizer::Load("/nonexistent.json", &t).code(), Status::Code::kNotFound);
}

// Found by tests/fuzz/tokenizer_load_fuzz: an added token's id beyond int32
// wrapped and indexed past the id table; a huge valid one would size it.
TEST(TokenizerTest, TokenIdsOutOfRangeOrFarTooSparseAreErrors) {
  auto j = nlohmann::json::parse(vigil::testing::ReadFile(DataPath("tokenizers/gpt2.tokenizer.json")));
  std::unique_ptr<Tokenizer> t;
  auto with_added = [&](int64_t id) {
    auto k = j;
    k["added_tokens"].push_back({{"id", id}, {"content", "<|x|>"}, {"special", true}});
    return Tokenizer::FromJson(k.dump(), "t.json", &t);
  };
  Status st = with_added(2622222222222222);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("t.json: added token \"<|x|>\" has no valid id"), std::string::npos) << st.ToString();
  EXPECT_EQ(with_added(-1).code(), Status::Code::kInvalidArgument);
  st = with_added(2000000000);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("token id 2000000000 is far beyond"), std::string::npos) << st.ToString();
  ASSERT_TRUE(with_added(50257).ok());  // the next id after GPT-2's vocabulary
  EXPECT_EQ(t->Decode({50257}), "<|x|>");
}

TEST(Utf8Test, CompletePrefix) {
  EXPECT_EQ(CompleteUtf8Prefix("ab\xe6\x97"), 2u);  // waits for the third byte
  EXPECT_EQ(CompleteUtf8Prefix("ab\xe6\x97\xa5"), 5u);
  EXPECT_EQ(SanitizeUtf8("a\xffz"), "a\xEF\xBF\xBDz");
}

}  // namespace
}  // namespace vigil::tokenizer
