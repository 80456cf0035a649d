// vigilctl silence add|list|expire: the daemon's silences over its admin API.
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "alerts/silences.h"
#include "cli/commands.h"
#include "cli/flags.h"
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
int Call(const AdminFlags& a, const std::string& method, const std::string& path, const std::string& body, json* out) {
  std::string token;
  if (Status st = AdminToken(a, &token); !st.ok()) return Fail(st.message());
  const std::string& url = a.url;
  httplib::Client c(url);
  c.set_connection_timeout(3);
  c.set_read_timeout(10);
  httplib::Headers h = {{"Authorization", "Bearer " + token}};
  httplib::Result r = method == "POST"  ? c.Post(path.c_str(), h, body, "application/json")
                      : method == "GET" ? c.Get(path.c_str(), h)
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

struct AddFlags {
  AdminFlags admin;
  std::vector<std::string> matchers;
  std::string duration = "1h", start, end, comment, author;
  CLI::Option *start_opt = nullptr, *end_opt = nullptr, *author_opt = nullptr;
};

int Add(const AddFlags& f) {
  json out;
  json matchers = json::array();
  for (const auto& text : f.matchers) {
    alerts::Matcher m;
    if (Status ms = alerts::ParseMatcher(text, &m); !ms.ok()) return Fail(ms.message());
    matchers.push_back({{"name", m.name}, {"value", m.value}, {"isRegex", m.is_regex}, {"isEqual", m.is_equal}});
  }
  double start = UnixNow(), end = 0;
  if (f.start_opt->count() && !ParseRfc3339(f.start, &start)) return Fail("--start: expected an RFC 3339 time");
  if (f.end_opt->count()) {
    if (!ParseRfc3339(f.end, &end)) return Fail("--end: expected an RFC 3339 time");
  } else {
    double d = 0;
    if (Status ds = ParseDuration(f.duration, &d); !ds.ok()) return Fail("--duration: " + ds.message());
    end = start + d;
  }
  const char* user = std::getenv("USER");
  const std::string author = f.author_opt->count() ? f.author : user ? user : "vigilctl";
  json body = {{"matchers", matchers},
               {"startsAt", FormatRfc3339(start)},
               {"endsAt", FormatRfc3339(end)},
               {"createdBy", author},
               {"comment", f.comment}};
  if (int rc = Call(f.admin, "POST", "/api/v1/silences", body.dump(), &out)) return rc;
  if (out.contains("warning")) std::fprintf(stderr, "warning: %s\n", out["warning"].get<std::string>().c_str());
  std::printf("%s\n", out.value("silenceID", "").c_str());
  return 0;
}

int List(const AdminFlags& a, bool as_json) {
  json out;
  if (int rc = Call(a, "GET", "/api/v1/silences", "", &out)) return rc;
  if (as_json) {
    std::printf("%s\n", out["data"].dump(2).c_str());
    return 0;
  }
  std::printf("%-36s  %-8s  %-24s  %-40s  %s\n", "ID", "STATE", "ENDS", "MATCHERS", "COMMENT");
  for (const auto& s : out["data"]) {
    std::string m;
    for (const auto& x : s["matchers"]) m += (m.empty() ? "" : ",") + MatcherText(x);
    std::printf("%-36s  %-8s  %-24s  %-40s  %s\n", s.value("id", "").c_str(), s["status"].value("state", "").c_str(),
                s.value("endsAt", "").c_str(), m.c_str(), s.value("comment", "").c_str());
  }
  return 0;
}

int Expire(const AdminFlags& a, const std::vector<std::string>& ids) {
  json out;
  for (const auto& id : ids) {
    if (int rc = Call(a, "DELETE", "/api/v1/silences/" + id, "", &out)) return rc;
    std::printf("expired %s\n", id.c_str());
  }
  return 0;
}

struct ListFlags {
  AdminFlags admin;
  bool json = false;
};

struct ExpireFlags {
  AdminFlags admin;
  std::vector<std::string> ids;
};

}  // namespace

void AddSilence(CLI::App* app, int* rc) {
  CLI::App* silence =
      app->add_subcommand("silence", "Silences over the admin API (--url, --token-file or VIGIL_ADMIN_TOKEN).");
  silence->require_subcommand(1);
  auto a = std::make_shared<AddFlags>();
  CLI::App* add = AddCommand(silence, "add", "Silence the alerts that match every MATCHER; print the silence's id.", rc,
                             [a] { return Add(*a); });
  add->add_option("MATCHER", a->matchers, "name=value, name!=value, name=~regex or name!~regex")->required();
  add->add_option("--duration", a->duration, "how long it lasts from --start (unless --end)")->capture_default_str();
  a->start_opt = add->add_option("--start", a->start, "when it starts, RFC 3339 (default: now)");
  a->end_opt = add->add_option("--end", a->end, "when it ends, RFC 3339 (instead of --duration)");
  add->add_option("--comment", a->comment, "why, for the people who see it");
  a->author_opt = add->add_option("--author", a->author, "who (default: $USER)");
  AddAdminFlags(add, &a->admin);
  auto l = std::make_shared<ListFlags>();
  CLI::App* list = AddCommand(silence, "list", "The silences: id, state, end, matchers, comment.", rc,
                              [l] { return List(l->admin, l->json); });
  list->add_flag("--json", l->json, "print them as JSON");
  AddAdminFlags(list, &l->admin);
  auto e = std::make_shared<ExpireFlags>();
  CLI::App* expire = AddCommand(silence, "expire", "End silences now.", rc, [e] { return Expire(e->admin, e->ids); });
  expire->add_option("ID", e->ids, "silence ids")->required();
  AddAdminFlags(expire, &e->admin);
}

}  // namespace vigil::cli
