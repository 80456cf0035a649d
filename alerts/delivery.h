// Delivery: one thread per receiver, so a slow or hung receiver delays only
// itself, never the sampler, the rules or another receiver.
//
// The queue lives in memory and the SQLite outbox is its durable log: a
// notification is written before its first attempt, updated after each
// failure and deleted after a 2xx; at start the log's pending rows are
// delivered. When the disk refuses a write (full, read-only, missing), the
// notification stays queued in memory, is still delivered, is written once
// the disk takes it again, and the fault is reported: nothing accepted is
// lost while vigild runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "alerts/outbox.h"
#include "alerts/receivers.h"
#include "common/clock.h"

namespace vigil::alerts {

struct ReceiverStats {
  uint64_t accepted = 0;   // taken into the queue
  uint64_t delivered = 0;  // 2xx
  uint64_t failed = 0;     // failed attempts (retried or dead-lettered)
  uint64_t dead = 0;       // dead-lettered
  int64_t pending = 0;     // queued now
  // Attempt latency (as Alertmanager's notification_latency_seconds).
  std::vector<uint64_t> latency_buckets;  // cumulative counts per kLatencyBounds
  double latency_sum = 0;
  uint64_t latency_count = 0;
};
extern const std::vector<double> kLatencyBounds;

struct DeliveryConfig {
  std::vector<ReceiverConfig> receivers;
  std::string outbox_path;  // empty: memory only
  RetryPolicy retry;
  double alertmanager_ttl_s = 240;
  double reopen_interval_s = 10;  // retry an unopenable outbox this often
};

class Deliverer {
 public:
  // `clock` (not owned; outlives the deliverer): Unix time stamps the
  // notifications and schedules their retries (both kept in the outbox, so
  // they survive restarts). A ManualClock's jumps wake the delivery threads.
  explicit Deliverer(DeliveryConfig cfg, Clock* clock = DefaultClock());
  ~Deliverer();

  // Queues a rendered body for a receiver, durable before it returns when
  // the disk allows. InvalidArgument for an unknown receiver.
  Status Submit(const std::string& receiver, const std::string& payload);
  void Start();
  // Stops the threads; pending notifications stay in the outbox.
  void Stop();
  // Waits until nothing is pending (tests, benchmarks); false after
  // `timeout_s` of real time (retries are still scheduled on the clock).
  bool Drain(double timeout_s);

  const ReceiverConfig* receiver(const std::string& name) const;
  std::map<std::string, ReceiverStats> Stats() const;
  // Most recent first; survives restarts through the outbox.
  std::vector<Notification> Dead(size_t limit) const;
  std::vector<Notification> Pending(const std::string& receiver) const;
  // Why the outbox cannot be written now; empty when it can.
  std::string fault() const;

 private:
  struct Item {
    Notification n;
    bool persisted = false;  // written to the outbox
  };
  struct Queue {
    ReceiverConfig cfg;
    std::deque<Item> items;  // oldest first
    ReceiverStats stats;
  };
  void Loop(Queue* q);
  void TryPersist();  // writes unpersisted items and retries failed deletes (mu_ held)
  void SetFault(const Status& st);
  void RecordLatency(Queue* q, double seconds);

  DeliveryConfig cfg_;
  Clock* clock_;
  std::unique_ptr<Outbox> outbox_;  // null while the disk refuses it
  double next_reopen_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  ClockWakeup wakeup_{clock_, &mu_, &cv_};  // after mu_ and cv_: gone before them
  std::map<std::string, Queue> queues_;
  std::deque<Notification> dead_;            // newest first, bounded
  std::vector<std::string> undeleted_;       // delivered, but the delete failed
  std::string fault_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
  uint64_t seq_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace vigil::alerts
