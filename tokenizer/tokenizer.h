// HuggingFace tokenizer.json for byte-level BPE models (GPT-2 style, and
// Llama-3/Qwen2 style with a Split regex before ByteLevel). Anything else is
// a clear error at load, never garbage output.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vigil::tokenizer {

class Tokenizer {
 public:
  static Status Load(const std::string& path, std::unique_ptr<Tokenizer>* out);
  static Status FromJson(const std::string& json_text, const std::string& source, std::unique_ptr<Tokenizer>* out);
  virtual ~Tokenizer() = default;

  // Added and special tokens in the text are matched first, as HF does.
  // Fails on text that is not valid UTF-8.
  virtual Status Encode(std::string_view text, std::vector<int32_t>* ids) const = 0;
  // Bytes of the tokens; may end inside a UTF-8 sequence (see StreamDecoder).
  virtual Status DecodeBytes(const std::vector<int32_t>& ids, std::string* bytes,
                             bool skip_special_tokens = false) const = 0;
  // Whole text; invalid UTF-8 from odd token sequences becomes U+FFFD.
  std::string Decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  // One past the largest id (what the model's vocabulary must cover).
  virtual int64_t vocab_size() const = 0;
  virtual int32_t TokenToId(const std::string& token) const = 0;  // -1 if absent
  virtual bool IsSpecial(int32_t id) const = 0;
  virtual const std::string& source() const = 0;
};

// Incremental detokenizer for streaming: each Push returns text that never
// ends inside a UTF-8 sequence; an incomplete tail waits for the next token.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer* tok, bool skip_special_tokens = false)
      : tok_(tok), skip_special_(skip_special_tokens) {}
  std::string Push(const std::vector<int32_t>& ids);
  // The rest at the end of the stream (a dangling partial sequence -> U+FFFD).
  std::string Finish();

 private:
  const Tokenizer* tok_;
  bool skip_special_;
  std::string pending_;
};

// Length of the longest prefix of `s` made of complete, valid UTF-8
// sequences, treating an incomplete sequence at the very end as "wait".
size_t CompleteUtf8Prefix(std::string_view s);
bool IsValidUtf8(std::string_view s);
// Replaces invalid sequences with U+FFFD.
std::string SanitizeUtf8(std::string_view s);

}  // namespace vigil::tokenizer
