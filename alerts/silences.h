// Silences, as Alertmanager users know them: label matchers (=, !=, =~, !~)
// over a time window. A silenced alert is still listed, marked silenced, and
// sends nothing. Kept in SQLite next to the outbox so they survive restarts;
// with no writable state directory they live in memory and the fault is
// reported.
#pragma once

#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerts/dispatcher.h"
#include "common/matcher.h"
#include "common/mutex.h"
#include "common/status.h"

struct sqlite3;

namespace vigil::alerts {

using vigil::Matcher;
using vigil::ParseMatcher;

struct Silence {
  std::string id;
  std::vector<Matcher> matchers;
  double starts_at = 0;
  double ends_at = 0;
  double updated_at = 0;
  std::string created_by;
  std::string comment;
  // "pending" (not started), "active" or "expired" at `now`.
  std::string State(double now) const;
};

// Alertmanager's v2 silence JSON ("matchers", "startsAt", "endsAt",
// "createdBy", "comment"); errors name the field.
Status SilenceFromJson(const nlohmann::json& j, double now, Silence* out);
nlohmann::json SilenceToJson(const Silence& s, double now);

class SilenceStore {
 public:
  // `db_path` empty: memory only. An unopenable file keeps the store in
  // memory and sets fault().
  explicit SilenceStore(const std::string& db_path);
  ~SilenceStore();

  // Validates (matchers present and compile, end after start), assigns an
  // id, persists. A persistence failure keeps the silence in memory and
  // returns OK with `*warning` set.
  Status Add(Silence s, double now, std::string* id, std::string* warning);
  // Ends the silence now. NotFound for an unknown id.
  Status Expire(const std::string& id, double now);
  std::vector<Silence> List() const;
  // Ids of the silences active at `now` that match these labels.
  std::vector<std::string> Silencing(const Labels& labels, double now) const;
  std::string fault() const;

 private:
  struct Compiled {
    Silence silence;
    MatcherSet matchers;
  };
  Status Compile(const Silence& s, Compiled* out) const;
  Status Persist(const Silence& s) REQUIRES(mu_);
  mutable Mutex mu_;
  const bool persistent_;
  sqlite3* db_ GUARDED_BY(mu_) = nullptr;
  std::map<std::string, Compiled> silences_ GUARDED_BY(mu_);
  std::string fault_ GUARDED_BY(mu_);
};

}  // namespace vigil::alerts
