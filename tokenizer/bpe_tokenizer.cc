// Byte-level BPE: pre-tokenize with PCRE2 (Unicode classes, lookahead), map
// bytes to GPT-2's printable code points, then apply ranked merges with a
// heap (O(n log n) per piece, so a megabyte without spaces stays cheap).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>
#include <unordered_map>

#include "tokenizer/tokenizer.h"
#include "common/mutex.h"
#include "common/os_util.h"

namespace vigil::tokenizer {

namespace {

using json = nlohmann::json;

const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// GPT-2's bytes_to_unicode(): printable bytes map to themselves, the rest to 256+n.
struct ByteMap {
  std::string encode[256];                       // byte -> UTF-8 of its code point
  std::unordered_map<uint32_t, uint8_t> decode;  // code point -> byte
  ByteMap() {
    std::vector<bool> direct(256, false);
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b) {
      uint32_t cp = direct[b] ? static_cast<uint32_t>(b) : 256 + n++;
      AppendUtf8(cp, &encode[b]);
      decode[cp] = static_cast<uint8_t>(b);
    }
  }
};
const ByteMap& Bytes() {
  static const ByteMap m;
  return m;
}

class Regex {
 public:
  ~Regex() {
    if (code_) pcre2_code_free(code_);
  }
  Status Compile(const std::string& pattern) {
    int err = 0;
    PCRE2_SIZE off = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP, &err,
                          &off, nullptr);
    if (!code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return Status::InvalidArgument("pre-tokenizer regex does not compile at offset " + std::to_string(off) + ": " +
                                     reinterpret_cast<char*>(msg));
    }
    jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
    return Status::OK();
  }
  // Splits `text` into matches and the gaps between them ("Isolated").
  Status Split(std::string_view text, std::vector<std::string_view>* pieces) const {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
    size_t pos = 0, gap = 0;
    Status st;
    while (pos <= text.size()) {
      int rc = Match(text, pos, md);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        st = Status::InvalidArgument("pre-tokenizer match failed (error " + std::to_string(rc) + ")");
        break;
      }
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      size_t b = ov[0], e = ov[1];
      if (e == b) {  // empty match: step one code point
        pos = b + 1;
        while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
        continue;
      }
      if (b > gap) pieces->push_back(text.substr(gap, b - gap));
      pieces->push_back(text.substr(b, e - b));
      pos = gap = e;
    }
    if (st.ok() && gap < text.size()) pieces->push_back(text.substr(gap));
    pcre2_match_data_free(md);
    return st;
  }

 private:
  int Match(std::string_view text, size_t pos, pcre2_match_data* md) const {
    auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    int rc = pcre2_match(code_, subject, text.size(), pos, jit_ ? 0 : PCRE2_NO_UTF_CHECK, md, nullptr);
    // The JIT's default stack can run out on long whitespace runs with the
    // lookahead; the interpreter handles them.
    if (jit_ && rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(code_, subject, text.size(), pos, PCRE2_NO_JIT, md, nullptr);
    return rc;
  }
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
};

class BpeTokenizer final : public Tokenizer {
 public:
  Status Init(const json& j, const std::string& source);
  Status Encode(std::string_view text, std::vector<int32_t>* ids) const override;
  Status DecodeBytes(const std::vector<int32_t>& ids, std::string* bytes, bool skip_special) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(id_to_token_.size()); }
  int32_t TokenToId(const std::string& token) const override {
    auto it = vocab_.find(token);
    if (it != vocab_.end()) return it->second;
    for (const Added& a : added_)
      if (a.content == token) return a.id;
    return -1;
  }
  bool IsSpecial(int32_t id) const override {
    return id >= 0 && id < vocab_size() && is_special_[static_cast<size_t>(id)];
  }
  const std::string& source() const override { return source_; }

 private:
  struct Added {
    int32_t id;
    std::string content;
    bool special;
  };
  Status EncodePiece(std::string_view piece, std::vector<int32_t>* ids) const;
  void Bpe(const std::string& mapped, std::vector<int32_t>* ids) const;

  std::string source_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> is_special_, is_added_;
  std::unordered_map<std::string, int32_t> merge_rank_;  // "a b" -> rank
  std::vector<Added> added_;
  Regex regex_;
  bool add_prefix_space_ = false;
  mutable Mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_ GUARDED_BY(cache_mu_);
};

Status Unsupported(const std::string& source, const std::string& what) {
  return Status::Unimplemented(
      source + ": " + what + " is not supported (Vigil reads byte-level BPE tokenizers: GPT-2, Llama-3, Qwen2 style)");
}

Status BpeTokenizer::Init(const json& j, const std::string& source) {
  source_ = source;
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    return Status::InvalidArgument(source + ": no \"model\" object");
  const json& m = j["model"];
  const std::string type = m.value("type", "");
  if (type != "BPE") return Unsupported(source, "tokenizer model type \"" + type + "\"");
  if (m.value("byte_fallback", false)) return Unsupported(source, "byte_fallback BPE (SentencePiece style)");
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    return Unsupported(source, "normalizer \"" + j["normalizer"].value("type", "?") + "\"");
  }
  // Pre-tokenizer: ByteLevel (its own GPT-2 regex) or Sequence[Split, ByteLevel].
  const json pre = j.value("pre_tokenizer", json());
  std::string pattern;
  auto byte_level = [&](const json& bl, bool must_not_regex) -> Status {
    add_prefix_space_ = bl.value("add_prefix_space", false);
    const bool use_regex = bl.value("use_regex", true);
    if (use_regex && must_not_regex) return Unsupported(source, "a Split followed by ByteLevel with use_regex");
    if (use_regex) pattern = kGpt2Pattern;
    return Status::OK();
  };
  if (pre.is_object() && pre.value("type", "") == "ByteLevel") {
    VIGIL_RETURN_IF_ERROR(byte_level(pre, false));
  } else if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
             pre["pretokenizers"].is_array() && pre["pretokenizers"].size() == 2) {
    const json& split = pre["pretokenizers"][0];
    const json& bl = pre["pretokenizers"][1];
    if (split.value("type", "") != "Split" || bl.value("type", "") != "ByteLevel")
      return Unsupported(source, "pre-tokenizer sequence other than [Split, ByteLevel]");
    if (split.value("behavior", "") != "Isolated" || split.value("invert", false))
      return Unsupported(source, "Split behaviour other than Isolated");
    if (!split.contains("pattern") || !split["pattern"].contains("Regex") || !split["pattern"]["Regex"].is_string())
      return Unsupported(source, "Split without a Regex pattern");
    pattern = split["pattern"]["Regex"].get<std::string>();
    VIGIL_RETURN_IF_ERROR(byte_level(bl, true));
  } else {
    return Unsupported(source, "pre-tokenizer \"" + (pre.is_object() ? pre.value("type", "?") : "none") + "\"");
  }
  const json dec = j.value("decoder", json());
  if (!dec.is_object() || dec.value("type", "") != "ByteLevel")
    return Unsupported(source, "decoder other than ByteLevel");
  VIGIL_RETURN_IF_ERROR(regex_.Compile(pattern).WithContext(source));

  if (!m.contains("vocab") || !m["vocab"].is_object()) return Status::InvalidArgument(source + ": model has no vocab");
  int32_t max_id = -1;
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > INT32_MAX)
      return Status::InvalidArgument(source + ": vocab entry \"" + it.key() + "\" has no valid id");
    const int32_t id = it->get<int32_t>();
    vocab_[it.key()] = id;
    max_id = std::max(max_id, id);
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const json& a : j["added_tokens"]) {
      if (!a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") || !a["content"].is_string())
        return Status::InvalidArgument(source + ": an added_tokens entry lacks id or content");
      if (a["id"].get<int64_t>() < 0 || a["id"].get<int64_t>() > INT32_MAX)
        return Status::InvalidArgument(source + ": added token \"" + a["content"].get<std::string>() +
                                       "\" has no valid id");
      Added t{a["id"].get<int32_t>(), a["content"].get<std::string>(), a.value("special", false)};
      if (t.content.empty()) continue;
      max_id = std::max(max_id, t.id);
      added_.push_back(t);
    }
  }
  // Ids index a table: real vocabularies are dense, so one far beyond the
  // entries' count is a broken file, not a reason to allocate gigabytes.
  const size_t entries = vocab_.size() + added_.size();
  if (max_id >= 0 && static_cast<size_t>(max_id) >= 2 * entries + 1024)
    return Status::InvalidArgument(source + ": token id " + std::to_string(max_id) + " is far beyond the " +
                                   std::to_string(entries) + " tokens (ids must be nearly dense)");
  id_to_token_.assign(static_cast<size_t>(max_id + 1), std::string());
  is_special_.assign(id_to_token_.size(), false);
  is_added_.assign(id_to_token_.size(), false);
  for (const auto& kv : vocab_) id_to_token_[static_cast<size_t>(kv.second)] = kv.first;
  for (const Added& a : added_) {
    id_to_token_[static_cast<size_t>(a.id)] = a.content;
    is_special_[static_cast<size_t>(a.id)] = a.special;
    is_added_[static_cast<size_t>(a.id)] = true;
  }
  // Longest added token first, so "<|a|><|ab|>"-style overlaps resolve as HF does.
  std::sort(added_.begin(), added_.end(),
            [](const Added& x, const Added& y) { return x.content.size() > y.content.size(); });

  if (!m.contains("merges") || !m["merges"].is_array())
    return Status::InvalidArgument(source + ": model has no merges");
  int32_t rank = 0;
  for (const json& mg : m["merges"]) {
    std::string key;
    if (mg.is_string()) key = mg.get<std::string>();  // older "a b" form
    else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string())
      key = mg[0].get<std::string>() + " " + mg[1].get<std::string>();
    else return Status::InvalidArgument(source + ": merge #" + std::to_string(rank) + " is malformed");
    merge_rank_.emplace(std::move(key), rank++);
  }
  return Status::OK();
}

void BpeTokenizer::Bpe(const std::string& mapped, std::vector<int32_t>* ids) const {
  // Symbols: one per code point, in a linked list.
  struct Sym {
    size_t start, len;
    int prev, next;
  };
  std::vector<Sym> syms;
  for (size_t i = 0; i < mapped.size();) {
    size_t n = 1;
    const auto c = static_cast<unsigned char>(mapped[i]);
    if (c >= 0xF0) n = 4;
    else if (c >= 0xE0) n = 3;
    else if (c >= 0xC0) n = 2;
    syms.push_back({i, n, static_cast<int>(syms.size()) - 1, static_cast<int>(syms.size()) + 1});
    i += n;
  }
  if (syms.empty()) return;
  syms.back().next = -1;
  struct Cand {
    int32_t rank;
    int left;
    size_t left_len, right_len;  // to detect stale entries
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int l) {
    if (l < 0 || syms[l].next < 0) return;
    const Sym& a = syms[l];
    const Sym& b = syms[a.next];
    std::string key = mapped.substr(a.start, a.len) + " " + mapped.substr(b.start, b.len);
    auto it = merge_rank_.find(key);
    if (it != merge_rank_.end()) heap.push({it->second, l, a.len, b.len});
  };
  for (int i = 0; i + 1 < static_cast<int>(syms.size()); ++i) push(i);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    Sym& a = syms[c.left];
    if (a.len == 0 || a.next < 0 || a.len != c.left_len || syms[a.next].len != c.right_len) continue;
    Sym& b = syms[a.next];
    a.len += b.len;
    b.len = 0;
    a.next = b.next;
    if (a.next >= 0) syms[a.next].prev = c.left;
    push(a.prev);
    push(c.left);
  }
  for (int i = 0; i >= 0; i = syms[i].next) {
    const std::string tok = mapped.substr(syms[i].start, syms[i].len);
    auto it = vocab_.find(tok);
    if (it != vocab_.end()) {
      ids->push_back(it->second);
    } else {
      // Unmergeable leftovers fall back to their single-byte tokens, which
      // every byte-level vocabulary holds.
      for (size_t k = 0; k < tok.size();) {
        size_t n = 1;
        const auto ch = static_cast<unsigned char>(tok[k]);
        if (ch >= 0xF0) n = 4;
        else if (ch >= 0xE0) n = 3;
        else if (ch >= 0xC0) n = 2;
        auto one = vocab_.find(tok.substr(k, n));
        if (one != vocab_.end()) ids->push_back(one->second);
        k += n;
      }
    }
  }
}

Status BpeTokenizer::EncodePiece(std::string_view piece, std::vector<int32_t>* ids) const {
  const bool cacheable = piece.size() <= 64;
  if (cacheable) {
    MutexLock lock(&cache_mu_);
    auto it = cache_.find(std::string(piece));
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return Status::OK();
    }
  }
  std::string mapped;
  mapped.reserve(piece.size() * 2);
  const ByteMap& bm = Bytes();
  for (char ch : piece) mapped += bm.encode[static_cast<unsigned char>(ch)];
  std::vector<int32_t> out;
  Bpe(mapped, &out);
  ids->insert(ids->end(), out.begin(), out.end());
  if (cacheable) {
    MutexLock lock(&cache_mu_);
    if (cache_.size() > 200000) cache_.clear();  // bounded memory
    cache_.emplace(std::string(piece), std::move(out));
  }
  return Status::OK();
}

Status BpeTokenizer::Encode(std::string_view text, std::vector<int32_t>* ids) const {
  ids->clear();
  if (!IsValidUtf8(text)) return Status::InvalidArgument("text is not valid UTF-8");
  size_t pos = 0;
  bool first_segment = true;
  while (pos <= text.size()) {
    // The next added token, earliest and then longest.
    size_t best = std::string_view::npos;
    const Added* hit = nullptr;
    for (const Added& a : added_) {
      size_t f = text.find(a.content, pos);
      if (f < best) {
        best = f;
        hit = &a;
      }
    }
    std::string_view seg = text.substr(pos, best == std::string_view::npos ? std::string_view::npos : best - pos);
    if (!seg.empty()) {
      std::string prefixed;
      if (add_prefix_space_ && first_segment && seg.front() != ' ') {
        prefixed = " " + std::string(seg);
        seg = prefixed;
      }
      std::vector<std::string_view> pieces;
      VIGIL_RETURN_IF_ERROR(regex_.Split(seg, &pieces));
      for (std::string_view p : pieces) VIGIL_RETURN_IF_ERROR(EncodePiece(p, ids));
    }
    first_segment = false;
    if (hit == nullptr) break;
    ids->push_back(hit->id);
    pos = best + hit->content.size();
  }
  return Status::OK();
}

Status BpeTokenizer::DecodeBytes(const std::vector<int32_t>& ids, std::string* bytes, bool skip_special) const {
  const ByteMap& bm = Bytes();
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      return Status::InvalidArgument("token id " + std::to_string(id) + " is not in the vocabulary");
    const std::string& tok = id_to_token_[static_cast<size_t>(id)];
    if (is_added_[static_cast<size_t>(id)]) {
      if (!(skip_special && is_special_[static_cast<size_t>(id)])) bytes->append(tok);
      continue;
    }
    for (size_t k = 0; k < tok.size();) {
      const auto c = static_cast<unsigned char>(tok[k]);
      uint32_t cp;
      size_t n;
      if (c < 0x80) {
        cp = c;
        n = 1;
      } else if (c < 0xE0) {
        cp = c & 0x1F;
        n = 2;
      } else if (c < 0xF0) {
        cp = c & 0x0F;
        n = 3;
      } else {
        cp = c & 0x07;
        n = 4;
      }
      for (size_t q = 1; q < n && k + q < tok.size(); ++q)
        cp = (cp << 6) | (static_cast<unsigned char>(tok[k + q]) & 0x3F);
      auto it = bm.decode.find(cp);
      if (it != bm.decode.end()) bytes->push_back(static_cast<char>(it->second));
      k += n;
    }
  }
  return Status::OK();
}

}  // namespace

Status Tokenizer::FromJson(const std::string& text, const std::string& source, std::unique_ptr<Tokenizer>* out) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) { return Status::InvalidArgument(source + ": not valid JSON: " + e.what()); }
  auto t = std::make_unique<BpeTokenizer>();
  // Init reads fields with get<>(), which throws on a wrong type ("type": 1).
  try {
    VIGIL_RETURN_IF_ERROR(t->Init(j, source));
  } catch (const json::exception& e) {
    return Status::InvalidArgument(source + ": unexpected field type: " + e.what());
  }
  *out = std::move(t);
  return Status::OK();
}

Status Tokenizer::Load(const std::string& path, std::unique_ptr<Tokenizer>* out) {
  std::string text;
  VIGIL_RETURN_IF_ERROR(ReadWholeFile(path, "tokenizer file", &text));
  return FromJson(text, path, out);
}

}  // namespace vigil::tokenizer
