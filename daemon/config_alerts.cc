// The `alerts:` section: grouping, receivers, routes and retry policy.
#include <regex>

#include "daemon/config.h"
#include "daemon/config_section.h"

namespace vigil::daemon {

namespace {

bool HttpUrl(const std::string& u) { return u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0; }

void ReadReceiver(Section& r, AlertsConfig* a, std::set<std::string>* names) {
  alerts::ReceiverConfig rc;
  r.String("name", &rc.name);
  if (rc.name.empty()) r.Error("name", "every receiver needs a name");
  else if (!names->insert(rc.name).second) r.Error("name", "receiver \"" + rc.name + "\" is defined twice");
  std::string type = "webhook";
  r.OneOf("type", &type, {"webhook", "alertmanager", "slack", "log"});
  alerts::ParseReceiverType(type, &rc.type);
  std::string url;
  r.String("url", &url);
  if (!url.empty()) rc.urls.push_back(url);
  std::vector<std::string> urls;
  r.Strings("urls", &urls);
  rc.urls.insert(rc.urls.end(), urls.begin(), urls.end());
  std::string secret_file;
  r.String("secret_file", &secret_file);
  if (!secret_file.empty()) a->secret_files[rc.name] = secret_file;
  r.StringMap("headers", &rc.headers);
  r.Duration("timeout", &rc.timeout_s, 0.001);
  r.String("ca_file", &rc.ca_file);
  r.Bool("insecure_skip_verify", &rc.insecure_skip_verify);
  r.Finish();
  if (rc.type == alerts::ReceiverType::kLog) {
    if (!rc.urls.empty()) r.Error("url", "a log receiver takes no url");
  } else if (rc.urls.empty()) {
    r.Error(rc.type == alerts::ReceiverType::kAlertmanager ? "urls" : "url",
            std::string("a ") + type + " receiver needs " +
                (rc.type == alerts::ReceiverType::kAlertmanager ? "urls (Alertmanager base URLs)" : "a url"));
  } else if (rc.urls.size() > 1 && rc.type != alerts::ReceiverType::kAlertmanager) {
    r.Error("urls", "only alertmanager receivers take several urls");
  }
  for (const auto& u : rc.urls)
    if (!HttpUrl(u)) r.Error(url == u ? "url" : "urls", "\"" + u + "\" is not an http:// or https:// URL");
  a->receivers.push_back(rc);
}

}  // namespace

void ReadAlerts(Section s, AlertsConfig* a) {
  alerts::DispatchConfig& d = a->dispatch;
  s.Strings("group_by", &d.group_by);
  s.Duration("group_wait", &d.group_wait_s);
  s.Duration("group_interval", &d.group_interval_s, 0.001);
  s.Duration("repeat_interval", &d.repeat_interval_s, 0.001);
  s.String("default_receiver", &d.default_receiver);
  s.String("external_url", &a->external_url);
  if (!a->external_url.empty() && !HttpUrl(a->external_url))
    s.Error("external_url", "expected an http:// or https:// URL");
  s.Duration("resend_delay", &a->resend_delay_s, 0.001);
  s.Duration("retry_base", &a->retry.base_s, 0.001);
  s.Duration("retry_cap", &a->retry.cap_s, 0.001);
  s.Duration("max_age", &a->retry.max_age_s, 0.001);
  std::set<std::string> names;
  for (Section& r : s.Items("receivers")) ReadReceiver(r, a, &names);
  // The log receiver is always available.
  if (!names.count("log")) {
    alerts::ReceiverConfig log;
    log.name = "log";
    a->receivers.push_back(log);
    names.insert("log");
  }
  if (!names.count(d.default_receiver)) s.Error("default_receiver", "no receiver named \"" + d.default_receiver + "\"");
  for (Section& r : s.Items("routes")) {
    alerts::Route route;
    r.StringMap("match", &route.match);
    r.StringMap("match_re", &route.match_re);
    for (const auto& [label, pattern] : route.match_re) {
      try {
        std::regex re(pattern);
      } catch (const std::regex_error& e) {
        r.Error("match_re", label + ": \"" + pattern + "\" is not a valid regex: " + e.what());
      }
    }
    r.String("receiver", &route.receiver);
    if (route.receiver.empty()) r.Error("receiver", "every route needs a receiver");
    else if (!names.count(route.receiver)) r.Error("receiver", "no receiver named \"" + route.receiver + "\"");
    r.Bool("continue", &route.continue_matching);
    r.Finish();
    d.routes.push_back(route);
  }
  // Alertmanager's inhibit_rules: new matcher strings and the older maps.
  for (Section& r : s.Items("inhibit_rules")) {
    rules::InhibitRuleSpec spec;
    r.Strings("source_matchers", &spec.source_matchers);
    r.Strings("target_matchers", &spec.target_matchers);
    r.StringMap("source_match", &spec.source_match);
    r.StringMap("target_match", &spec.target_match);
    r.StringMap("source_match_re", &spec.source_match_re);
    r.StringMap("target_match_re", &spec.target_match_re);
    r.Strings("equal", &spec.equal);
    rules::InhibitRule rule;
    std::string field;
    if (Status st = rules::MakeInhibitRule(spec, &rule, &field); !st.ok()) {
      r.Error(field, st.message());  // the rule's position; the path names the entry
    } else {
      a->inhibit_rules.push_back(std::move(rule));
    }
    r.Finish();
  }
  s.Finish();
}

}  // namespace vigil::daemon
