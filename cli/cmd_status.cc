// vigilctl status: /health/report on one terminal screen.
#include <httplib.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/instance_id.h"
#include "cli/flags.h"

namespace vigil::cli {

namespace {

struct Style {
  bool on;
  const char* c(const char* code) const { return on ? code : ""; }
};

std::string Num(const nlohmann::json& v, const char* fmt) {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v.get<double>());
  return buf;
}

struct StatusFlags {
  std::string url = "http://127.0.0.1:8000", instance;
  bool json = false;
  CLI::Option* instance_opt = nullptr;
};

int ShowStatus(const StatusFlags& f) {
  const std::string& url = f.url;
  httplib::Client client(url);
  client.set_connection_timeout(3);
  client.set_read_timeout(10);
  std::string path = "/health/report";
  if (f.instance_opt->count()) path += "?instance=" + httplib::detail::encode_query_param(f.instance);
  auto r = client.Get(path);
  if (!r) {
    std::fprintf(stderr, "vigilctl status: cannot reach %s: %s\n", url.c_str(), httplib::to_string(r.error()).c_str());
    return 2;
  }
  if (r->status >= 400) {  // an unknown --instance: the server says which exist
    nlohmann::json e = nlohmann::json::parse(r->body, nullptr, false);
    std::fprintf(stderr, "vigilctl status: %s\n",
                 e.is_object() && e.contains("error") ? e["error"].value("message", r->body).c_str() : r->body.c_str());
    return 2;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(r->body);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigilctl status: %s/health/report did not answer JSON\n", url.c_str());
    return 2;
  }
  if (f.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  const Style s{isatty(STDOUT_FILENO) == 1};
  const std::string status = j.value("status", "unknown");
  const char* colour = status == "healthy" ? "\033[32m" : status == "degraded" ? "\033[33m" : "\033[31m";
  std::printf("%s%s%s%s  %s  vigild %s  up %.0fs\n", s.c(colour), s.c("\033[1m"), status.c_str(), s.c("\033[0m"),
              j.value("model", "").c_str(), j.value("version", "").c_str(), j.value("uptime_seconds", 0.0));
  if (!j.value("reason", "").empty()) std::printf("  %s\n", j["reason"].get<std::string>().c_str());
  const auto& e = j.contains("engine") ? j["engine"] : nlohmann::json::object();
  if (j.contains("engine"))
    std::printf(
        "\n%sengine%s  running %s  waiting %s  KV %s%% (%s/%s blocks, %s orphaned)  busy %s%%  preemptions %s\n",
        s.c("\033[1m"), s.c("\033[0m"), Num(e["requests_running"], "%.0f").c_str(),
        Num(e["requests_waiting"], "%.0f").c_str(),
        Num(e["kv_cache_usage"].is_number() ? nlohmann::json(e["kv_cache_usage"].get<double>() * 100)
                                            : e["kv_cache_usage"],
            "%.1f")
            .c_str(),
        Num(e["kv_blocks_used"], "%.0f").c_str(), Num(e["kv_blocks_total"], "%.0f").c_str(),
        Num(e["kv_blocks_orphaned"], "%.0f").c_str(),
        Num(e["busy_fraction"].is_number() ? nlohmann::json(e["busy_fraction"].get<double>() * 100)
                                           : e["busy_fraction"],
            "%.0f")
            .c_str(),
        Num(e["preemptions_total"], "%.0f").c_str());
  // Watched targets (and the hosted engine, "local"): one line each.
  const auto& instances = j.value("instances", nlohmann::json::array());
  if (instances.size() > 1 || (instances.size() == 1 && instances[0].value("name", "") != "local")) {
    std::printf("\n%sinstances%s  %zu\n", s.c("\033[1m"), s.c("\033[0m"), instances.size());
    for (const auto& in : instances) {
      const std::string st = in.value("status", "");
      const auto& p = in.contains("primary") && in["primary"].is_object() ? in["primary"] : nlohmann::json();
      std::printf("  %-28s %s%-9s%s %s%s\n", in.value("name", "").c_str(),
                  s.c(st == "healthy"    ? "\033[32m"
                      : st == "critical" ? "\033[31m"
                                         : "\033[33m"),
                  st.c_str(), s.c("\033[0m"), in.contains("up") && !in["up"].get<bool>() ? "DOWN " : "",
                  p.is_object() ? p.value("alert", "").c_str() : "");
      const auto cannot = in.value("cannot_diagnose", nlohmann::json::array());
      if (instances.size() <= 3)  // a fleet's list would drown the diagnosis: --instance shows it
        for (const auto& c : cannot)
          std::printf("      cannot diagnose %s: %s\n", c.value("rule", "").c_str(), c.value("why", "").c_str());
      else if (!cannot.empty())
        std::printf("      cannot diagnose %zu rule(s) here (--instance %s)\n", cannot.size(),
                    in.value("name", "").c_str());
    }
  }
  // The primary diagnosis first, with its evidence; the rest as symptoms.
  const auto& primary = j.contains("primary") ? j["primary"] : nlohmann::json();
  auto show = [&](const nlohmann::json& f, bool detail) {
    const bool crit = f.value("severity", "") == "critical";
    std::string where;
    const InstanceId id =
        InstanceId::FromLabels({{"target", f.value("target", InstanceId::kLocal)}, {"engine", f.value("engine", "")}});
    if (!id.local()) where = " [" + id.Name() + "]";
    std::printf("  %s%-9s%s %s%s  %s\n", s.c(crit ? "\033[31m" : "\033[33m"), f.value("severity", "").c_str(),
                s.c("\033[0m"), f.value("alert", "").c_str(), where.c_str(), f.value("summary", "").c_str());
    const auto inh = f.value("inhibitedBy", nlohmann::json::array());
    if (!inh.empty()) std::printf("            (inhibited by %s)\n", inh[0].get<std::string>().c_str());
    if (!detail) return;
    if (!f.value("description", "").empty())
      std::printf("            %s\n", f["description"].get<std::string>().c_str());
    if (f.contains("evidence") && f["evidence"].is_object())
      for (const auto& [k, v] : f["evidence"].items())
        std::printf("            %s = %s\n", k.c_str(), Num(v, "%.4g").c_str());
    if (!f.value("recommendation", "").empty())
      std::printf("            %s→ %s%s\n", s.c("\033[36m"), f["recommendation"].get<std::string>().c_str(),
                  s.c("\033[0m"));
  };
  if (primary.is_object()) {
    std::printf("\n%sdiagnosis%s  %s\n", s.c("\033[1m"), s.c("\033[0m"), primary.value("pathology", "").c_str());
    show(primary, true);
  }
  const auto& symptoms = j.contains("symptoms") ? j["symptoms"] : j.value("firing", nlohmann::json::array());
  if (!symptoms.empty() || !primary.is_object()) {
    std::printf("\n%s%s%s  %zu\n", s.c("\033[1m"), primary.is_object() ? "symptoms" : "firing", s.c("\033[0m"),
                symptoms.size());
    for (const auto& f : symptoms) show(f, !primary.is_object());
  }
  const auto& anomalies = j.value("anomalies", nlohmann::json::array());
  if (!anomalies.empty()) {
    std::printf("\n%srecent anomalies%s\n", s.c("\033[1m"), s.c("\033[0m"));
    const size_t from = anomalies.size() > 5 ? anomalies.size() - 5 : 0;
    for (size_t i = from; i < anomalies.size(); ++i)
      std::printf("  %s  %-11s %s\n", anomalies[i].value("time", "").c_str(),
                  anomalies[i].value("detector", "").c_str(), anomalies[i].value("message", "").c_str());
  }
  const auto& together = j.value("moves_together", nlohmann::json::array());
  if (!together.empty()) {
    std::printf("\n%smoves together%s\n", s.c("\033[1m"), s.c("\033[0m"));
    for (const auto& t : together)
      std::printf("  %s ~ %s  r = %s\n", t.value("a", "").c_str(), t.value("b", "").c_str(),
                  Num(t["r"], "%+.2f").c_str());
  }
  return status == "healthy" ? 0 : 1;
}

}  // namespace

void AddStatus(CLI::App* app, int* rc) {
  auto f = std::make_shared<StatusFlags>();
  CLI::App* s = AddCommand(app, "status", "The daemon's diagnosis on one screen; exit 0 healthy, 1 otherwise.", rc,
                           [f] { return ShowStatus(*f); });
  s->add_option("--url", f->url, "the daemon's base URL")->capture_default_str();
  f->instance_opt = s->add_option("--instance", f->instance, "one watched target (or local) in detail");
  s->add_flag("--json", f->json, "print /health/report as JSON");
}

}  // namespace vigil::cli
