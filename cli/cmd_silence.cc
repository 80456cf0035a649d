// vigilctl silence add|list|expire: the daemon's silences over its admin API.
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "alerts/silences.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "common/time_util.h"
#include "common/units.h"

namespace vigil::cli {

namespace {

using json = nlohmann::json;

int Fail(const std::string& msg) {
  std::fprintf(stderr, "vigilctl silence: %s\n", msg.c_str());
  return 2;
}

// Sends and returns the parsed body, or an exit code with the error printed.
int Call(const Args& a, const std::string& method, const std::string& path, const std::string& body, json* out) {
  std::string token;
  if (Status st = AdminToken(a, &token); !st.ok()) return Fail(st.message());
  const std::string url = a.Get("url", "http://127.0.0.1:8000");
  httplib::Client c(url);
  c.set_connection_timeout(3);
  c.set_read_timeout(10);
  httplib::Headers h = {{"Authorization", "Bearer " + token}};
  httplib::Result r = method == "POST"   ? c.Post(path.c_str(), h, body, "application/json")
                      : method == "GET"  ? c.Get(path.c_str(), h)
                                         : c.Delete(path.c_str(), h);
  if (!r) return Fail("cannot reach " + url + ": " + httplib::to_string(r.error()));
  *out = json::parse(r->body, nullptr, false);
  if (r->status / 100 != 2) {
    std::string msg = "HTTP " + std::to_string(r->status);
    if (!out->is_discarded() && out->contains("error")) msg += ": " + (*out)["error"].value("message", "");
    std::fprintf(stderr, "vigilctl silence: %s\n", msg.c_str());
    return 1;
  }
  return 0;
}

std::string MatcherText(const json& m) {
  const bool re = m.value("isRegex", false), eq = m.value("isEqual", true);
  return m.value("name", "") + (eq ? (re ? "=~" : "=") : (re ? "!~" : "!=")) + m.value("value", "");
}

}  // namespace

int CmdSilence(int argc, char** argv) {
  if (argc < 1) return Fail("expected add, list or expire");
  const std::string sub = argv[0];
  Args a;
  Status st = a.Parse(argc - 1, argv + 1, {"url", "token-file", "duration", "start", "end", "comment", "author"}, {"json"});
  if (!st.ok()) return Fail(st.message());
  json out;
  if (sub == "add") {
    if (a.positional().empty()) return Fail("add needs at least one matcher, e.g. alertname=KVCacheThrashing");
    json matchers = json::array();
    for (const auto& text : a.positional()) {
      alerts::Matcher m;
      if (Status ms = alerts::ParseMatcher(text, &m); !ms.ok()) return Fail(ms.message());
      matchers.push_back({{"name", m.name}, {"value", m.value}, {"isRegex", m.is_regex}, {"isEqual", m.is_equal}});
    }
    double start = UnixNow(), end = 0;
    if (a.Has("start") && !ParseRfc3339(a.Get("start"), &start)) return Fail("--start: expected an RFC 3339 time");
    if (a.Has("end")) {
      if (!ParseRfc3339(a.Get("end"), &end)) return Fail("--end: expected an RFC 3339 time");
    } else {
      double d = 0;
      if (Status ds = ParseDuration(a.Get("duration", "1h"), &d); !ds.ok()) return Fail("--duration: " + ds.message());
      end = start + d;
    }
    const char* user = std::getenv("USER");
    json body = {{"matchers", matchers}, {"startsAt", FormatRfc3339(start)}, {"endsAt", FormatRfc3339(end)},
                 {"createdBy", a.Get("author", user ? user : "vigilctl")}, {"comment", a.Get("comment", "")}};
    if (int rc = Call(a, "POST", "/api/v1/silences", body.dump(), &out)) return rc;
    if (out.contains("warning")) std::fprintf(stderr, "warning: %s\n", out["warning"].get<std::string>().c_str());
    std::printf("%s\n", out.value("silenceID", "").c_str());
    return 0;
  }
  if (sub == "list") {
    if (int rc = Call(a, "GET", "/api/v1/silences", "", &out)) return rc;
    if (a.Has("json")) {
      std::printf("%s\n", out["data"].dump(2).c_str());
      return 0;
    }
    std::printf("%-36s  %-8s  %-24s  %-40s  %s\n", "ID", "STATE", "ENDS", "MATCHERS", "COMMENT");
    for (const auto& s : out["data"]) {
      std::string m;
      for (const auto& x : s["matchers"]) m += (m.empty() ? "" : ",") + MatcherText(x);
      std::printf("%-36s  %-8s  %-24s  %-40s  %s\n", s.value("id", "").c_str(),
                  s["status"].value("state", "").c_str(), s.value("endsAt", "").c_str(), m.c_str(),
                  s.value("comment", "").c_str());
    }
    return 0;
  }
  if (sub == "expire") {
    if (a.positional().empty()) return Fail("expire needs silence ids");
    for (const auto& id : a.positional()) {
      if (int rc = Call(a, "DELETE", "/api/v1/silences/" + id, "", &out)) return rc;
      std::printf("expired %s\n", id.c_str());
    }
    return 0;
  }
  return Fail("unknown subcommand \"" + sub + "\" (add, list, expire)");
}

}  // namespace vigil::cli
