// Label matchers as Alertmanager writes them (=, !=, =~, !~), shared by
// silences and inhibition rules. A regex is anchored on both ends; a label
// that is absent matches as the empty string, as in Alertmanager.
#pragma once

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil {

struct Matcher {
  std::string name;
  std::string value;
  bool is_regex = false;
  bool is_equal = true;
};

// `name=value`, `name!=value`, `name=~regex`, `name!~regex`; spaces around
// the operator and a double-quoted value (with \" and \\ escapes) allowed:
// `alertname = "KVCacheThrashing"`.
Status ParseMatcher(const std::string& text, Matcher* out);
std::string MatcherString(const Matcher& m);

// Checks a regex from outside input against std::regex's limits before it is
// compiled: std::regex compiles and matches by recursion, one level per
// nested group, so a long pattern overflows the stack (at most 4096 bytes
// here); and it reads a repetition count such as {99999999999999999999}, or
// a back reference's number, with signed overflow (at most 1000 here, RE2's
// repetition limit, so Prometheus' and Alertmanager's regexes pass).
Status CheckRegexLimits(const std::string& pattern);

// Matchers compiled once (regexes), then matched against label sets.
class MatcherSet {
 public:
  // Fails naming the matcher whose regex does not compile.
  static Status Compile(std::vector<Matcher> matchers, MatcherSet* out);
  // All matchers hold (an empty set matches everything).
  bool Matches(const std::map<std::string, std::string>& labels) const;
  const std::vector<Matcher>& matchers() const { return matchers_; }

 private:
  std::vector<Matcher> matchers_;
  std::vector<std::regex> re_;  // per matcher; unused for equality matchers
};

}  // namespace vigil
