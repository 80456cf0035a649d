#include "alerts/outbox.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>

namespace vigil::alerts {

namespace {

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Stmt() { sqlite3_finalize(st_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return st_; }
  void Bind(int i, const std::string& s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, double v) { sqlite3_bind_double(st_, i, v); }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }
  int Step() { return sqlite3_step(st_); }

 private:
  sqlite3_stmt* st_ = nullptr;
  int rc_;
};

Status DbError(sqlite3* db, const std::string& what) {
  return Status::IOError("outbox: " + what + ": " + (db ? sqlite3_errmsg(db) : "no database"));
}

Notification Row(sqlite3_stmt* s) {
  Notification n;
  n.id = sqlite3_column_int64(s, 0);
  n.receiver = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
  n.idempotency_key = reinterpret_cast<const char*>(sqlite3_column_text(s, 2));
  n.payload = std::string(reinterpret_cast<const char*>(sqlite3_column_blob(s, 3)), sqlite3_column_bytes(s, 3));
  n.created_at = sqlite3_column_double(s, 4);
  n.attempts = sqlite3_column_int(s, 5);
  n.next_attempt_at = sqlite3_column_double(s, 6);
  const unsigned char* e = sqlite3_column_text(s, 7);
  n.last_error = e ? reinterpret_cast<const char*>(e) : "";
  n.dead = sqlite3_column_int(s, 8) != 0;
  return n;
}

constexpr const char* kColumns =
    "id, receiver, idempotency_key, payload, created_at, attempts, next_attempt_at, last_error, dead";

}  // namespace

double BackoffDelay(const RetryPolicy& p, int attempt, std::mt19937_64& rng) {
  const double ceiling = std::min(p.cap_s, p.base_s * std::pow(2.0, std::min(attempt, 30)));
  std::uniform_real_distribution<double> u(0.0, ceiling);
  return u(rng);
}

Status Outbox::Open(const std::string& path, RetryPolicy policy, std::unique_ptr<Outbox>* out, double busy_timeout_s) {
  std::unique_ptr<Outbox> o(new Outbox());
  o->policy_ = policy;
  MutexLock lock(&o->mu_);  // not shared yet; the analysis asks for it all the same
  if (sqlite3_open_v2(path.c_str(), &o->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return DbError(o->db_, "open " + path);
  }
  sqlite3_busy_timeout(o->db_, static_cast<int>(busy_timeout_s * 1000));
  // WAL with synchronous=NORMAL survives a killed process: a committed
  // notification is in the WAL before Enqueue returns.
  VIGIL_RETURN_IF_ERROR(o->Exec("PRAGMA journal_mode=WAL"));
  VIGIL_RETURN_IF_ERROR(o->Exec("PRAGMA synchronous=NORMAL"));
  VIGIL_RETURN_IF_ERROR(
      o->Exec("CREATE TABLE IF NOT EXISTS notifications ("
              " id INTEGER PRIMARY KEY AUTOINCREMENT,"
              " receiver TEXT NOT NULL,"
              " idempotency_key TEXT NOT NULL UNIQUE,"
              " payload BLOB NOT NULL,"
              " created_at REAL NOT NULL,"
              " attempts INTEGER NOT NULL DEFAULT 0,"
              " next_attempt_at REAL NOT NULL,"
              " last_error TEXT,"
              " dead INTEGER NOT NULL DEFAULT 0)"));
  VIGIL_RETURN_IF_ERROR(o->Exec("CREATE INDEX IF NOT EXISTS due ON notifications(dead, next_attempt_at)"));
  *out = std::move(o);
  return Status::OK();
}

Outbox::~Outbox() {
  if (db_) sqlite3_close(db_);
}

Status Outbox::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::IOError(std::string("outbox: ") + m);
  }
  return Status::OK();
}

Status Outbox::Enqueue(const std::string& receiver, const std::string& key, const std::string& payload, double now) {
  MutexLock lock(&mu_);
  Stmt s(db_,
         "INSERT OR IGNORE INTO notifications (receiver, idempotency_key, payload, created_at, next_attempt_at)"
         " VALUES (?, ?, ?, ?, ?)");
  if (!s.ok()) return DbError(db_, "prepare insert");
  s.Bind(1, receiver);
  s.Bind(2, key);
  sqlite3_bind_blob(s.get(), 3, payload.data(), static_cast<int>(payload.size()), SQLITE_TRANSIENT);
  s.Bind(4, now);
  s.Bind(5, now);
  if (s.Step() != SQLITE_DONE) return DbError(db_, "insert");
  return Status::OK();
}

Status Outbox::Due(double now, size_t limit, std::vector<Notification>* out, const std::string& receiver) {
  MutexLock lock(&mu_);
  out->clear();
  const std::string sql = std::string("SELECT ") + kColumns +
                          " FROM notifications WHERE dead = 0 AND next_attempt_at <= ? AND (? = '' OR receiver = ?)"
                          " ORDER BY next_attempt_at, id LIMIT ?";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return DbError(db_, "prepare due");
  s.Bind(1, now);
  s.Bind(2, receiver);
  s.Bind(3, receiver);
  s.Bind(4, static_cast<int64_t>(limit));
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out->push_back(Row(s.get()));
  if (rc != SQLITE_DONE) return DbError(db_, "select due");
  return Status::OK();
}

Status Outbox::MarkDelivered(int64_t id) {
  MutexLock lock(&mu_);
  Stmt s(db_, "DELETE FROM notifications WHERE id = ?");
  if (!s.ok()) return DbError(db_, "prepare delete");
  s.Bind(1, id);
  if (s.Step() != SQLITE_DONE) return DbError(db_, "delete");
  return Status::OK();
}

void ScheduleRetry(const RetryPolicy& p, double now, const std::string& error, bool permanent,
                   std::optional<double> retry_after_s, std::mt19937_64& rng, Notification* n) {
  n->attempts += 1;
  const double delay = retry_after_s ? std::max(0.0, *retry_after_s) : BackoffDelay(p, n->attempts - 1, rng);
  n->dead = permanent || now + delay - n->created_at > p.max_age_s;
  n->next_attempt_at = now + delay;
  n->last_error = error;
}

Status Outbox::MarkFailed(int64_t id, double now, const std::string& error, bool permanent,
                          std::optional<double> retry_after_s) {
  Notification n;
  {
    MutexLock lock(&mu_);
    const std::string sql = std::string("SELECT ") + kColumns + " FROM notifications WHERE id = ?";
    Stmt q(db_, sql.c_str());
    if (!q.ok()) return DbError(db_, "prepare lookup");
    q.Bind(1, id);
    if (q.Step() != SQLITE_ROW) return Status::NotFound("outbox: no notification " + std::to_string(id));
    n = Row(q.get());
    ScheduleRetry(policy_, now, error, permanent, retry_after_s, rng_, &n);
  }
  return Update(n);
}

Status Outbox::Update(const Notification& n) {
  MutexLock lock(&mu_);
  Stmt s(
      db_,
      "UPDATE notifications SET attempts = ?, next_attempt_at = ?, last_error = ?, dead = ? WHERE idempotency_key = ?");
  if (!s.ok()) return DbError(db_, "prepare update");
  s.Bind(1, static_cast<int64_t>(n.attempts));
  s.Bind(2, n.next_attempt_at);
  s.Bind(3, n.last_error);
  s.Bind(4, static_cast<int64_t>(n.dead ? 1 : 0));
  s.Bind(5, n.idempotency_key);
  if (s.Step() != SQLITE_DONE) return DbError(db_, "update");
  return Status::OK();
}

Status Outbox::Delete(const std::string& key) {
  MutexLock lock(&mu_);
  Stmt s(db_, "DELETE FROM notifications WHERE idempotency_key = ?");
  if (!s.ok()) return DbError(db_, "prepare delete");
  s.Bind(1, key);
  if (s.Step() != SQLITE_DONE) return DbError(db_, "delete");
  return Status::OK();
}

Status Outbox::PendingCount(const std::string& receiver, int64_t* n) {
  MutexLock lock(&mu_);
  Stmt s(db_, "SELECT COUNT(*) FROM notifications WHERE dead = 0 AND receiver = ?");
  if (!s.ok()) return DbError(db_, "prepare count");
  s.Bind(1, receiver);
  if (s.Step() != SQLITE_ROW) return DbError(db_, "count");
  *n = sqlite3_column_int64(s.get(), 0);
  return Status::OK();
}

Status Outbox::Dead(size_t limit, std::vector<Notification>* out) {
  MutexLock lock(&mu_);
  out->clear();
  const std::string sql =
      std::string("SELECT ") + kColumns + " FROM notifications WHERE dead = 1 ORDER BY id DESC LIMIT ?";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return DbError(db_, "prepare dead");
  s.Bind(1, static_cast<int64_t>(limit));
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out->push_back(Row(s.get()));
  if (rc != SQLITE_DONE) return DbError(db_, "select dead");
  return Status::OK();
}

Status Outbox::NextDue(double* when, bool* any, const std::string& receiver) {
  MutexLock lock(&mu_);
  Stmt s(db_, "SELECT MIN(next_attempt_at) FROM notifications WHERE dead = 0 AND (? = '' OR receiver = ?)");
  if (!s.ok()) return DbError(db_, "prepare next");
  s.Bind(1, receiver);
  s.Bind(2, receiver);
  if (s.Step() != SQLITE_ROW) return DbError(db_, "next");
  *any = sqlite3_column_type(s.get(), 0) != SQLITE_NULL;
  *when = *any ? sqlite3_column_double(s.get(), 0) : 0;
  return Status::OK();
}

}  // namespace vigil::alerts
