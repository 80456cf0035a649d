#include "alerts/silences.h"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <random>

#include "common/time_util.h"

namespace vigil::alerts {

namespace {

using json = nlohmann::json;

std::string NewId() {
  std::random_device rd;
  std::mt19937_64 g((static_cast<uint64_t>(rd()) << 32) ^ rd());
  uint64_t a = g(), b = g();
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  return true;
}

Status ParseTime(const json& j, const char* field, double* out) {
  if (!j.contains(field)) return Status::NotFound(field);
  if (!j[field].is_string() || !ParseRfc3339(j[field].get<std::string>(), out))
    return Status::InvalidArgument(std::string(field) + ": expected an RFC 3339 time such as 2026-11-23T05:00:00Z");
  return Status::OK();
}

}  // namespace

std::string Silence::State(double now) const {
  if (now >= ends_at) return "expired";
  if (now < starts_at) return "pending";
  return "active";
}

Status SilenceFromJson(const json& j, double now, Silence* out) {
  if (!j.is_object()) return Status::InvalidArgument("expected a JSON object with matchers, startsAt, endsAt, comment");
  Silence s;
  if (!j.contains("matchers") || !j["matchers"].is_array() || j["matchers"].empty())
    return Status::InvalidArgument("matchers: expected a non-empty array of {name, value, isRegex, isEqual}");
  for (size_t i = 0; i < j["matchers"].size(); ++i) {
    const json& m = j["matchers"][i];
    const std::string where = "matchers[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string() || m["name"].get<std::string>().empty() ||
        !m.contains("value") || !m["value"].is_string())
      return Status::InvalidArgument(where + ": expected {\"name\": string, \"value\": string}");
    Matcher x;
    x.name = m["name"];
    x.value = m["value"];
    if (m.contains("isRegex")) {
      if (!m["isRegex"].is_boolean()) return Status::InvalidArgument(where + ".isRegex: expected true or false");
      x.is_regex = m["isRegex"];
    }
    if (m.contains("isEqual")) {
      if (!m["isEqual"].is_boolean()) return Status::InvalidArgument(where + ".isEqual: expected true or false");
      x.is_equal = m["isEqual"];
    }
    s.matchers.push_back(x);
  }
  s.starts_at = now;
  if (Status st = ParseTime(j, "startsAt", &s.starts_at); !st.ok() && st.code() != Status::Code::kNotFound) return st;
  if (Status st = ParseTime(j, "endsAt", &s.ends_at); !st.ok()) {
    return st.code() == Status::Code::kNotFound ? Status::InvalidArgument("endsAt: required (RFC 3339)") : st;
  }
  if (s.ends_at <= s.starts_at) return Status::InvalidArgument("endsAt: must be after startsAt");
  if (s.ends_at <= now) return Status::InvalidArgument("endsAt: is in the past");
  if (j.contains("createdBy")) {
    if (!j["createdBy"].is_string()) return Status::InvalidArgument("createdBy: expected a string");
    s.created_by = j["createdBy"];
  }
  if (j.contains("comment")) {
    if (!j["comment"].is_string()) return Status::InvalidArgument("comment: expected a string");
    s.comment = j["comment"];
  }
  *out = s;
  return Status::OK();
}

json SilenceToJson(const Silence& s, double now) {
  json m = json::array();
  for (const auto& x : s.matchers)
    m.push_back({{"name", x.name}, {"value", x.value}, {"isRegex", x.is_regex}, {"isEqual", x.is_equal}});
  return {{"id", s.id},
          {"matchers", m},
          {"startsAt", FormatRfc3339(s.starts_at)},
          {"endsAt", FormatRfc3339(s.ends_at)},
          {"updatedAt", FormatRfc3339(s.updated_at)},
          {"createdBy", s.created_by},
          {"comment", s.comment},
          {"status", {{"state", s.State(now)}}}};
}

SilenceStore::SilenceStore(const std::string& path) : persistent_(!path.empty()) {
  if (path.empty()) return;
  char* err = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK ||
      sqlite3_busy_timeout(db_, 5000) != SQLITE_OK ||
      sqlite3_exec(
          db_, "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
          nullptr, nullptr, &err) != SQLITE_OK) {
    fault_ = "silences: " + path + ": " +
             (err   ? err
              : db_ ? sqlite3_errmsg(db_)
                    : "cannot open") +
             "; silences are kept in memory only";
    sqlite3_free(err);
    spdlog::error("{}", fault_);
    sqlite3_close(db_);
    db_ = nullptr;
    return;
  }
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "SELECT body FROM silences", -1, &st, nullptr);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    const char* body = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    json j = json::parse(body ? body : "", nullptr, false);
    Silence s;
    if (j.is_discarded() || !j.contains("id")) continue;
    s.id = j.value("id", "");
    for (const auto& m : j.value("matchers", json::array()))
      s.matchers.push_back(
          {m.value("name", ""), m.value("value", ""), m.value("isRegex", false), m.value("isEqual", true)});
    ParseRfc3339(j.value("startsAt", ""), &s.starts_at);
    ParseRfc3339(j.value("endsAt", ""), &s.ends_at);
    ParseRfc3339(j.value("updatedAt", ""), &s.updated_at);
    s.created_by = j.value("createdBy", "");
    s.comment = j.value("comment", "");
    Compiled c;
    if (Compile(s, &c).ok()) silences_[s.id] = std::move(c);
  }
  sqlite3_finalize(st);
  if (!silences_.empty()) spdlog::info("silences: {} loaded from {}", silences_.size(), path);
}

SilenceStore::~SilenceStore() {
  if (db_) sqlite3_close(db_);
}

Status SilenceStore::Compile(const Silence& s, Compiled* out) const {
  out->silence = s;
  for (size_t i = 0; i < s.matchers.size(); ++i) {  // one by one, to name the bad one
    MatcherSet one;
    if (Status st = MatcherSet::Compile({s.matchers[i]}, &one); !st.ok())
      return Status::InvalidArgument("matchers[" + std::to_string(i) + "].value: " + st.message());
  }
  return MatcherSet::Compile(s.matchers, &out->matchers);
}

Status SilenceStore::Persist(const Silence& s) {
  if (!persistent_) return Status::OK();
  if (!db_) return Status::IOError(fault_.empty() ? "no state directory" : fault_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO silences (id, body) VALUES (?, ?)", -1, &st, nullptr) !=
      SQLITE_OK)
    return Status::IOError(std::string("silences: ") + sqlite3_errmsg(db_));
  const std::string body = SilenceToJson(s, s.updated_at).dump();
  sqlite3_bind_text(st, 1, s.id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, body.c_str(), -1, SQLITE_TRANSIENT);
  const int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Status::IOError(std::string("silences: write failed: ") + sqlite3_errmsg(db_));
  return Status::OK();
}

Status SilenceStore::Add(Silence s, double now, std::string* id, std::string* warning) {
  Compiled c;
  VIGIL_RETURN_IF_ERROR(Compile(s, &c));
  MutexLock lock(&mu_);
  s.id = NewId();
  s.updated_at = now;
  c.silence = s;
  warning->clear();
  if (Status st = Persist(s); !st.ok()) {
    *warning = st.message() + " (the silence holds until vigild restarts)";
    spdlog::error("silence {}: {}", s.id, *warning);
  }
  silences_[s.id] = std::move(c);
  *id = s.id;
  return Status::OK();
}

Status SilenceStore::Expire(const std::string& id, double now) {
  if (!ValidId(id)) return Status::InvalidArgument("silence id: expected letters, digits and '-'");
  MutexLock lock(&mu_);
  auto it = silences_.find(id);
  if (it == silences_.end()) return Status::NotFound("no silence " + id);
  Silence& s = it->second.silence;
  if (s.ends_at > now) s.ends_at = std::max(now, s.starts_at);
  s.updated_at = now;
  if (Status st = Persist(s); !st.ok()) spdlog::error("silence {}: expiry not persisted: {}", id, st.message());
  return Status::OK();
}

std::vector<Silence> SilenceStore::List() const {
  MutexLock lock(&mu_);
  std::vector<Silence> out;
  for (const auto& [id, c] : silences_) out.push_back(c.silence);
  std::sort(out.begin(), out.end(), [](const Silence& a, const Silence& b) { return a.updated_at > b.updated_at; });
  return out;
}

std::vector<std::string> SilenceStore::Silencing(const Labels& labels, double now) const {
  MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [id, c] : silences_) {
    if (c.silence.State(now) != "active") continue;
    const bool all = c.matchers.Matches(labels);
    if (all) out.push_back(id);
  }
  return out;
}

std::string SilenceStore::fault() const {
  MutexLock lock(&mu_);
  return fault_;
}

}  // namespace vigil::alerts
