// The durable outbox: every notification is written to SQLite (WAL) before
// its first delivery attempt and removed only after a 2xx, so a receiver
// that is down, slow or failing, or a daemon killed mid-delivery, loses
// nothing. Retries back off exponentially with full jitter until max_age,
// then the notification is dead-lettered (kept and listed, not retried).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

struct sqlite3;

namespace vigil::alerts {

struct Notification {
  int64_t id = 0;
  std::string receiver;
  std::string idempotency_key;  // unique per notification; receivers drop repeats
  std::string payload;          // the exact body to send
  double created_at = 0;        // unix seconds
  int attempts = 0;
  double next_attempt_at = 0;
  std::string last_error;
  bool dead = false;
};

struct RetryPolicy {
  double base_s = 1;
  double cap_s = 300;
  double max_age_s = 86400;
};

class Outbox {
 public:
  // A write waits up to `busy_timeout_s` for a database another connection
  // has locked, then fails (and the Deliverer retries it later).
  static Status Open(const std::string& path, RetryPolicy policy, std::unique_ptr<Outbox>* out,
                     double busy_timeout_s = 5);
  ~Outbox();

  // Durable before it returns. A repeated idempotency key is a no-op.
  Status Enqueue(const std::string& receiver, const std::string& idempotency_key, const std::string& payload,
                 double now);
  // Pending notifications due at `now`, oldest first; one receiver's when
  // `receiver` is not empty.
  Status Due(double now, size_t limit, std::vector<Notification>* out, const std::string& receiver = "");
  Status MarkDelivered(int64_t id);
  // A failed attempt: schedules the retry (honouring retry_after_s when
  // given, e.g. 429's Retry-After), or dead-letters when `permanent` (a 4xx
  // other than 408/429) or past max_age.
  Status MarkFailed(int64_t id, double now, const std::string& error, bool permanent,
                    std::optional<double> retry_after_s = std::nullopt);

  // By idempotency key, for callers that keep their own queue in memory
  // and use the outbox as the durable log (the Deliverer).
  Status Delete(const std::string& key);
  Status Update(const Notification& n);

  Status PendingCount(const std::string& receiver, int64_t* n);
  Status Dead(size_t limit, std::vector<Notification>* out);
  // The next time anything is due (for the delivery thread's sleep).
  Status NextDue(double* when, bool* any, const std::string& receiver = "");

 private:
  Outbox() = default;
  Status Exec(const char* sql) REQUIRES(mu_);
  RetryPolicy policy_;  // set by Open
  Mutex mu_;            // one statement at a time on the connection
  sqlite3* db_ GUARDED_BY(mu_) = nullptr;
  std::mt19937_64 rng_ GUARDED_BY(mu_){0x5eed};
};

// Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)].
double BackoffDelay(const RetryPolicy& p, int attempt, std::mt19937_64& rng);
// After a failed attempt: bumps attempts and sets next_attempt_at (honouring
// retry_after_s), or dead-letters when `permanent` or past max_age.
void ScheduleRetry(const RetryPolicy& p, double now, const std::string& error, bool permanent,
                   std::optional<double> retry_after_s, std::mt19937_64& rng, Notification* n);

}  // namespace vigil::alerts
