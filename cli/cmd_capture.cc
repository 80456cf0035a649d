// vigilctl capture start|list|get|summary: the daemon's captures over its
// admin API, and `summary FILE` for any Chrome trace (Vigil's, vLLM's,
// PyTorch's), analysed locally by the same categories.
#include <httplib.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "capture/summary.h"
#include "capture/trace.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/time_util.h"

namespace vigil::cli {

namespace {

using json = nlohmann::json;

int Fail(const std::string& msg) {
  std::fprintf(stderr, "vigilctl capture: %s\n", msg.c_str());
  return 2;
}

// The response, or an exit code with the error printed.
int Call(const AdminFlags& a, const std::string& method, const std::string& path, const std::string& body,
         std::string* out_body) {
  std::string token;
  if (Status st = AdminToken(a, &token); !st.ok()) return Fail(st.message());
  const std::string& url = a.url;
  httplib::Client c(url);
  c.set_connection_timeout(3);
  c.set_read_timeout(120);
  httplib::Headers h = {{"Authorization", "Bearer " + token}};
  auto out = method == "POST" ? c.Post(path.c_str(), h, body, "application/json") : c.Get(path.c_str(), h);
  if (!out) return Fail("cannot reach " + url + ": " + httplib::to_string(out.error()));
  *out_body = out->body;
  if (out->status / 100 != 2) {
    json j = json::parse(out->body, nullptr, false);
    std::string msg = "HTTP " + std::to_string(out->status);
    if (!j.is_discarded() && j.contains("error")) msg += ": " + j["error"].value("message", "");
    std::fprintf(stderr, "vigilctl capture: %s\n", msg.c_str());
    return 1;
  }
  return 0;
}

std::string Bar(double f) {
  std::string s;
  for (int i = 0; i < static_cast<int>(f * 40 + 0.5); ++i) s += "#";
  return s;
}

void PrintSummary(const json& doc, const json& s) {
  if (doc.is_object() && doc.contains("id"))
    std::printf("capture %s  trigger %s%s%s\n", doc.value("id", "").c_str(), doc.value("trigger", "?").c_str(),
                doc.value("rule", "").empty() ? "" : (" (" + doc.value("rule", "") + ")").c_str(),
                doc.value("reason", "").empty() ? "" : (": " + doc.value("reason", "")).c_str());
  std::printf("window %.3f s, %d steps", s.value("wall_time_s", 0.0), s.value("steps", 0));
  if (doc.is_object() && doc.contains("stop_reason"))
    std::printf(", stopped by %s", doc.value("stop_reason", "").c_str());
  std::printf("\n");
  if (s.value("steps", 0) > 0)
    std::printf("step time  p50 %.2f ms  p95 %.2f ms\n", s["step_time_ms"].value("p50", 0.0),
                s["step_time_ms"].value("p95", 0.0));
  std::printf("\ntime by category (fraction of the window):\n");
  const std::pair<const char*, const char*> names[] = {
      {"attention", "attention"},       {"matmul", "matmul/linear"},   {"normalization", "normalization"},
      {"activation", "activation"},     {"sampling", "sampling"},      {"host_overhead", "scheduler and host overhead"},
      {"other_ops", "other operators"}, {"idle", "idle between steps"}};
  for (const auto& [k, label] : names) {
    const double f = s["categories"].value(k, 0.0);
    std::printf("  %-28s %6.1f%%  %s\n", label, f * 100, Bar(f).c_str());
  }
  if (s.contains("prefill_decode") && s["prefill_decode"].is_object()) {
    std::printf("\nprefill/decode (share of step time):");
    for (const char* p : {"prefill", "decode", "mixed"}) {
      const json& x = s["prefill_decode"][p];
      std::printf("  %s %lld steps %.0f%%", p, static_cast<long long>(x.value("steps", 0)),
                  x.value("fraction_of_step_time", 0.0) * 100);
    }
    std::printf("\n");
  }
  std::printf("\ntop operators by self time:\n");
  for (const auto& op : s["top_ops"])
    std::printf("  %-40s %9.3f ms  %6lld calls  %5.1f%%  %s\n", op.value("name", "").substr(0, 40).c_str(),
                op.value("self_ms", 0.0), static_cast<long long>(op.value("calls", 0)), op.value("fraction", 0.0) * 100,
                op.value("category", "").c_str());
  if (s.contains("gpu") && s["gpu"].is_object()) {
    std::printf("\nGPU: %lld kernels, %.3f s of kernel time, busy %.0f%% of the window\n",
                static_cast<long long>(s["gpu"].value("kernels", 0)), s["gpu"].value("kernel_seconds", 0.0),
                s["gpu"].value("busy_fraction", 0.0) * 100);
    for (const auto& k : s["gpu"]["top_kernels"])
      std::printf("  %-60s %9.3f ms  %lld calls\n", k.value("name", "").substr(0, 60).c_str(), k.value("ms", 0.0),
                  static_cast<long long>(k.value("calls", 0)));
  }
  if (s.contains("throughput") && s["throughput"].is_object()) {
    const json& t = s["throughput"];
    std::printf("\nthroughput during the capture %.1f tokens/s", t.value("output_tokens_per_s_during", 0.0));
    if (t["output_tokens_per_s_before"].is_number())
      std::printf(", the minute before %.1f tokens/s", t["output_tokens_per_s_before"].get<double>());
    if (t["ratio_during_to_before"].is_number())
      std::printf(" (ratio %.2f)", t["ratio_during_to_before"].get<double>());
    std::printf("\n");
  }
}

bool IsFile(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

struct CaptureFlags {
  AdminFlags admin;
  std::string duration, reason, id, out;
  bool json = false;
  CLI::Option *duration_opt = nullptr, *reason_opt = nullptr;
};

int Start(const CaptureFlags& f) {
  std::string res;
  json body = json::object();
  if (f.duration_opt->count()) body["duration"] = f.duration;
  if (f.reason_opt->count()) body["reason"] = f.reason;
  if (int rc = Call(f.admin, "POST", "/api/v1/captures", body.dump(), &res)) return rc;
  std::printf("%s\n", json::parse(res).value("id", "").c_str());
  return 0;
}

int List(const CaptureFlags& f) {
  std::string res;
  if (int rc = Call(f.admin, "GET", "/api/v1/captures", "", &res)) return rc;
  const json j = json::parse(res);
  if (f.json) {
    std::printf("%s\n", j["data"].dump(2).c_str());
    return 0;
  }
  std::printf("%-36s  %-9s  %-8s  %6s  %10s  %s\n", "ID", "STATUS", "TRIGGER", "STEPS", "BYTES", "REASON");
  for (const auto& c : j["data"])
    std::printf("%-36s  %-9s  %-8s  %6lld  %10lld  %s\n", c.value("id", "").c_str(), c.value("status", "").c_str(),
                c.value("trigger", "").c_str(), static_cast<long long>(c.value("steps", 0)),
                static_cast<long long>(c.value("bytes", 0)), c.value("reason", "").c_str());
  return 0;
}

int Get(const CaptureFlags& f) {
  std::string res;
  const std::string& id = f.id;
  if (int rc = Call(f.admin, "GET", "/api/v1/captures/" + id + "/trace", "", &res)) return rc;
  const std::string out = f.out.empty() ? id + ".pt.trace.json.gz" : f.out;
  std::ofstream file(out, std::ios::binary);
  file << res;
  if (!file) return Fail(out + ": cannot write");
  std::printf("%s (%zu bytes): open it in https://ui.perfetto.dev or chrome://tracing\n", out.c_str(), res.size());
  return 0;
}

int ShowSummary(const CaptureFlags& f) {
  std::string res;
  const std::string& arg = f.id;
  json doc, summary;
  if (IsFile(arg)) {
    std::vector<capture::Event> events;
    json meta;
    if (Status rs = capture::ReadTrace(arg, &events, &meta); !rs.ok()) return Fail(rs.message());
    double w0 = 0, w1 = 0;
    if (meta.is_object() && meta.contains("started")) {
      // Vigil's own traces carry their window, idle time included.
      doc = meta;
      double s0 = 0, s1 = 0;
      if (ParseRfc3339(meta.value("started", ""), &s0) && ParseRfc3339(meta.value("ended", ""), &s1)) {
        w0 = s0 * 1e6;
        w1 = s1 * 1e6;
      }
    }
    summary = capture::Summarize(events, w0, w1);
  } else {
    if (int rc = Call(f.admin, "GET", "/api/v1/captures/" + arg, "", &res)) return rc;
    doc = json::parse(res);
    if (!doc.contains("summary"))
      return Fail("capture " + arg + " has no summary yet (status " + doc.value("status", "?") + ")");
    summary = doc["summary"];
  }
  if (f.json) std::printf("%s\n", summary.dump(2).c_str());
  else PrintSummary(doc, summary);
  return 0;
}

}  // namespace

void AddCapture(CLI::App* app, int* rc) {
  CLI::App* capture = app->add_subcommand(
      "capture",
      "Profiling captures over the admin API (--url, --token-file or VIGIL_ADMIN_TOKEN), and trace summaries.");
  capture->require_subcommand(1);
  auto s = std::make_shared<CaptureFlags>();
  CLI::App* start =
      AddCommand(capture, "start", "Start a bounded capture now; print its id.", rc, [s] { return Start(*s); });
  s->duration_opt = start->add_option("--duration", s->duration, "how long, e.g. 5s (default: the daemon's)");
  s->reason_opt = start->add_option("--reason", s->reason, "why, kept with the capture");
  AddAdminFlags(start, &s->admin);
  auto l = std::make_shared<CaptureFlags>();
  CLI::App* list = AddCommand(capture, "list", "The captures: id, status, trigger, steps, size, reason.", rc,
                              [l] { return List(*l); });
  list->add_flag("--json", l->json, "print them as JSON");
  AddAdminFlags(list, &l->admin);
  auto g = std::make_shared<CaptureFlags>();
  CLI::App* get =
      AddCommand(capture, "get", "Download a capture's Chrome trace (for Perfetto).", rc, [g] { return Get(*g); });
  get->add_option("ID", g->id, "the capture's id")->required();
  get->add_option("--out", g->out, "the file to write (default: ID.pt.trace.json.gz)");
  AddAdminFlags(get, &g->admin);
  auto m = std::make_shared<CaptureFlags>();
  CLI::App* summary =
      AddCommand(capture, "summary",
                 "Where the time went; FILE may be any Chrome trace (Vigil's, vLLM's, PyTorch's; gzip or not).", rc,
                 [m] { return ShowSummary(*m); });
  summary->add_option("ID|FILE", m->id, "a capture's id, or a trace file read locally")->required();
  summary->add_flag("--json", m->json, "print the summary as JSON");
  AddAdminFlags(summary, &m->admin);
}

}  // namespace vigil::cli
