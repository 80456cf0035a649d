// Encoding arbitrary text with GPT-2's real tokenizer.json, as /tokenize and
// every prompt do; valid UTF-8 must decode back to itself. The input's bytes
// are also decoded as token ids, streaming, as generation output is.
#include <cstdlib>
#include <cstring>

#include "tokenizer/tokenizer.h"

using vigil::tokenizer::Tokenizer;

static const Tokenizer* Gpt2() {
  static Tokenizer* tok = [] {
    std::unique_ptr<Tokenizer> t;
    if (!Tokenizer::Load(VIGIL_GPT2_TOKENIZER, &t).ok()) std::abort();
    return t.release();
  }();
  return tok;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Tokenizer* tok = Gpt2();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<int32_t> ids;
  if (tok->Encode(text, &ids).ok()) {
    if (!vigil::tokenizer::IsValidUtf8(text)) std::abort();  // Encode accepts only valid UTF-8
    if (tok->Decode(ids) != text) std::abort();
  }
  // Bytes as little-endian ids: out-of-range ids must be an error, never a read.
  std::vector<int32_t> raw(size / 4);
  if (!raw.empty()) std::memcpy(raw.data(), data, raw.size() * 4);
  std::string bytes;
  (void)tok->DecodeBytes(raw, &bytes);
  vigil::tokenizer::StreamDecoder dec(tok);
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) out += dec.Push({raw[i] & 0xffff});
  out += dec.Finish();
  if (!vigil::tokenizer::IsValidUtf8(out)) std::abort();
  (void)vigil::tokenizer::SanitizeUtf8(text);
  return 0;
}
