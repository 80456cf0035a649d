#include "scrape/text_lexis.h"

#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace vigil::scrape::internal {
namespace {

// The common case of a sample value: [-]digits[.digits], 19 digits at most.
// Exact as an integer over a power of ten when both fit a double (Clinger's
// fast path), and then their quotient is the correctly rounded value, as
// from_chars would give it. False: not this case (no error), use the rest.
bool FastDecimal(std::string_view t, double* v) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const bool neg = !t.empty() && t[0] == '-';
  uint64_t m = 0;
  int digits = 0, frac = -1;  // frac: digits after the '.', -1 without one
  for (size_t i = neg; i < t.size(); ++i) {
    const char c = t[i];
    if (IsDigit(c)) {
      if (++digits > 19) return false;
      m = m * 10 + static_cast<uint64_t>(c - '0');
      frac += frac >= 0;
    } else if (c == '.' && frac < 0) {
      frac = 0;
    } else {
      return false;
    }
  }
  if (digits == 0 || m > (uint64_t{1} << 53)) return false;
  const double x = static_cast<double>(m) / kPow10[frac < 0 ? 0 : frac];  // frac <= 19
  *v = neg ? -x : x;
  return true;
}

}  // namespace

std::string Quote(std::string_view s) {
  std::string r = "\"";
  for (const unsigned char c : s.substr(0, 32)) {
    char buf[8];
    std::snprintf(buf, sizeof buf, c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? "%c" : "\\x%02x", c);
    r += buf;
  }
  return r + (s.size() > 32 ? "\"..." : "\"");
}

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

bool ParseNumber(std::string_view t, bool go, bool specials, double* v) {
  if (FastDecimal(t, v)) return true;
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
    auto after_digit = [&] { return i > start ? digit(t[i - 1]) : hex; };  // Go: the 0x prefix counts as a digit
    if (go && c == '_' && after_digit() && i + 1 < t.size() && digit(t[i + 1])) {
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

bool ParseMillis(std::string_view t) {
  if (t.size() > 1 && t[0] == '+' && IsDigit(t[1])) t.remove_prefix(1);  // from_chars takes no '+'
  int64_t ms = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), ms);
  return !t.empty() && r.ec == std::errc() && r.ptr == t.data() + t.size();
}

}  // namespace vigil::scrape::internal
