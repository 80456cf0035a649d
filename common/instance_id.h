// The identity of one monitored instance, defined once: the hosted engine
// ("local"), or one engine behind a watched target. Its name ("local",
// "TARGET", or "TARGET/ENGINE" when a target serves several engines) keys
// the pipeline's instances, captures, the dashboard and the CLI; its labels
// (target, engine) go on every series and alert of the instance. Target
// names never contain '/' (config validation), so a name parses back at its
// first '/'; an engine's name (often a model path) may contain more.
#pragma once

#include <map>
#include <string>

namespace vigil {

struct InstanceId {
  static constexpr const char* kLocal = "local";

  std::string target = kLocal;  // "local" for the hosted engine
  std::string engine;           // "" when the target serves one engine

  static InstanceId Local() { return {}; }
  static InstanceId Watched(std::string target, std::string engine = "") {
    return {std::move(target), std::move(engine)};
  }
  // From an alert's or a series' labels; no `target` label means the hosted engine.
  static InstanceId FromLabels(const std::map<std::string, std::string>& labels) {
    auto t = labels.find("target");
    if (t == labels.end() || t->second == kLocal) return Local();
    auto e = labels.find("engine");
    return {t->second, e == labels.end() ? "" : e->second};
  }
  static InstanceId Parse(const std::string& name) {
    const size_t slash = name.find('/');
    if (slash == std::string::npos) return {name.empty() ? kLocal : name, ""};
    return {name.substr(0, slash), name.substr(slash + 1)};
  }

  bool local() const { return target == kLocal; }
  std::string Name() const { return engine.empty() ? target : target + "/" + engine; }
  // {target[, engine]}: the labels every alert and series of the instance carries.
  std::map<std::string, std::string> Labels() const {
    std::map<std::string, std::string> l = {{"target", target}};
    if (!engine.empty()) l["engine"] = engine;
    return l;
  }
  bool operator==(const InstanceId& o) const { return target == o.target && engine == o.engine; }
  bool operator<(const InstanceId& o) const { return target != o.target ? target < o.target : engine < o.engine; }
};

}  // namespace vigil
