// The `targets:` list: the engines vigild watches over HTTP (watch mode).
#include <set>

#include "daemon/config.h"
#include "daemon/config_section.h"
#include "pipeline/target.h"

namespace vigil::daemon {

namespace {

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 128) return false;
  for (char c : n)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':')) return false;
  return true;
}

}  // namespace

void ReadTargets(Section& top, std::vector<pipeline::TargetConfig>* out) {
  std::set<std::string> names = {"local"};  // the hosted engine's instance
  for (Section& s : top.Items("targets")) {
    pipeline::TargetConfig t;
    s.String("name", &t.name);
    s.String("url", &t.url);
    std::string engine = "auto";
    s.OneOf("engine", &engine, {"auto", "vllm", "sglang", "tgi", "llamacpp", "vigil"});
    scrape::ParseEngineKind(engine, &t.engine);
    s.Duration("scrape_timeout", &t.scrape_timeout_s, 0.01);
    s.String("bearer_token_file", &t.bearer_token_file);
    s.String("health_path", &t.health_path);
    s.Duration("health_interval", &t.health_interval_s, 0);
    int64_t max_bytes = static_cast<int64_t>(t.limits.max_bytes);
    s.Size("max_bytes", &max_bytes, 1024);
    t.limits.max_bytes = static_cast<size_t>(max_bytes);
    s.Int("max_series", &t.limits.max_series, 1, 10000000, "a positive integer");
    Section p = s.Child("profile");
    p.Bool("enabled", &t.profile.enabled);
    p.String("dir", &t.profile.dir);
    p.Duration("duration", &t.profile.duration_s, 0.1);
    p.Duration("stop_timeout", &t.profile.stop_timeout_s, 1);
    p.Finish();
    if (t.url.empty()) {
      s.Error("url", "required: the server's base URL, such as http://127.0.0.1:8000");
    } else {
      std::string base, path;
      if (Status st = pipeline::SplitTargetUrl(t.url, &base, &path); !st.ok()) s.Error("url", st.message());
    }
    if (t.name.empty()) t.name = DefaultTargetName(t.url);
    if (!ValidName(t.name)) s.Error("name", "\"" + t.name + "\": use letters, digits, '-', '_', '.' and ':'");
    else if (!names.insert(t.name).second)
      s.Error("name", "\"" + t.name + "\" is used twice (\"local\" is the hosted engine)");
    if (!t.health_path.empty() && t.health_path[0] != '/')
      s.Error("health_path", "must start with / (or be \"\" to not probe)");
    s.Finish();
    out->push_back(std::move(t));
  }
}

std::string DefaultTargetName(const std::string& url) {
  // host:port, as Prometheus' instance label.
  size_t b = url.find("://");
  b = b == std::string::npos ? 0 : b + 3;
  const size_t e = url.find('/', b);
  return url.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

}  // namespace vigil::daemon
