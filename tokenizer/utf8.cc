#include "tokenizer/tokenizer.h"

namespace vigil::tokenizer {

namespace {

// Length of the valid sequence at s[i], 0 if invalid, -1 if truncated at end.
int SeqLen(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int n;
  uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    min = 0x10000;
  } else return 0;
  uint32_t cp = c & (0x3F >> (n - 1));
  for (int k = 1; k < n; ++k) {
    if (i + k >= s.size()) return -1;
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

size_t CompleteUtf8Prefix(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    int n = SeqLen(s, i);
    if (n == -1) return i;                     // wait for the rest
    i += n == 0 ? 1 : static_cast<size_t>(n);  // invalid bytes pass (they become U+FFFD)
  }
  return i;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    int n = SeqLen(s, i);
    if (n <= 0) return false;
    i += static_cast<size_t>(n);
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    int n = SeqLen(s, i);
    if (n <= 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, static_cast<size_t>(n)));
      i += static_cast<size_t>(n);
    }
  }
  return out;
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::string bytes;
  if (!DecodeBytes(ids, &bytes, skip_special_tokens).ok()) return "";
  return SanitizeUtf8(bytes);
}

std::string StreamDecoder::Push(const std::vector<int32_t>& ids) {
  std::string bytes;
  if (!tok_->DecodeBytes(ids, &bytes, skip_special_).ok()) return "";
  pending_ += bytes;
  const size_t n = CompleteUtf8Prefix(pending_);
  std::string out = SanitizeUtf8(std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::Finish() {
  std::string out = SanitizeUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace vigil::tokenizer
