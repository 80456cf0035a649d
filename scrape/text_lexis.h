// The lexical pieces of the Prometheus text and OpenMetrics formats, for
// exposition.cc: characters, numbers, timestamps, UTF-8, and the quoting of
// untrusted bytes in error messages. Internal to scrape/.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace vigil::scrape::internal {

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
inline bool IsHexDigit(char c) { return IsDigit(c) || (Lower(c) >= 'a' && Lower(c) <= 'f'); }
inline bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
inline bool EqualsNoCase(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() &&
         std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) { return Lower(x) == y; });
}
inline std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Untrusted bytes for an error message: at most 32, non-printables as \xNN,
// so a hostile body cannot put control characters into our logs.
std::string Quote(std::string_view s);

// Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool ValidUtf8(std::string_view s);

// A number as Go's strconv.ParseFloat reads it (go: also hex floats with a p
// exponent and '_' between digits, which 0.0.4 inherits), or as OpenMetrics'
// realnumber. Specials: inf/infinity (signed), nan (unsigned), any case.
// Overflow fails (Go's ErrRange); underflow is 0, as in Go.
bool ParseNumber(std::string_view t, bool go, bool specials, double* v);

// 0.0.4 timestamps: int64 milliseconds, as Go's strconv.ParseInt(s, 10, 64).
bool ParseMillis(std::string_view t);

}  // namespace vigil::scrape::internal
