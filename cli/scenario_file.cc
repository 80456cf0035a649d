#include "cli/scenario_file.h"

#include <glob.h>

#include <fstream>

#include "common/units.h"

namespace vigil::cli {

Status LoadScenario(const std::string& path, Scenario* s) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  try {
    s->description = root["description"] ? root["description"].as<std::string>() : "";
    s->engine = root["engine"];
    s->monitor = root["monitor"];
    if (root["rules"]) {
      const YAML::Node r = root["rules"];
      if (r["for_scale"]) s->for_scale = r["for_scale"].as<double>();
      if (r["for"])
        for (const auto& kv : r["for"]) {
          double d;
          VIGIL_RETURN_IF_ERROR(ParseDuration(kv.second.as<std::string>(), &d).WithContext(path + ": rules.for"));
          s->for_override[kv.first.as<std::string>()] = d;
        }
    }
    const YAML::Node l = root["load"];
    if (!l) return Status::InvalidArgument(path + ": load: required");
    LoadOptions& o = s->load;
    o.concurrency = l["concurrency"] ? l["concurrency"].as<int>() : 0;
    o.rate = l["rate"] ? l["rate"].as<double>() : 0;
    o.requests = l["requests"] ? l["requests"].as<int64_t>() : 0;
    if (l["duration"]) VIGIL_RETURN_IF_ERROR(ParseDuration(l["duration"].as<std::string>(), &o.duration_s));
    if (l["prompt_tokens"]) o.prompt_tokens = l["prompt_tokens"].as<int>();
    if (l["prompt_tokens_stddev"]) o.prompt_tokens_stddev = l["prompt_tokens_stddev"].as<double>();
    if (l["max_tokens"]) o.max_tokens = l["max_tokens"].as<int>();
    if (l["shared_prefix_tokens"]) o.shared_prefix_tokens = l["shared_prefix_tokens"].as<int>();
    if (l["disconnect_fraction"]) o.disconnect_fraction = l["disconnect_fraction"].as<double>();
    if (l["disconnect_after"]) o.disconnect_after = l["disconnect_after"].as<int>();
    if (l["seed"]) o.seed = l["seed"].as<uint64_t>();
    if (const YAML::Node b = l["burst"]) {
      VIGIL_RETURN_IF_ERROR(
          ParseDuration(b["at"].as<std::string>(), &s->burst_at_s).WithContext(path + ": load.burst.at"));
      VIGIL_RETURN_IF_ERROR(
          ParseDuration(b["for"].as<std::string>(), &s->burst_for_s).WithContext(path + ": load.burst.for"));
      s->burst_factor = b["factor"].as<double>();
      if (o.rate <= 0 || s->burst_factor <= 1 || s->burst_for_s <= 0)
        return Status::InvalidArgument(path +
                                       ": load.burst needs an open-loop load.rate, a factor above 1 and a for above 0");
    }
    VIGIL_RETURN_IF_ERROR(ValidateLoadOptions(o).WithContext(path + ": load"));
    const YAML::Node e = root["expect"];
    if (e) {
      if (e["fires"])
        for (const auto& x : e["fires"]) s->fires.insert(x.as<std::string>());
      if (e["allow"])
        for (const auto& x : e["allow"]) s->allow.insert(x.as<std::string>());
      if (e["primary"])
        for (const auto& x : e["primary"]) s->primary.insert(x.as<std::string>());
      if (e["within"]) VIGIL_RETURN_IF_ERROR(ParseDuration(e["within"].as<std::string>(), &s->within_s));
      if (e["settle"]) VIGIL_RETURN_IF_ERROR(ParseDuration(e["settle"].as<std::string>(), &s->settle_s));
      if (e["capture"]) s->expect_capture = e["capture"].as<bool>();
    }
    if (root["timeout"]) VIGIL_RETURN_IF_ERROR(ParseDuration(root["timeout"].as<std::string>(), &s->timeout_s));
  } catch (const YAML::Exception& ex) {
    return Status::InvalidArgument(path + ":" + std::to_string(ex.mark.line + 1) + ": " + ex.msg);
  }
  return Status::OK();
}

Status WriteRules(const std::string& rules_dir, const Scenario& s, const std::string& out_dir,
                  std::map<std::string, std::string>* pathology_rules) {
  glob_t g{};
  const std::string pattern = rules_dir + "/*.yaml";
  if (glob(pattern.c_str(), 0, nullptr, &g) != 0) return Status::NotFound("no rule files at " + pattern);
  for (size_t i = 0; i < g.gl_pathc; ++i) {
    const std::string path = g.gl_pathv[i];
    YAML::Node root = YAML::LoadFile(path);
    if (!root["groups"]) {  // a file of inhibit_rules only
      std::ofstream(out_dir + "/" + path.substr(path.rfind('/') + 1)) << root << "\n";
      continue;
    }
    for (YAML::Node group : root["groups"]) {
      for (YAML::Node rule : group["rules"]) {
        const std::string name = rule["alert"].as<std::string>();
        if (rule["labels"] && rule["labels"]["pathology"])
          (*pathology_rules)[name] = rule["labels"]["pathology"].as<std::string>();
        double d = 0;
        if (rule["for"] && ParseDuration(rule["for"].as<std::string>(), &d).ok()) {
          d *= s.for_scale;
          auto it = s.for_override.find(name);
          if (it != s.for_override.end()) d = it->second;
          rule["for"] = FormatDuration(d);
        }
        double k = 0;
        if (rule["keep_firing_for"] && ParseDuration(rule["keep_firing_for"].as<std::string>(), &k).ok())
          rule["keep_firing_for"] = FormatDuration(k * s.for_scale);
      }
    }
    std::ofstream out(out_dir + "/" + path.substr(path.rfind('/') + 1));
    out << root << "\n";
  }
  globfree(&g);
  return Status::OK();
}

}  // namespace vigil::cli
