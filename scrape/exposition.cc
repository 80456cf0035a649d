#include "scrape/exposition.h"

#include <algorithm>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <set>

namespace vigil::scrape {
namespace {

using E = ScrapeError;
using Labels = std::vector<std::pair<std::string, std::string>>;
constexpr size_t kNone = static_cast<size_t>(-1);

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsHexDigit(char c) { return IsDigit(c) || (Lower(c) >= 'a' && Lower(c) <= 'f'); }
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool EqualsNoCase(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() &&
         std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) { return Lower(x) == y; });
}
std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Untrusted bytes for an error message: at most 32, non-printables as \xNN,
// so a hostile body cannot put control characters into our logs.
std::string Quote(std::string_view s) {
  std::string r = "\"";
  for (const unsigned char c : s.substr(0, 32)) {
    char buf[8];
    std::snprintf(buf, sizeof buf, c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? "%c" : "\\x%02x", c);
    r += buf;
  }
  return r + (s.size() > 32 ? "\"..." : "\"");
}

// Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool ValidUtf8(std::string_view s) {
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < s.size();) {
    // ASCII, eight bytes at a time: most label values are.
    if (s.size() - i >= 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || s.size() - i < len) return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// A number as Go's strconv.ParseFloat reads it (go: also hex floats with a p
// exponent and '_' between digits, which 0.0.4 inherits), or as OpenMetrics'
// realnumber. Specials: inf/infinity (signed), nan (unsigned), any case.
// Overflow fails (Go's ErrRange); underflow is 0, as in Go.
bool ParseNumber(std::string_view t, bool go, bool specials, double* v) {
  const size_t sign = !t.empty() && (t[0] == '+' || t[0] == '-');
  const std::string_view u = t.substr(sign);
  if (specials && (EqualsNoCase(u, "inf") || EqualsNoCase(u, "infinity") || (!sign && EqualsNoCase(u, "nan")))) {
    *v = Lower(u[0]) == 'n' ? std::numeric_limits<double>::quiet_NaN() : t[0] == '-' ? -HUGE_VAL : HUGE_VAL;
    return true;
  }
  const bool hex = go && u.size() > 2 && u[0] == '0' && Lower(u[1]) == 'x';
  const char exp_char = hex ? 'p' : 'e';
  auto digit = [hex](char c) { return hex ? IsHexDigit(c) : IsDigit(c); };
  const size_t start = sign + (hex ? 2 : 0);
  size_t mant_digits = 0, exp_digits = 0;
  bool dot = false, exp = false, underscores = false;
  for (size_t i = start; i < t.size(); ++i) {
    const char c = t[i];
    const bool after_digit = i > start ? digit(t[i - 1]) : hex;  // Go: the 0x prefix counts as a digit
    if (go && c == '_' && after_digit && i + 1 < t.size() && digit(t[i + 1])) {
      underscores = true;
      continue;
    }
    if (!exp && digit(c)) ++mant_digits;
    else if (!exp && c == '.' && !dot) dot = true;
    else if (!exp && mant_digits > 0 && Lower(c) == exp_char) exp = true;
    else if (exp && IsDigit(c)) ++exp_digits;
    else if (!(exp && (c == '+' || c == '-') && Lower(t[i - 1]) == exp_char)) return false;
  }
  if (mant_digits == 0 || exp != (exp_digits > 0) || (hex && !exp)) return false;  // Go: hex needs its p exponent
  double x = 0;
  if (!hex && !underscores) {
    // The common case, without a copy: from_chars is locale-free; it takes
    // no '+', and leaves range errors to strtod below (Go: underflow is 0).
    const std::string_view u2 = t[0] == '+' ? t.substr(1) : t;
    const auto r = std::from_chars(u2.data(), u2.data() + u2.size(), x);
    if (r.ec == std::errc() && r.ptr == u2.data() + u2.size()) {
      *v = x;
      return true;
    }
  }
  std::string clean(t.substr(0, start));  // what strtod reads: the token less its '_'
  for (size_t i = start; i < t.size(); ++i)
    if (t[i] != '_') clean += t[i];
  // strtod in the C locale: '.' whatever the process locale; ±inf on overflow.
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", nullptr);
  char* end = nullptr;
  x = c_locale ? strtod_l(clean.c_str(), &end, c_locale) : std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size() || std::isinf(x)) return false;
  *v = x;
  return true;
}

// 0.0.4 timestamps: int64 milliseconds, as Go's strconv.ParseInt(s, 10, 64).
bool ParseMillis(std::string_view t) {
  if (t.size() > 1 && t[0] == '+' && IsDigit(t[1])) t.remove_prefix(1);  // from_chars takes no '+'
  int64_t ms = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), ms);
  return !t.empty() && r.ec == std::errc() && r.ptr == t.data() + t.size();
}

bool ValidType(bool om, std::string_view t) {
  if (t == "counter" || t == "gauge" || t == "histogram" || t == "summary") return true;
  return om ? t == "gaugehistogram" || t == "stateset" || t == "info" || t == "unknown" : t == "untyped";
}

constexpr std::string_view kSuffixes[] = {"",     "_total",  "_created", "_bucket", "_count",
                                          "_sum", "_gcount", "_gsum",    "_info"};

// Whether a family of `type` owns the samples named family + `suffix`.
bool OwnsSuffix(bool om, std::string_view type, std::string_view suffix) {
  auto any = [suffix](std::initializer_list<std::string_view> l) {
    return std::find(l.begin(), l.end(), suffix) != l.end();
  };
  if (type == "histogram") return om ? any({"_bucket", "_sum", "_count", "_created"}) : any({"_bucket", "_sum", "_count"});
  if (type == "summary") return om ? any({"", "_sum", "_count", "_created"}) : any({"", "_sum", "_count"});
  if (!om) return suffix.empty();  // 0.0.4 counters carry _total in the family name
  if (type == "counter") return any({"_total", "_created"});
  if (type == "gaugehistogram") return any({"_bucket", "_gsum", "_gcount"});
  if (type == "info") return suffix == "_info";
  return suffix.empty();  // gauge, stateset, unknown
}

enum : uint8_t { kType = 1, kHelp = 2, kUnit = 4, kHasSamples = 8 };

// One line at a time; s_ is the current line and i_ the read position in it.
class Parser {
 public:
  Parser(Format format, const ParseLimits& limits) : om_(format == Format::kOpenMetrics), limits_(limits) {}

  bool ParseLine(std::string_view line) {
    if (eof) return Syntax("text after # EOF");
    if (line.find('\0') != std::string_view::npos) return Syntax("NUL byte (binary body?)");
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

  std::vector<MetricFamily> families;
  ScrapeError reason = E::kSyntax;
  std::string error;
  bool eof = false;

 private:
  bool Fail(ScrapeError r, std::string msg) { reason = r; error = std::move(msg); return false; }
  bool Syntax(std::string msg) { return Fail(E::kSyntax, std::move(msg)); }
  bool Done() const { return i_ >= s_.size(); }
  bool At(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool Eat(char c) { if (!At(c)) return false; ++i_; return true; }
  void SkipBlanks() { while (!Done() && IsBlank(s_[i_])) ++i_; }
  void OptionalBlanks() { if (!om_) SkipBlanks(); }  // 0.0.4 allows them around label tokens
  // The token separator: exactly one space in OpenMetrics, blanks and tabs in 0.0.4.
  bool Sep() {
    if (om_ ? !At(' ') : (Done() || !IsBlank(s_[i_]))) return false;
    if (om_) ++i_;
    else SkipBlanks();
    return true;
  }
  std::string_view Token() {
    const size_t b = i_;
    while (!Done() && !IsBlank(s_[i_])) ++i_;
    return s_.substr(b, i_ - b);
  }
  // [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, the same without ':' for labels.
  std::string_view Name(bool metric) {
    const size_t b = i_;
    for (; !Done(); ++i_) {
      const char c = s_[i_];
      if (!IsAlpha(c) && c != '_' && !(metric && c == ':') && !(i_ > b && IsDigit(c))) break;
    }
    return s_.substr(b, i_ - b);
  }

  // Decodes an escaped string up to an unescaped `quote` (label values) or to
  // the line's end (quote 0: HELP). 0.0.4 knows \\ and \n, and \" in label
  // values only, and rejects the rest; in OpenMetrics \" works in HELP too,
  // and by its ABNF a backslash before any other character stands for itself.
  bool Escaped(char quote, size_t max_bytes, std::string* out) {
    while (quote ? !At(quote) : !Done()) {
      // A run without escapes or the closing quote is appended at once.
      size_t j = i_;
      while (j < s_.size() && s_[j] != '\\' && s_[j] != quote) ++j;
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
          if (!om_) return Syntax("invalid escape sequence \\" + (c > ' ' && c < 0x7f ? std::string(1, c) : Quote({&c, 1})));
          out->push_back('\\');
        }
      }
      out->push_back(c);
      if (out->size() > max_bytes)
        return Syntax("label value longer than " + std::to_string(max_bytes) + " bytes (max_label_value_bytes)");
    }
    if (quote) ++i_;  // the closing quote
    return ValidUtf8(*out) || Fail(E::kBadUtf8, quote ? "invalid UTF-8 in label value" : "invalid UTF-8 in HELP");
  }

  // {name="value",...} at s_[i_], sorted by name. 0.0.4 allows blanks around
  // tokens and a trailing comma; OpenMetrics' ABNF allows neither.
  // `out`'s strings are reused from line to line: no allocation per label
  // once the buffers have grown.
  bool ParseLabels(Labels* out) {
    ++i_;  // '{'
    size_t n = 0;
    for (bool first = true;; first = false) {
      OptionalBlanks();
      if (At('}') && (first || !om_)) break;
      const std::string_view name = Name(false);
      if (name.empty()) return Syntax("expected a label name at " + Quote(s_.substr(i_)));
      OptionalBlanks();
      if (!Eat('=')) return Syntax("expected = after label " + std::string(name));
      OptionalBlanks();
      if (!Eat('"')) return Syntax("expected \" to open the value of label " + std::string(name));
      if (n >= limits_.max_labels_per_series)
        return Syntax("more than " + std::to_string(limits_.max_labels_per_series) + " labels (max_labels_per_series)");
      if (n == out->size()) out->emplace_back();
      auto& kv = (*out)[n++];
      kv.first.assign(name);
      kv.second.clear();
      if (!Escaped('"', limits_.max_label_value_bytes, &kv.second)) return false;
      OptionalBlanks();
      if (At('}')) break;
      if (!Eat(',')) return Syntax("expected , or } after the value of label " + std::string(name));
    }
    ++i_;  // '}'
    out->resize(n);
    // By name only: a repeated name is an error, so values never decide.
    auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
    if (!std::is_sorted(out->begin(), out->end(), by_name)) std::sort(out->begin(), out->end(), by_name);
    for (size_t k = 1; k < out->size(); ++k)
      if ((*out)[k].first == (*out)[k - 1].first) return Syntax("duplicate label " + (*out)[k].first);
    return true;
  }

  // "# {labels} value [timestamp]" after an OpenMetrics sample: checked, dropped.
  bool Exemplar() {
    if (s_.substr(i_, 3) != "# {") return Syntax("expected a timestamp or a \"# {\" exemplar");
    i_ += 2;
    Labels labels;
    double v = 0;
    size_t code_points = 0;  // of UTF-8: the bytes that do not continue one
    if (!ParseLabels(&labels)) return false;
    for (const auto& [k, val] : labels)
      for (char c : k + val) code_points += (c & 0xC0) != 0x80;
    if (code_points > 128) return Syntax("exemplar labels longer than 128 code points");
    if (!Sep() || !ParseNumber(Token(), false, true, &v)) return Syntax("invalid exemplar value");
    if (!Done() && (!Sep() || !ParseNumber(Token(), false, false, &v) || !Done()))
      return Syntax("invalid exemplar timestamp");
    return true;
  }

  bool SampleLine() {
    Sample& sample = scratch_;  // reused: only kept samples are copied out
    sample.name.assign(Name(true));
    if (sample.name.empty()) return Syntax("expected a metric name at " + Quote(s_));
    const size_t after_name = i_;
    OptionalBlanks();
    sample.labels.resize(0);
    if (!At('{')) i_ = after_name;  // those blanks separate the value
    else if (!ParseLabels(&sample.labels)) return false;
    auto& l = sample.labels;  // an empty value is no label
    l.erase(std::remove_if(l.begin(), l.end(), [](const auto& kv) { return kv.second.empty(); }), l.end());
    if (!Sep()) return Syntax("expected a space and a value after " + sample.name);
    const std::string_view value = Token();
    if (!ParseNumber(value, !om_, true, &sample.value)) return Syntax("invalid value " + Quote(value) + " for " + sample.name);
    if (!Done() && (!Sep() || Done())) return Syntax("expected one space and a timestamp after the value of " + sample.name);
    if (!Done() && !At('#')) {  // checked, then dropped
      const std::string_view ts = Token();
      double seconds = 0;
      if (om_ ? !ParseNumber(ts, false, false, &seconds) : !ParseMillis(ts))
        return Syntax("invalid timestamp " + Quote(ts) + (om_ ? " (seconds)" : " (integer milliseconds)"));
      if (!Done() && (!Sep() || Done())) return Syntax("expected one space and an exemplar after the timestamp");
    }
    if (!Done() && !om_) return Syntax("unexpected text after the value of " + sample.name);
    return (Done() || Exemplar()) && AddSample(sample);
  }

  // The new family's index, or kNone past the limit.
  size_t NewFamily(std::string_view name) {
    if (families.size() >= limits_.max_series) {
      Fail(E::kTooManySeries, "more than " + std::to_string(limits_.max_series) + " metric families");
      return kNone;
    }
    families.push_back(MetricFamily{std::string(name), om_ ? "unknown" : "untyped", "", {}});
    state_.push_back(0);
    return index_.emplace(std::string(name), families.size() - 1).first->second;
  }

  bool Owns(size_t idx, std::string_view sample) const {
    const std::string& f = families[idx].name;
    if (sample.size() < f.size() || sample.compare(0, f.size(), f) != 0) return false;
    const std::string_view suffix = sample.substr(f.size());
    // Most samples are a 0.0.4 family's own name (gauges, counters) or its
    // _bucket: answered without comparing type names.
    if (!om_ && suffix.empty()) return families[idx].type != "histogram";
    return OwnsSuffix(om_, families[idx].type, suffix);
  }

  // A sample joins the current family if that owns its name; else (0.0.4
  // only: OpenMetrics forbids interleaving) an earlier one; else a new one.
  bool AddSample(const Sample& s) {
    size_t fam = cur_ != kNone && Owns(cur_, s.name) ? cur_ : kNone;
    for (std::string_view suffix : kSuffixes) {
      if (fam != kNone || !EndsWith(s.name, suffix)) continue;
      const auto it = index_.find(std::string_view(s.name).substr(0, s.name.size() - suffix.size()));
      if (it != index_.end() && Owns(it->second, s.name)) fam = it->second;
    }
    if (fam != kNone && fam != cur_ && om_) return Syntax("metric family " + families[fam].name + " is interleaved");
    if (fam == kNone && index_.count(s.name))
      return Syntax("sample " + s.name + " does not fit the " + families[index_.at(s.name)].type + " family " + s.name);
    if (fam == kNone && (fam = NewFamily(s.name)) == kNone) return false;
    if (series_.size() >= limits_.max_series)
      return Fail(E::kTooManySeries, "more than " + std::to_string(limits_.max_series) + " series");
    series_.push_back(SeriesKey(s, line_));
    state_[fam] |= kHasSamples;
    cur_ = fam;
    ++families[fam].sample_count;
    if (keep_.size() <= fam) keep_.resize(fam + 1, 2);
    if (keep_[fam] == 2) keep_[fam] = !filter_ || (*filter_)(families[fam].name);
    if (keep_[fam]) families[fam].samples.push_back(s);
    return true;
  }

 public:
  // Duplicates, found once every line is in: the series keys (two 64-bit
  // hashes of name and labels) sorted, so the cost is O(n log n) whatever
  // the keys are, and no key string is kept per series. "" when none.
  std::string FindDuplicate() {
    std::sort(series_.begin(), series_.end());
    for (size_t k = 1; k < series_.size(); ++k)
      if (series_[k].h1 == series_[k - 1].h1 && series_[k].h2 == series_[k - 1].h2)
        return "line " + std::to_string(std::max(series_[k].line, series_[k - 1].line) + 1) +
               ": duplicate series (the same name and labels as line " +
               std::to_string(std::min(series_[k].line, series_[k - 1].line) + 1) + ")";
    return "";
  }
  void SetLine(size_t line) { line_ = line; }
  void Reserve(size_t lines) { series_.reserve(std::min(lines, limits_.max_series)); }
  void SetFilter(const FamilyFilter* f) { filter_ = f; }

 private:
  struct Key {
    uint64_t h1, h2;
    size_t line;
    bool operator<(const Key& o) const { return h1 != o.h1 ? h1 < o.h1 : h2 != o.h2 ? h2 < o.h2 : line < o.line; }
  };
  // Two 64-bit lanes: a collision of distinct series (about 2^-128 by
  // chance; deliberate ones fail only the scrape that made them) reads as
  // a duplicate, which is the safe side.
  static Key SeriesKey(const Sample& s, size_t line) {
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
      uint64_t w = v.size();
      for (size_t k = 0; i < v.size(); ++i, ++k) w ^= static_cast<uint64_t>(static_cast<unsigned char>(v[i])) << (8 * k + 8);
      a = (a ^ w) * 0x9E3779B97F4A7C15ULL;
      a ^= a >> 29;
      b = (b ^ w) * 0xC2B2AE3D27D4EB4FULL;
      b ^= b >> 31;
    };
    mix(s.name);
    for (const auto& [k, v] : s.labels) {
      mix(k);
      mix(v);
    }
    return {a, b, line};
  }

  // TYPE, HELP or UNIT for `name`: once each, before the family's samples.
  bool Meta(uint8_t kind, std::string_view name, std::string value) {
    const std::string what = kind == kType ? "TYPE" : kind == kHelp ? "HELP" : "UNIT";  // short: no allocation
    auto n = [name] { return std::string(name); };  // built only for an error
    const auto it = index_.find(name);
    const size_t idx = it == index_.end() ? NewFamily(name) : it->second;
    if (idx == kNone) return false;
    if (it != index_.end() && (state_[idx] & kHasSamples)) return Syntax(what + " for " + n() + " after its samples");
    if (state_[idx] & kind) return Syntax("second " + what + " line for " + n());
    if (it != index_.end() && om_ && idx != cur_) return Syntax("metric family " + n() + " is interleaved");
    state_[idx] |= kind;
    cur_ = idx;
    if (kind == kType) families[idx].type = std::move(value);
    if (kind == kHelp && (!filter_ || (*filter_)(families[idx].name))) families[idx].help = std::move(value);
    return true;
  }

  // "# HELP name text", "# TYPE name type", and in OpenMetrics "# UNIT name
  // unit" and "# EOF", spaced exactly; 0.0.4 ignores other comments,
  // OpenMetrics forbids them.
  bool Comment() {
    if (om_ && s_ == "# EOF") { eof = true; return true; }
    ++i_;
    const bool spaced = Sep() || !om_;
    const std::string kw(Token());
    if (!spaced || (kw != "HELP" && kw != "TYPE" && !(om_ && kw == "UNIT"))) {
      if (om_) return Syntax("only TYPE, HELP, UNIT and EOF lines may start with #");
      return ValidUtf8(s_) || Fail(E::kBadUtf8, "invalid UTF-8 in comment");
    }
    const std::string_view name = Sep() ? Name(true) : "";
    if (name.empty() || !(Sep() || (!om_ && Done()))) return Syntax("expected a metric name and a space in a " + kw + " line");
    std::string text;
    if (kw == "HELP") return Escaped(0, kNone, &text) && Meta(kHelp, name, std::move(text));
    text = s_.substr(i_);
    if (kw == "TYPE") return ValidType(om_, text) ? Meta(kType, name, std::move(text)) : Syntax("invalid TYPE " + Quote(text));
    if (!text.empty() && !EndsWith(name, "_" + text))  // a unit is the name's suffix, so metric name characters
      return Syntax("UNIT " + Quote(text) + " is not a suffix of " + std::string(name));
    return Meta(kUnit, name, "");
  }

  const bool om_;
  const ParseLimits& limits_;
  std::string_view s_;
  size_t i_ = 0;
  size_t cur_ = kNone;                                // the family of the last sample or metadata line
  std::vector<uint8_t> state_;                        // kType|kHelp|kUnit|kHasSamples, per family
  std::map<std::string, size_t, std::less<>> index_;  // family name -> index
  std::vector<Key> series_;                           // every sample's key, checked by FindDuplicate
  Sample scratch_;
  size_t line_ = 0;
  const FamilyFilter* filter_ = nullptr;
  std::vector<uint8_t> keep_;                         // per family: 0 drop, 1 keep, 2 not decided yet
};

}  // namespace

const char* ScrapeErrorName(ScrapeError e) {
  static const char* const kNames[] = {"too_large", "too_many_series", "syntax", "bad_utf8", "duplicate_series", "missing_eof"};
  const auto i = static_cast<size_t>(e);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

Status ParseExposition(std::string_view body, Format format, const ParseLimits& limits,
                       std::vector<MetricFamily>* out, ScrapeError* reason, const FamilyFilter* keep) {
  out->clear();
  auto fail = [reason](ScrapeError r, const std::string& msg) {
    if (reason) *reason = r;
    return r == E::kTooLarge || r == E::kTooManySeries ? Status::ResourceExhausted(msg) : Status::InvalidArgument(msg);
  };
  if (body.size() > limits.max_bytes)
    return fail(E::kTooLarge, "scrape body is " + std::to_string(body.size()) + " bytes, over max_bytes " +
                                  std::to_string(limits.max_bytes));
  Parser p(format, limits);
  p.SetFilter(keep);
  p.Reserve(static_cast<size_t>(std::count(body.begin(), body.end(), '\n')) + 1);
  size_t line_no = 0;
  for (size_t pos = 0; pos < body.size(); ++line_no) {
    const size_t end = std::min(body.find('\n', pos), body.size());
    p.SetLine(line_no);
    if (!p.ParseLine(body.substr(pos, end - pos)))
      return fail(p.reason, "line " + std::to_string(line_no + 1) + ": " + p.error);
    pos = end + 1;
  }
  if (format == Format::kOpenMetrics && !p.eof)
    return fail(E::kMissingEof, "line " + std::to_string(line_no + 1) + ": missing the final # EOF line");
  if (const std::string dup = p.FindDuplicate(); !dup.empty()) return fail(E::kDuplicateSeries, dup);
  *out = std::move(p.families);
  return Status::OK();
}

Format FormatFromContentType(std::string_view content_type) {
  const std::string_view media = TrimBlanks(content_type.substr(0, content_type.find(';')));
  return EqualsNoCase(media, "application/openmetrics-text") ? Format::kOpenMetrics : Format::kPrometheusText;
}

}  // namespace vigil::scrape
