#include "scrape/exposition.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <string>

#include "scrape/family_type.h"
#include "scrape/text_lexis.h"

namespace vigil::scrape {
namespace {

using namespace internal;  // scrape/text_lexis.h, scrape/family_type.h
using E = ScrapeError;
constexpr size_t kNone = static_cast<size_t>(-1);

enum : uint8_t { kType = 1, kHelp = 2, kUnit = 4, kHasSamples = 8 };

// Which characters may start or continue a metric or label name, by byte.
enum : uint8_t { kMetricFirst = 1, kMetricRest = 2, kLabelFirst = 4, kLabelRest = 8 };
const auto kNameChars = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = IsAlpha(static_cast<char>(c)) || c == '_', digit = IsDigit(static_cast<char>(c));
    t[c] = (alpha || c == ':' ? kMetricFirst | kMetricRest : 0) | (digit ? kMetricRest | kLabelRest : 0) |
           (alpha ? kLabelFirst | kLabelRest : 0);
  }
  return t;
}();

// A label name order that decides on the first byte when it can (names
// rarely share one), as std::string_view's does.
bool NameLess(std::string_view a, std::string_view b) {
  if (!a.empty() && !b.empty() && a[0] != b[0])
    return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]);
  return a < b;
}

// A label as parsed: views into the body, or into an unescape buffer when
// the value had escapes. Copied into strings only for a kept sample.
struct Label {
  std::string_view name, value;
};
using LabelViews = std::vector<Label>;
// Stable addresses (values view into them) and reused from line to line.
using Buffers = std::deque<std::string>;

// One line at a time; s_ is the current line and i_ the read position in it.
class Parser {
  // Family name (a view of the body, which outlives the parser) -> index.
  // Ordered: adversarial names cannot force hash collisions.
  using Index = std::map<std::string_view, size_t>;

 public:
  // Families and samples are built in `storage`'s objects, whose strings
  // and vectors keep their capacity: a caller that parses into the same
  // vector scrape after scrape stops allocating for them.
  Parser(Format format, const ParseLimits& limits, std::vector<ParsedFamily>* storage)
      : om_(format == Format::kOpenMetrics), limits_(limits) {
    families.swap(*storage);
  }

  // `families` less the objects not used this time.
  std::vector<ParsedFamily> Result() {
    families.resize(used_);
    for (size_t k = 0; k < used_; ++k) families[k].samples.resize(info_[k].samples);
    return std::move(families);
  }

  // `has_nul`: the line holds a NUL byte (the caller finds them for the
  // whole body at once).
  bool ParseLine(std::string_view line, bool has_nul) {
    if (eof) return Syntax("text after # EOF");
    if (has_nul) return Syntax("NUL byte (binary body?)");
    if (!om_) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF, tolerated in 0.0.4
      if ((line = TrimBlanks(line)).empty()) return true;
    } else if (line.empty() || line.back() == '\r') {
      return Syntax(line.empty() ? "blank line" : "CR in line ending");
    }
    s_ = line;
    i_ = 0;
    return s_[0] == '#' ? Comment() : SampleLine();
  }

  std::vector<ParsedFamily> families;
  ScrapeError reason = E::kSyntax;
  std::string error;
  bool eof = false;

 private:
  // Per family, beside `families`.
  struct Info {
    uint8_t state = 0;  // kType|kHelp|kUnit|kHasSamples
    Type type;
    uint8_t keep = 2;    // 0 drop, 1 keep, 2 not decided yet
    size_t samples = 0;  // used of its samples' objects
  };
  struct Scratch {  // the current sample line
    std::string_view name;
    LabelViews labels;
    double value = 0;
  };

  bool Fail(ScrapeError r, std::string msg) {
    reason = r;
    error = std::move(msg);
    return false;
  }
  bool Syntax(std::string msg) { return Fail(E::kSyntax, std::move(msg)); }
  bool Done() const { return i_ >= s_.size(); }
  bool At(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool Eat(char c) {
    if (!At(c)) return false;
    ++i_;
    return true;
  }
  // The first position from `i` whose byte fails `ok`. On locals: a member
  // index would be stored back on every byte, as a char may alias it.
  template <typename Ok>
  size_t Skip(size_t i, Ok ok) const {
    const char* p = s_.data();
    const size_t n = s_.size();
    while (i < n && ok(p[i])) ++i;
    return i;
  }
  void SkipBlanks() { i_ = Skip(i_, IsBlank); }
  void OptionalBlanks() {
    if (!om_) SkipBlanks();
  }  // 0.0.4 allows them around label tokens
  // The token separator: exactly one space in OpenMetrics, blanks and tabs in 0.0.4.
  bool Sep() {
    if (om_ ? !At(' ') : (Done() || !IsBlank(s_[i_]))) return false;
    if (om_) ++i_;
    else SkipBlanks();
    return true;
  }
  std::string_view Token() {
    const size_t b = i_;
    i_ = Skip(i_, [](char c) { return !IsBlank(c); });
    return s_.substr(b, i_ - b);
  }
  // [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, the same without ':' for labels.
  std::string_view Name(bool metric) {
    const size_t b = i_;
    const uint8_t first = metric ? kMetricFirst : kLabelFirst, rest = metric ? kMetricRest : kLabelRest;
    auto is = [](uint8_t kind) {
      return [kind](char c) { return (kNameChars[static_cast<unsigned char>(c)] & kind) != 0; };
    };
    if (!Done() && is(first)(s_[i_])) i_ = Skip(i_ + 1, is(rest));
    return s_.substr(b, i_ - b);
  }

  // Decodes an escaped string up to an unescaped `quote` (label values) or to
  // the line's end (quote 0: HELP) into `*out`: a view of the line itself
  // when there is no backslash (most values), else of `buf`. 0.0.4 knows
  // \\ and \n, and \" in label values only, and rejects the rest; in
  // OpenMetrics \" works in HELP too, and by its ABNF a backslash before any
  // other character stands for itself.
  bool Escaped(char quote, size_t max_bytes, std::string* buf, std::string_view* out) {
    const size_t j =
        quote ? Skip(i_, [quote](char c) { return c != '\\' && c != quote; }) : std::min(s_.find('\\', i_), s_.size());
    if ((quote ? j < s_.size() && s_[j] == quote : j == s_.size()) && j - i_ <= max_bytes) {
      *out = s_.substr(i_, j - i_);
      i_ = j + (quote != 0);  // past the closing quote
    } else {
      buf->clear();
      if (!Unescape(quote, max_bytes, buf)) return false;
      *out = *buf;
    }
    return ValidUtf8(*out) || Fail(E::kBadUtf8, quote ? "invalid UTF-8 in label value" : "invalid UTF-8 in HELP");
  }
  bool Unescape(char quote, size_t max_bytes, std::string* out) {
    while (quote ? !At(quote) : !Done()) {
      // A run without escapes or the closing quote is appended at once.
      const size_t j = Skip(i_, [quote](char c) { return c != '\\' && c != quote; });
      if (j > i_) {
        out->append(s_.data() + i_, j - i_);
        i_ = j;
        if (out->size() > max_bytes)
          return Syntax("label value longer than " + std::to_string(max_bytes) + " bytes (max_label_value_bytes)");
        continue;
      }
      if (Done()) return Syntax("unterminated label value");
      char c = s_[i_++];
      if (c == '\\') {
        if (Done()) return Syntax("backslash at the end of the line");
        c = s_[i_++];
        if (c == 'n') {
          c = '\n';
        } else if (c != '\\' && !(c == '"' && (quote || om_))) {
          if (!om_)
            return Syntax("invalid escape sequence \\" + (c > ' ' && c < 0x7f ? std::string(1, c) : Quote({&c, 1})));
          out->push_back('\\');
        }
      }
      out->push_back(c);
      if (out->size() > max_bytes)
        return Syntax("label value longer than " + std::to_string(max_bytes) + " bytes (max_label_value_bytes)");
    }
    if (quote) ++i_;  // the closing quote
    return true;
  }

  // {name="value",...} at s_[i_], sorted by name. 0.0.4 allows blanks around
  // tokens and a trailing comma; OpenMetrics' ABNF allows neither. Values
  // that need unescaping are decoded into `bufs`, one per label.
  bool ParseLabels(LabelViews* out, Buffers* bufs) {
    ++i_;  // '{'
    out->clear();
    for (bool first = true;; first = false) {
      OptionalBlanks();
      if (At('}') && (first || !om_)) break;
      const std::string_view name = Name(false);
      if (name.empty()) return Syntax("expected a label name at " + Quote(s_.substr(i_)));
      OptionalBlanks();
      if (!Eat('=')) return Syntax("expected = after label " + std::string(name));
      OptionalBlanks();
      if (!Eat('"')) return Syntax("expected \" to open the value of label " + std::string(name));
      const size_t n = out->size();
      if (n >= limits_.max_labels_per_series)
        return Syntax("more than " + std::to_string(limits_.max_labels_per_series) + " labels (max_labels_per_series)");
      if (n == bufs->size()) bufs->emplace_back();
      out->push_back({name, {}});
      if (!Escaped('"', limits_.max_label_value_bytes, &(*bufs)[n], &out->back().value)) return false;
      OptionalBlanks();
      if (At('}')) break;
      if (!Eat(',')) return Syntax("expected , or } after the value of label " + std::string(name));
    }
    ++i_;  // '}'
    // By name only: a repeated name is an error, so values never decide.
    auto by_name = [](const Label& a, const Label& b) { return NameLess(a.name, b.name); };
    if (!std::is_sorted(out->begin(), out->end(), by_name)) std::sort(out->begin(), out->end(), by_name);
    for (size_t k = 1; k < out->size(); ++k)
      if ((*out)[k].name == (*out)[k - 1].name) return Syntax("duplicate label " + std::string((*out)[k].name));
    return true;
  }

  // "# {labels} value [timestamp]" after an OpenMetrics sample: checked, dropped.
  bool Exemplar() {
    if (s_.substr(i_, 3) != "# {") return Syntax("expected a timestamp or a \"# {\" exemplar");
    i_ += 2;
    double v = 0;
    size_t code_points = 0;  // of UTF-8: the bytes that do not continue one
    if (!ParseLabels(&exemplar_, &exemplar_bufs_)) return false;
    for (const Label& l : exemplar_)
      for (std::string_view t : {l.name, l.value})
        for (char c : t) code_points += (c & 0xC0) != 0x80;
    if (code_points > 128) return Syntax("exemplar labels longer than 128 code points");
    if (!Sep() || !ParseNumber(Token(), false, true, &v)) return Syntax("invalid exemplar value");
    if (!Done() && (!Sep() || !ParseNumber(Token(), false, false, &v) || !Done()))
      return Syntax("invalid exemplar timestamp");
    return true;
  }

  bool SampleLine() {
    Scratch& sample = scratch_;  // reused: only kept samples are copied out
    sample.name = Name(true);
    if (sample.name.empty()) return Syntax("expected a metric name at " + Quote(s_));
    const size_t after_name = i_;
    OptionalBlanks();
    sample.labels.clear();
    if (!At('{')) i_ = after_name;  // those blanks separate the value
    else if (!ParseLabels(&sample.labels, &bufs_)) return false;
    auto& l = sample.labels;  // an empty value is no label
    l.erase(std::remove_if(l.begin(), l.end(), [](const Label& kv) { return kv.value.empty(); }), l.end());
    auto what = [&sample] { return std::string(sample.name); };  // built only for an error
    if (!Sep()) return Syntax("expected a space and a value after " + what());
    const std::string_view value = Token();
    if (!ParseNumber(value, !om_, true, &sample.value))
      return Syntax("invalid value " + Quote(value) + " for " + what());
    if (!Done() && (!Sep() || Done())) return Syntax("expected one space and a timestamp after the value of " + what());
    if (!Done() && !At('#')) {  // checked, then dropped
      const std::string_view ts = Token();
      double seconds = 0;
      if (om_ ? !ParseNumber(ts, false, false, &seconds) : !ParseMillis(ts))
        return Syntax("invalid timestamp " + Quote(ts) + (om_ ? " (seconds)" : " (integer milliseconds)"));
      if (!Done() && (!Sep() || Done())) return Syntax("expected one space and an exemplar after the timestamp");
    }
    if (!Done() && !om_) return Syntax("unexpected text after the value of " + what());
    return (Done() || Exemplar()) && AddSample(sample);
  }

  // The family named `name`, kNone if there is none yet. The current family
  // first: metadata and samples come family by family.
  size_t Lookup(std::string_view name, Index::iterator* hint) {
    if (cur_ != kNone && families[cur_].name == name) return cur_;
    *hint = index_.lower_bound(name);
    return *hint != index_.end() && (*hint)->first == name ? (*hint)->second : kNone;
  }

  // A new family at `hint` (from Lookup); kNone past the limit.
  size_t NewFamily(std::string_view name, Index::iterator hint) {
    if (used_ >= limits_.max_series) {
      Fail(E::kTooManySeries, "more than " + std::to_string(limits_.max_series) + " metric families");
      return kNone;
    }
    const Type type = om_ ? Type::kUnknown : Type::kUntyped;
    if (used_ == families.size()) families.emplace_back();
    ParsedFamily& f = families[used_];
    f.name.assign(name);
    f.type.assign(TypeName(type));
    f.help.clear();
    f.sample_count = 0;
    info_.push_back({0, type});
    index_.emplace_hint(hint, name, used_);
    return used_++;
  }

  bool Keep(size_t fam) {
    uint8_t& k = info_[fam].keep;
    if (k == 2) k = !filter_ || (*filter_)(families[fam].name);
    return k == 1;
  }

  bool Owns(size_t idx, std::string_view sample) const {
    const std::string& f = families[idx].name;
    if (sample.size() < f.size() || sample.compare(0, f.size(), f) != 0) return false;
    return OwnsSuffix(om_, info_[idx].type, sample.substr(f.size()));
  }

  // A sample joins the current family if that owns its name; else (0.0.4
  // only: OpenMetrics forbids interleaving) an earlier one; else a new one.
  bool AddSample(const Scratch& s) {
    size_t fam = cur_ != kNone && Owns(cur_, s.name) ? cur_ : kNone;
    for (std::string_view suffix : kSuffixes) {
      if (fam != kNone || !EndsWith(s.name, suffix)) continue;
      const auto it = index_.find(s.name.substr(0, s.name.size() - suffix.size()));
      if (it != index_.end() && Owns(it->second, s.name)) fam = it->second;
    }
    if (fam != kNone && fam != cur_ && om_) return Syntax("metric family " + families[fam].name + " is interleaved");
    if (fam == kNone) {
      auto hint = index_.end();
      const size_t same = Lookup(s.name, &hint);
      if (same != kNone)
        return Syntax("sample " + std::string(s.name) + " does not fit the " + std::string(TypeName(info_[same].type)) +
                      " family " + std::string(s.name));
      if ((fam = NewFamily(s.name, hint)) == kNone) return false;
    }
    if (series_.size() >= limits_.max_series)
      return Fail(E::kTooManySeries, "more than " + std::to_string(limits_.max_series) + " series");
    series_.push_back(SeriesKey(s, line_, fam));
    info_[fam].state |= kHasSamples;
    cur_ = fam;
    ++families[fam].sample_count;
    if (Keep(fam)) {
      std::vector<Sample>& samples = families[fam].samples;
      if (info_[fam].samples == samples.size()) samples.emplace_back();
      Sample& out = samples[info_[fam].samples++];
      out.name.assign(s.name);
      out.labels.resize(s.labels.size());
      for (size_t k = 0; k < s.labels.size(); ++k) {
        out.labels[k].first.assign(s.labels[k].name);
        out.labels[k].second.assign(s.labels[k].value);
      }
      out.value = s.value;
    }
    return true;
  }

 public:
  // Duplicates, found once every line is in: the series keys (two 64-bit
  // hashes of name and labels) sorted, so the cost is O(n log n) whatever
  // the keys are, and no key string is kept per series. Per family holding
  // one, the first found: (family index, message).
  std::map<size_t, std::string> FindDuplicates() {
    std::map<size_t, std::string> out;
    std::sort(series_.begin(), series_.end());
    for (size_t k = 1; k < series_.size(); ++k)
      if (series_[k].h1 == series_[k - 1].h1 && series_[k].h2 == series_[k - 1].h2)
        out.emplace(series_[k].fam, "line " + std::to_string(std::max(series_[k].line, series_[k - 1].line) + 1) +
                                        ": duplicate series (the same name and labels as line " +
                                        std::to_string(std::min(series_[k].line, series_[k - 1].line) + 1) + ")");
    return out;
  }
  void SetLine(size_t line) { line_ = line; }
  void Reserve(size_t lines) {
    series_.reserve(std::min(lines, limits_.max_series));
    families.reserve(std::min<size_t>(lines / 8, 1024));  // HELP, TYPE and a few samples each; no-op when reused
  }
  void SetFilter(const FamilyFilter* f) { filter_ = f; }

 private:
  struct Key {
    uint64_t h1, h2;
    size_t line, fam;
    bool operator<(const Key& o) const { return h1 != o.h1 ? h1 < o.h1 : h2 != o.h2 ? h2 < o.h2 : line < o.line; }
  };
  // `n` < 8 bytes at `p` as a little-endian number, from whole loads (a
  // byte-sized copy into a word stalls on the load that reads it back).
  static uint64_t Tail(const char* p, size_t n) {
    auto byte = [p](size_t k) { return static_cast<uint64_t>(static_cast<unsigned char>(p[k])); };
    if (n == 0) return 0;
    if (n < 4) return byte(0) | byte(n / 2) << (8 * (n / 2)) | byte(n - 1) << (8 * (n - 1));
    uint32_t lo, hi;  // overlapping when n < 8: the shared bytes land in the same places
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) lo = __builtin_bswap32(lo), hi = __builtin_bswap32(hi);
    return lo | static_cast<uint64_t>(hi) << (8 * (n - 4));
  }
  // Two 64-bit lanes: a collision of distinct series (about 2^-128 by
  // chance; deliberate ones fail only the scrape that made them) reads as
  // a duplicate, which is the safe side.
  static Key SeriesKey(const Scratch& s, size_t line, size_t fam) {
    uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
    // Eight bytes at a time, two lanes with different multipliers; the
    // length closes each field, so ("ab","c") and ("a","bc") differ.
    auto mix = [&](std::string_view v) {
      size_t i = 0;
      for (; i + 8 <= v.size(); i += 8) {
        uint64_t w;
        std::memcpy(&w, v.data() + i, 8);
        a = (a ^ w) * 0x9E3779B97F4A7C15ULL;
        a ^= a >> 29;
        b = (b ^ w) * 0xC2B2AE3D27D4EB4FULL;
        b ^= b >> 31;
      }
      uint64_t w = v.size() ^ (Tail(v.data() + i, v.size() - i) << 8);
      a = (a ^ w) * 0x9E3779B97F4A7C15ULL;
      a ^= a >> 29;
      b = (b ^ w) * 0xC2B2AE3D27D4EB4FULL;
      b ^= b >> 31;
    };
    mix(s.name);
    for (const Label& l : s.labels) {
      mix(l.name);
      mix(l.value);
    }
    return {a, b, line, fam};
  }

  // TYPE, HELP or UNIT for `name`: once each, before the family's samples.
  // `type` is the TYPE's, `help` the HELP's text.
  bool Meta(uint8_t kind, std::string_view name, Type type = Type::kUnknown, std::string_view help = {}) {
    const std::string what = kind == kType ? "TYPE" : kind == kHelp ? "HELP" : "UNIT";  // short: no allocation
    auto n = [name] { return std::string(name); };                                      // built only for an error
    auto hint = index_.end();
    size_t idx = Lookup(name, &hint);
    const bool known = idx != kNone;
    if (!known && (idx = NewFamily(name, hint)) == kNone) return false;
    if (known && (info_[idx].state & kHasSamples)) return Syntax(what + " for " + n() + " after its samples");
    if (info_[idx].state & kind) return Syntax("second " + what + " line for " + n());
    if (known && om_ && idx != cur_) return Syntax("metric family " + n() + " is interleaved");
    info_[idx].state |= kind;
    cur_ = idx;
    if (kind == kType) {
      info_[idx].type = type;
      families[idx].type.assign(TypeName(type));
    }
    if (kind == kHelp && Keep(idx)) families[idx].help.assign(help);
    return true;
  }

  // "# HELP name text", "# TYPE name type", and in OpenMetrics "# UNIT name
  // unit" and "# EOF", spaced exactly; 0.0.4 ignores other comments,
  // OpenMetrics forbids them.
  bool Comment() {
    if (om_ && s_ == "# EOF") {
      eof = true;
      return true;
    }
    ++i_;
    const bool spaced = Sep() || !om_;
    const std::string_view kw = Token();
    if (!spaced || (kw != "HELP" && kw != "TYPE" && !(om_ && kw == "UNIT"))) {
      if (om_) return Syntax("only TYPE, HELP, UNIT and EOF lines may start with #");
      return ValidUtf8(s_) || Fail(E::kBadUtf8, "invalid UTF-8 in comment");
    }
    const std::string_view name = Sep() ? Name(true) : "";
    if (name.empty() || !(Sep() || (!om_ && Done())))
      return Syntax("expected a metric name and a space in a " + std::string(kw) + " line");
    std::string_view text;
    if (kw == "HELP") return Escaped(0, kNone, &help_buf_, &text) && Meta(kHelp, name, Type::kUnknown, text);
    text = s_.substr(i_);
    Type type;
    if (kw == "TYPE")
      return ParseType(om_, text, &type) ? Meta(kType, name, type) : Syntax("invalid TYPE " + Quote(text));
    if (!text.empty() &&
        !(EndsWith(name, text) && name.size() > text.size() && name[name.size() - text.size() - 1] == '_'))
      return Syntax("UNIT " + Quote(text) + " is not a suffix of " + std::string(name));  // metric name characters
    return Meta(kUnit, name);
  }

  const bool om_;
  const ParseLimits& limits_;
  std::string_view s_;
  size_t i_ = 0;
  size_t used_ = 0;         // of `families`' objects: the families found so far
  size_t cur_ = kNone;      // the family of the last sample or metadata line
  std::vector<Info> info_;  // per family
  Index index_;
  std::vector<Key> series_;  // every sample's key, checked by FindDuplicate
  Scratch scratch_;
  Buffers bufs_, exemplar_bufs_;  // unescaped label values: the sample's, its exemplar's
  LabelViews exemplar_;
  std::string help_buf_;
  size_t line_ = 0;
  const FamilyFilter* filter_ = nullptr;
};

}  // namespace

const char* ScrapeErrorName(ScrapeError e) {
  static const char* const kNames[] = {"too_large", "too_many_series",  "syntax",
                                       "bad_utf8",  "duplicate_series", "missing_eof"};
  const auto i = static_cast<size_t>(e);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

Status ParseExposition(std::string_view body, Format format, const ParseLimits& limits, std::vector<ParsedFamily>* out,
                       ScrapeError* reason, const FamilyFilter* keep, std::vector<DroppedFamily>* dropped) {
  if (dropped) dropped->clear();
  auto fail = [reason, out](ScrapeError r, const std::string& msg) {
    out->clear();
    if (reason) *reason = r;
    return r == E::kTooLarge || r == E::kTooManySeries ? Status::ResourceExhausted(msg) : Status::InvalidArgument(msg);
  };
  if (body.size() > limits.max_bytes)
    return fail(E::kTooLarge, "scrape body is " + std::to_string(body.size()) + " bytes, over max_bytes " +
                                  std::to_string(limits.max_bytes));
  Parser p(format, limits, out);
  p.SetFilter(keep);
  p.Reserve(body.size() / 48 + 1);  // a guess at the line count: no pass over the body for it
  // The first NUL, found at once: any makes the parse fail at its line.
  const void* nul = std::memchr(body.data(), '\0', body.size());
  const size_t nul_at = nul ? static_cast<size_t>(static_cast<const char*>(nul) - body.data()) : kNone;
  size_t line_no = 0;
  for (size_t pos = 0; pos < body.size(); ++line_no) {
    const void* nl = std::memchr(body.data() + pos, '\n', body.size() - pos);
    const size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - body.data()) : body.size();
    p.SetLine(line_no);
    if (!p.ParseLine(body.substr(pos, end - pos), nul_at >= pos && nul_at < end))
      return fail(p.reason, "line " + std::to_string(line_no + 1) + ": " + p.error);
    pos = end + 1;
  }
  if (format == Format::kOpenMetrics && !p.eof)
    return fail(E::kMissingEof, "line " + std::to_string(line_no + 1) + ": missing the final # EOF line");
  const std::map<size_t, std::string> dups = p.FindDuplicates();
  if (!dups.empty() && !dropped) return fail(E::kDuplicateSeries, dups.begin()->second);
  *out = p.Result();
  if (!dups.empty()) {
    // Left out in order, stably: the kept families' objects stay where they were.
    size_t n = 0;
    for (size_t k = 0; k < out->size(); ++k) {
      if (auto it = dups.find(k); it != dups.end()) {
        dropped->push_back({(*out)[k].name, ScrapeErrorName(E::kDuplicateSeries), it->second});
        continue;
      }
      if (n != k) std::swap((*out)[n], (*out)[k]);
      ++n;
    }
    out->resize(n);
  }
  return Status::OK();
}

Format FormatFromContentType(std::string_view content_type) {
  const std::string_view media = TrimBlanks(content_type.substr(0, content_type.find(';')));
  return EqualsNoCase(media, "application/openmetrics-text") ? Format::kOpenMetrics : Format::kPrometheusText;
}

}  // namespace vigil::scrape
