// tokenizer.json loading (tokenizer/bpe_tokenizer.cc) on arbitrary JSON, then
// a little encoding and decoding with whatever loaded.
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<vigil::tokenizer::Tokenizer> tok;
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (!vigil::tokenizer::Tokenizer::FromJson(text, "fuzz.json", &tok).ok()) return 0;
  std::vector<int32_t> ids;
  (void)tok->Encode("Hello, world! <|endoftext|> 123 \xc3\xa9t\xc3\xa9  \n\tx", &ids);
  (void)tok->Decode(ids);
  std::vector<int32_t> some;
  for (int32_t i = -2; i < 260; ++i) some.push_back(i);
  std::string bytes;
  (void)tok->DecodeBytes(some, &bytes);
  (void)tok->Decode({0, 1, 2, static_cast<int32_t>(tok->vocab_size() - 1)}, true);
  return 0;
}
