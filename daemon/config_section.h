// The YAML reader behind config.cc: a mapping node whose typed getters
// record errors as "file:line:col: key.path: message" and whose Finish()
// reports keys nobody asked for. Internal to daemon/.
#pragma once

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "capture/manager.h"
#include "common/units.h"
#include "monitor/signals.h"
#include "pipeline/target.h"

namespace vigil::daemon {

// A mapping node being read: typed getters record errors with positions and
// Finish() reports keys nobody asked for.
class Section {
 public:
  Section(YAML::Node node, std::string path, const std::string* file, std::vector<std::string>* errors)
      : node_(std::move(node)), path_(std::move(path)), file_(file), errors_(errors) {
    if (!node_) node_ = YAML::Node();
    if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
      Error(node_, "", "expected a mapping");
      node_ = YAML::Node();
    }
  }

  Section Child(const std::string& key) {
    seen_.insert(key);
    return Section(Get(key), Path(key), file_, errors_);
  }

  void String(const std::string& key, std::string* out) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    if (!n.IsScalar()) return Error(n, key, "expected a string");
    *out = n.Scalar();
  }
  void Bool(const std::string& key, bool* out) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    bool v;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
      return Error(n, key, "expected true or false, got " + Quote(n));
    *out = v;
  }
  template <typename T>
  void Int(const std::string& key, T* out, int64_t min, int64_t max, const char* what = "an integer") {
    YAML::Node n = Lookup(key);
    if (!n) return;
    int64_t v;
    if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v))
      return Error(n, key, std::string("expected ") + what + ", got " + Quote(n));
    if (v < min || v > max)
      return Error(n, key,
                   std::string("expected ") + what + " in [" + std::to_string(min) + ", " + std::to_string(max) +
                       "], got " + std::to_string(v));
    *out = static_cast<T>(v);
  }
  void Double(const std::string& key, double* out, double min, double max) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    double v;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v))
      return Error(n, key, "expected a number, got " + Quote(n));
    if (!(v >= min && v <= max))
      return Error(n, key, "expected a number in [" + Num(min) + ", " + Num(max) + "], got " + Num(v));
    *out = v;
  }
  void Duration(const std::string& key, double* seconds, double min_s = 0) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    double v;
    Status st = n.IsScalar() ? ParseDuration(n.Scalar(), &v) : Status::InvalidArgument("expected a duration");
    if (!st.ok()) return Error(n, key, st.message());
    if (v < min_s) return Error(n, key, "must be at least " + FormatDuration(min_s));
    *seconds = v;
  }
  void Size(const std::string& key, int64_t* bytes, int64_t min = 1) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    int64_t v;
    Status st = n.IsScalar() ? ParseSize(n.Scalar(), &v) : Status::InvalidArgument("expected a size");
    if (!st.ok()) return Error(n, key, st.message());
    if (v < min) return Error(n, key, "must be at least " + std::to_string(min) + " bytes");
    *bytes = v;
  }
  void OneOf(const std::string& key, std::string* out, const std::set<std::string>& allowed) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    if (!n.IsScalar() || !allowed.count(n.Scalar()))
      return Error(n, key, "expected one of " + list + ", got " + Quote(n));
    *out = n.Scalar();
  }

  void Strings(const std::string& key, std::vector<std::string>* out) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    if (!n.IsSequence()) return Error(n, key, "expected a list of strings");
    out->clear();
    for (const YAML::Node& e : n) {
      if (!e.IsScalar()) return Error(e, key, "expected a list of strings");
      out->push_back(e.Scalar());
    }
  }
  // Signal names, checked against the catalogue.
  void Signals(const std::string& key, std::vector<std::string>* out) {
    YAML::Node n = Lookup(key);
    Strings(key, out);
    if (!n || !n.IsSequence()) return;
    for (const YAML::Node& e : n)
      if (e.IsScalar() && !monitor::FindSignal(e.Scalar())) Error(e, key, "unknown signal \"" + e.Scalar() + "\"");
  }
  std::vector<Section> Items(const std::string& key) {
    std::vector<Section> out;
    YAML::Node n = Lookup(key);
    if (!n) return out;
    if (!n.IsSequence()) {
      Error(n, key, "expected a list");
      return out;
    }
    const YAML::Node& cn = n;  // const: the elements keep their marks (line:col)
    for (size_t i = 0; i < cn.size(); ++i)
      out.emplace_back(cn[i], Path(key) + "[" + std::to_string(i) + "]", file_, errors_);
    return out;
  }
  bool IsMapping(const std::string& key) const {
    YAML::Node n = Get(key);
    return n && n.IsMap();
  }
  void StringMap(const std::string& key, std::map<std::string, std::string>* out) {
    YAML::Node n = Lookup(key);
    if (!n) return;
    if (!n.IsMap()) return Error(n, key, "expected a mapping of strings");
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->second.IsScalar()) return Error(it->second, key + "." + it->first.Scalar(), "expected a string");
      (*out)[it->first.Scalar()] = it->second.Scalar();
    }
  }
  std::vector<std::pair<std::string, Section>> Entries() {
    std::vector<std::pair<std::string, Section>> out;
    if (!node_.IsMap()) return out;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string key = it->first.Scalar();
      seen_.insert(key);
      out.emplace_back(key, Section(it->second, Path(key), file_, errors_));
    }
    return out;
  }
  const std::string& path() const { return path_; }
  // `old_key` is an older name of `new_key`: true when the file uses it
  // (with a warning naming the place); an error when it sets both.
  bool DeprecatedAlias(const std::string& old_key, const std::string& new_key) {
    auto set = [](const YAML::Node& x) { return x.IsDefined() && !x.IsNull(); };  // a missing key reads as null
    YAML::Node n = Get(old_key);
    if (!set(n)) return false;
    if (set(Get(new_key))) {
      seen_.insert(old_key);
      Error(n, old_key, "the old name of " + Path(new_key) + ", which is set too: keep only " + new_key);
      return false;
    }
    spdlog::warn("{}: {} is deprecated: rename it {}", Where(n), Path(old_key), new_key);
    return true;
  }

  void Finish() {
    if (!node_.IsMap()) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (!seen_.count(key)) Error(it->first, key, "unknown key");
    }
  }
  // Used when a key's value fails a check beyond its type.
  void Error(const std::string& key, const std::string& msg) {
    YAML::Node n = Get(key);
    // A missing key has no position: point at its mapping instead.
    Error(n && !n.Mark().is_null() ? n : node_, key, msg);
  }

 private:
  YAML::Node Get(const std::string& key) const {
    if (!node_.IsMap()) return YAML::Node();
    const YAML::Node& cn = node_;  // const: operator[] must not insert the key
    YAML::Node n = cn[key];
    return n ? n : YAML::Node();  // a missing key yields an "invalid" node that throws on use
  }
  YAML::Node Lookup(const std::string& key) {
    seen_.insert(key);
    YAML::Node n = Get(key);
    // Absent or null keys keep their defaults.
    if (!n || n.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
    return n;
  }
  std::string Path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  static std::string Quote(const YAML::Node& n) {
    if (n.IsScalar()) return "\"" + n.Scalar() + "\"";
    return n.IsSequence() ? "a list" : "a mapping";
  }
  static std::string Num(double v) {
    std::ostringstream ss;
    ss << v;
    return ss.str();
  }
  std::string Where(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    std::string where = *file_;
    if (!m.is_null()) where += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    return where;
  }
  void Error(const YAML::Node& n, const std::string& key, const std::string& msg) {
    const std::string where = Where(n);
    const std::string path = key.empty() ? path_ : Path(key);
    errors_->push_back(where + ": " + (path.empty() ? "" : path + ": ") + msg);
  }

  YAML::Node node_;
  std::string path_;
  const std::string* file_;
  std::vector<std::string>* errors_;
  std::set<std::string> seen_;
};

struct AlertsConfig;
// config_alerts.cc
void ReadAlerts(Section s, AlertsConfig* a);
// config_capture.cc
void ReadCapture(Section s, capture::CaptureConfig* c);
void ReadTargets(Section& top, std::vector<pipeline::TargetConfig>* out);

}  // namespace vigil::daemon
