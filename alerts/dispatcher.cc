#include "alerts/dispatcher.h"

#include <openssl/hmac.h>

#include "common/matcher.h"  // CheckRegexLimits
#include "common/time_util.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace vigil::alerts {

std::string Fingerprint(const Labels& labels) {
  uint64_t h = 14695981039346656037ULL;
  auto feed = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 255;  // separator, as Alertmanager's model uses
    h *= 1099511628211ULL;
  };
  for (const auto& [k, v] : labels) {  // std::map: sorted by name
    feed(k);
    feed(v);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool GroupNotification::firing() const {
  for (const auto& a : alerts)
    if (!a.resolved()) return true;
  return false;
}

Status Dispatcher::Create(DispatchConfig cfg, std::unique_ptr<Dispatcher>* out) {
  std::unique_ptr<Dispatcher> d(new Dispatcher());
  for (size_t i = 0; i < cfg.routes.size(); ++i) {
    CompiledRoute cr{cfg.routes[i], {}};
    for (const auto& [label, pattern] : cfg.routes[i].match_re) {
      if (Status st = CheckRegexLimits(pattern); !st.ok())
        return Status::InvalidArgument("alerts.routes[" + std::to_string(i) + "].match_re." + label + ": " +
                                       st.message());
      try {
        cr.re.emplace_back(label, std::regex("^(?:" + pattern + ")$"));
      } catch (const std::regex_error& e) {
        return Status::InvalidArgument("alerts.routes[" + std::to_string(i) + "].match_re." + label + ": \"" + pattern +
                                       "\" is not a valid regex: " + e.what());
      }
    }
    d->routes_.push_back(std::move(cr));
  }
  d->cfg_ = std::move(cfg);
  *out = std::move(d);
  return Status::OK();
}

std::vector<std::string> Dispatcher::Receivers(const Labels& labels) const {
  std::vector<std::string> out;
  for (const auto& r : routes_) {
    bool ok = true;
    for (const auto& [k, v] : r.route.match) {
      auto it = labels.find(k);
      ok &= it != labels.end() && it->second == v;
    }
    for (const auto& [k, re] : r.re) {
      auto it = labels.find(k);
      ok &= std::regex_match(it == labels.end() ? std::string() : it->second, re);
    }
    if (!ok) continue;
    if (std::find(out.begin(), out.end(), r.route.receiver) == out.end()) out.push_back(r.route.receiver);
    if (!r.route.continue_matching) return out;
  }
  if (out.empty()) out.push_back(cfg_.default_receiver);
  return out;
}

void Dispatcher::Ingest(const Alert& alert, double now) { Ingest(alert, now, Receivers(alert.labels)); }

void Dispatcher::Ingest(const Alert& alert, double now, const std::vector<std::string>& receivers) {
  const std::string fp = Fingerprint(alert.labels);
  for (const std::string& receiver : receivers) {
    Labels gl;
    std::string key = receiver + "{";
    for (const auto& name : cfg_.group_by) {
      auto it = alert.labels.find(name);
      if (it == alert.labels.end()) continue;
      gl[name] = it->second;
      key += name + "=\"" + it->second + "\",";
    }
    key += "}";
    auto [it, created] = groups_.try_emplace(key);
    Group& g = it->second;
    if (created) {
      g.receiver = receiver;
      g.labels = gl;
      g.created = now;
    }
    auto old = g.alerts.find(fp);
    const bool is_new = old == g.alerts.end();
    if (is_new || old->second.resolved() != alert.resolved()) g.changed = true;
    g.alerts[fp] = alert;
  }
}

std::vector<GroupNotification> Dispatcher::Tick(double now, const MutePredicate& muted) {
  std::vector<GroupNotification> out;
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = it->second;
    for (const auto& [fp, a] : g.alerts) {
      if (!a.resolved() && !g.sent_firing.count(fp) && g.last_flush >= 0 && !(muted && muted(a.labels)))
        g.changed = true;  // e.g. its silence expired
    }
    bool due = false;
    if (g.last_flush < 0) due = now - g.created >= cfg_.group_wait_s;
    else if (g.changed) due = now - g.last_flush >= cfg_.group_interval_s;
    // A still-firing group is repeated; checked on the group_interval grid.
    bool any_firing = false;
    for (const auto& [fp, a] : g.alerts) any_firing |= !a.resolved();
    if (!due && g.last_flush >= 0 && any_firing && now - g.last_flush >= cfg_.repeat_interval_s) due = true;
    if (!due) {
      ++it;
      continue;
    }
    GroupNotification n{g.receiver, it->first, g.labels, {}};
    for (const auto& [fp, a] : g.alerts) {
      // A resolved alert nobody heard firing needs no resolve message.
      if (a.resolved() && !g.sent_firing.count(fp)) continue;
      if (!a.resolved() && muted && muted(a.labels)) continue;
      n.alerts.push_back(a);
    }
    g.last_flush = now;
    g.changed = false;
    for (auto a = g.alerts.begin(); a != g.alerts.end();) {
      if (a->second.resolved()) {
        g.sent_firing.erase(a->first);
        a = g.alerts.erase(a);
      } else {
        if (!(muted && muted(a->second.labels))) g.sent_firing[a->first] = true;
        ++a;
      }
    }
    if (!n.alerts.empty()) out.push_back(std::move(n));
    if (g.alerts.empty()) it = groups_.erase(it);
    else ++it;
  }
  return out;
}

std::string Rfc3339(double t) {
  return t <= 0 ? "0001-01-01T00:00:00Z"  // Alertmanager's zero time for "no end"
                : FormatRfc3339(t);
}

nlohmann::json WebhookPayload(const GroupNotification& n, const std::string& external_url) {
  using json = nlohmann::json;
  json alerts = json::array();
  Labels common_labels;
  std::map<std::string, std::string> common_ann;
  for (size_t i = 0; i < n.alerts.size(); ++i) {
    const Alert& a = n.alerts[i];
    alerts.push_back({{"status", a.resolved() ? "resolved" : "firing"},
                      {"labels", a.labels},
                      {"annotations", a.annotations},
                      {"startsAt", Rfc3339(a.starts_at)},
                      {"endsAt", Rfc3339(a.ends_at)},
                      {"generatorURL", a.generator_url},
                      {"fingerprint", Fingerprint(a.labels)}});
    if (i == 0) {
      common_labels = a.labels;
      common_ann = a.annotations;
      continue;
    }
    for (auto it = common_labels.begin(); it != common_labels.end();) {
      auto f = a.labels.find(it->first);
      it = (f == a.labels.end() || f->second != it->second) ? common_labels.erase(it) : std::next(it);
    }
    for (auto it = common_ann.begin(); it != common_ann.end();) {
      auto f = a.annotations.find(it->first);
      it = (f == a.annotations.end() || f->second != it->second) ? common_ann.erase(it) : std::next(it);
    }
  }
  return {{"version", "4"},
          {"groupKey", n.group_key},
          {"truncatedAlerts", 0},
          {"status", n.firing() ? "firing" : "resolved"},
          {"receiver", n.receiver},
          {"groupLabels", n.group_labels},
          {"commonLabels", common_labels},
          {"commonAnnotations", common_ann},
          {"externalURL", external_url},
          {"alerts", alerts}};
}

std::string HmacSha256Hex(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace vigil::alerts
