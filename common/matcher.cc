#include "common/matcher.h"

#include <algorithm>
#include <cctype>

namespace vigil {

namespace {

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

bool ValidLabelName(const std::string& n) {
  if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

}  // namespace

Status ParseMatcher(const std::string& text, Matcher* out) {
  const size_t op = text.find_first_of("=!");
  const std::string usage = "matcher \"" + text + "\": expected NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX";
  if (op == std::string::npos || op == 0) return Status::InvalidArgument(usage);
  Matcher m;
  m.name = Trim(text.substr(0, op));
  if (!ValidLabelName(m.name))
    return Status::InvalidArgument("matcher \"" + text + "\": \"" + m.name + "\" is not a label name");
  size_t v;
  if (text.compare(op, 2, "=~") == 0) {
    m.is_regex = true;
    v = op + 2;
  } else if (text.compare(op, 2, "!~") == 0) {
    m.is_regex = true;
    m.is_equal = false;
    v = op + 2;
  } else if (text.compare(op, 2, "!=") == 0) {
    m.is_equal = false;
    v = op + 2;
  } else if (text[op] == '=') {
    v = op + 1;
  } else return Status::InvalidArgument(usage);
  const std::string raw = Trim(text.substr(v));
  if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
    for (size_t i = 1; i + 1 < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 2 < raw.size()) {
        const char e = raw[++i];
        m.value += e == 'n' ? '\n' : e;
      } else {
        m.value += raw[i];
      }
    }
  } else {
    m.value = raw;
  }
  *out = m;
  return Status::OK();
}

std::string MatcherString(const Matcher& m) {
  const char* op = m.is_regex ? (m.is_equal ? "=~" : "!~") : (m.is_equal ? "=" : "!=");
  return m.name + op + "\"" + m.value + "\"";
}

Status CheckRegexLimits(const std::string& p) {
  constexpr size_t kMaxRegexBytes = 4096;
  constexpr long kMaxRepeat = 1000;
  if (p.size() > kMaxRegexBytes)
    return Status::InvalidArgument("regex is " + std::to_string(p.size()) + " bytes, more than " +
                                   std::to_string(kMaxRegexBytes));
  // The longest run of digits from `j` (advanced past it), capped above kMaxRepeat.
  auto number = [&](size_t& j) {
    long v = 0;
    for (; j < p.size() && std::isdigit(static_cast<unsigned char>(p[j])); ++j)
      v = std::min(v * 10 + (p[j] - '0'), kMaxRepeat + 1);
    return v;
  };
  auto too_big = [&](const char* what, size_t from, size_t to) {
    return Status::InvalidArgument(std::string(what) + " " + p.substr(from, std::min<size_t>(to - from, 24)) +
                                   " is more than " + std::to_string(kMaxRepeat));
  };
  bool in_class = false;  // inside [...], where braces are literal
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      // \N is a back reference, its number read the same way (in a class too).
      size_t j = i + 1;
      if (number(j) > kMaxRepeat) return too_big("back reference", i, j);
      i = std::max(i + 1, j - 1);
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^') ++i;
      if (i + 1 < p.size() && p[i + 1] == ']') ++i;  // a leading ] is literal
    } else if (c == '{') {
      // {n}, {n,} or {n,m}: each number at most kMaxRepeat.
      for (size_t j = i + 1; j < p.size() && (std::isdigit(static_cast<unsigned char>(p[j])) || p[j] == ',');) {
        const size_t from = j;
        if (number(j) > kMaxRepeat) return too_big("repetition count", from, j);
        if (j < p.size() && p[j] == ',') ++j;
      }
    }
  }
  return Status::OK();
}

Status MatcherSet::Compile(std::vector<Matcher> matchers, MatcherSet* out) {
  MatcherSet s;
  for (size_t i = 0; i < matchers.size(); ++i) {
    std::regex re;
    if (matchers[i].is_regex) {
      if (Status st = CheckRegexLimits(matchers[i].value); !st.ok())
        return Status::InvalidArgument("matcher " + matchers[i].name + ": " + st.message());
      try {
        re = std::regex("^(?:" + matchers[i].value + ")$");
      } catch (const std::regex_error& e) {
        return Status::InvalidArgument("matcher " + MatcherString(matchers[i]) + ": not a valid regex: " + e.what());
      }
    }
    s.re_.push_back(std::move(re));
  }
  s.matchers_ = std::move(matchers);
  *out = std::move(s);
  return Status::OK();
}

bool MatcherSet::Matches(const std::map<std::string, std::string>& labels) const {
  for (size_t i = 0; i < matchers_.size(); ++i) {
    const Matcher& m = matchers_[i];
    auto it = labels.find(m.name);
    const std::string& v = it == labels.end() ? std::string() : it->second;
    const bool hit = m.is_regex ? std::regex_match(v, re_[i]) : v == m.value;
    if (hit != m.is_equal) return false;
  }
  return true;
}

}  // namespace vigil
