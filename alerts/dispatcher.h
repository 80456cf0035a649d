// Alert routing and grouping with Alertmanager's semantics, on an explicit
// clock so timing is testable: routes tried in order (first match wins
// unless `continue`), alerts grouped per receiver by `group_by` labels, a
// new group waits `group_wait`, later changes wait `group_interval`, and a
// still-firing group is re-sent every `repeat_interval`.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace vigil::alerts {

using Labels = std::map<std::string, std::string>;

struct Alert {
  Labels labels;
  std::map<std::string, std::string> annotations;
  double starts_at = 0;  // unix seconds
  double ends_at = 0;    // 0 while firing
  std::string generator_url;
  // Names of the firing alerts inhibiting this one (decided by the rules'
  // inhibit_rules); an inhibited alert is muted like a silenced one.
  std::vector<std::string> inhibited_by;
  bool resolved() const { return ends_at > 0; }
};

// Alertmanager-style fingerprint: FNV-1a 64 over the sorted label pairs, hex.
std::string Fingerprint(const Labels& labels);

struct Route {
  Labels match;
  std::map<std::string, std::string> match_re;  // anchored regexes
  std::string receiver;
  bool continue_matching = false;
};

struct DispatchConfig {
  std::vector<std::string> group_by = {"alertname"};
  double group_wait_s = 10;
  double group_interval_s = 60;
  double repeat_interval_s = 4 * 3600;
  std::string default_receiver = "log";
  std::vector<Route> routes;
};

// One message for one receiver about one group.
struct GroupNotification {
  std::string receiver;
  std::string group_key;
  Labels group_labels;
  std::vector<Alert> alerts;
  bool firing() const;
};

class Dispatcher {
 public:
  // Fails on an invalid match_re regex, naming the route and label.
  static Status Create(DispatchConfig cfg, std::unique_ptr<Dispatcher>* out);

  // The receivers an alert with these labels goes to.
  std::vector<std::string> Receivers(const Labels& labels) const;
  // A rule's alert turned firing, stayed firing, or resolved.
  void Ingest(const Alert& alert, double now);
  // The same, for these receivers only (the caller routed it).
  void Ingest(const Alert& alert, double now, const std::vector<std::string>& receivers);
  // Notifications due at `now`. Firing alerts `muted` (silenced) are left
  // out; a resolve still goes to whoever heard the alert firing. An alert
  // that becomes unmuted while firing counts as a change to its group.
  using MutePredicate = std::function<bool(const Labels&)>;
  std::vector<GroupNotification> Tick(double now, const MutePredicate& muted = nullptr);

 private:
  struct CompiledRoute {
    Route route;
    std::vector<std::pair<std::string, std::regex>> re;
  };
  struct Group {
    std::string receiver;
    Labels labels;
    std::map<std::string, Alert> alerts;  // by fingerprint
    double created = 0;
    double last_flush = -1;                   // -1: never sent
    bool changed = false;                     // since the last flush
    std::map<std::string, bool> sent_firing;  // fingerprint -> last sent as firing
  };
  DispatchConfig cfg_;
  std::vector<CompiledRoute> routes_;
  std::map<std::string, Group> groups_;  // by group key
};

// The Alertmanager webhook body (version "4").
nlohmann::json WebhookPayload(const GroupNotification& n, const std::string& external_url);
// hex(HMAC-SHA256(secret, body)), for X-Vigil-Signature: sha256=<hex>.
std::string HmacSha256Hex(const std::string& secret, const std::string& body);
std::string Rfc3339(double unix_seconds);

}  // namespace vigil::alerts
