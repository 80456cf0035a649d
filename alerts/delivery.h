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
//
// One writer thread owns the outbox and applies the disk work in the order
// it was decided; the receiver threads only append to that log under mu_,
// so a slow disk delays no delivery, only Submit (which waits until its own
// row is written, unless the disk is faulted) and Stop (which flushes).
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "alerts/outbox.h"
#include "alerts/receivers.h"
#include "common/clock.h"
#include "common/mutex.h"

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
  double reopen_interval_s = 10;  // retry an unopenable or failing outbox this often
  double busy_timeout_s = 5;      // a write waits this long for a locked database
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
  Status Submit(const std::string& receiver, const std::string& payload) EXCLUDES(mu_);
  void Start() EXCLUDES(mu_);
  // Stops the delivery threads after writing what the disk takes; pending
  // notifications stay in the outbox. The writer runs until destruction.
  void Stop() EXCLUDES(mu_);
  // Waits until nothing is pending and the disk has every change (tests,
  // benchmarks); false after `timeout_s` of real time (retries are still
  // scheduled on the clock).
  bool Drain(double timeout_s);

  const ReceiverConfig* receiver(const std::string& name) const;
  std::map<std::string, ReceiverStats> Stats() const;
  // Most recent first; survives restarts through the outbox.
  std::vector<Notification> Dead(size_t limit) const;
  std::vector<Notification> Pending(const std::string& receiver) const;
  // Why the outbox cannot be written now; empty when it can.
  std::string fault() const;

 private:
  // A receiver's queue. The map of them is fixed after construction; items
  // and stats are under mu_ (which GUARDED_BY cannot name from here).
  struct Queue {
    ReceiverConfig cfg;
    std::deque<Notification> items;  // oldest first
    ReceiverStats stats;
  };
  // Disk work for the writer thread. kUpdate carries no payload (the row
  // has it), so a long disk fault queues little.
  struct DiskOp {
    enum Kind { kEnqueue, kUpdate, kDelete } kind;
    Notification n;
    uint64_t seq = 0;
  };
  void Loop(Queue* q) EXCLUDES(mu_);
  void WriterLoop() EXCLUDES(mu_);
  // Applies `work` in order outside mu_; returns how many were applied and
  // the error that stopped it.
  size_t ApplyOps(const std::deque<DiskOp>& work, Status* error) EXCLUDES(mu_);
  uint64_t PushOp(DiskOp::Kind kind, const Notification& n) REQUIRES(mu_);
  void SetFault(const std::string& fault) REQUIRES(mu_);
  void RecordLatency(Queue* q, double seconds) REQUIRES(mu_);

  DeliveryConfig cfg_;
  Clock* clock_;
  const bool durable_;              // an outbox path is configured
  std::unique_ptr<Outbox> outbox_;  // the writer thread's alone once it runs; null while unopenable
  mutable Mutex mu_;
  CondVar cv_;                              // receivers: new items, stop
  CondVar disk_cv_;                         // writer: new ops, stop; Submit/Stop: ops applied
  ClockWakeup wakeup_{clock_, &mu_, &cv_};  // after mu_ and cv_: gone before them
  ClockWakeup disk_wakeup_{clock_, &mu_, &disk_cv_};
  std::map<std::string, Queue> queues_ GUARDED_BY(mu_);
  std::deque<Notification> dead_ GUARDED_BY(mu_);  // newest first, bounded
  std::deque<DiskOp> ops_ GUARDED_BY(mu_);         // decided, not yet handed to the writer
  uint64_t next_op_seq_ GUARDED_BY(mu_) = 0;
  uint64_t applied_seq_ GUARDED_BY(mu_) = 0;    // every op up to this one is on disk
  bool writing_ GUARDED_BY(mu_) = false;        // the writer holds a batch outside mu_
  double next_disk_retry_ GUARDED_BY(mu_) = 0;  // after a fault, the writer waits for this (clock's Unix time)
  std::string fault_ GUARDED_BY(mu_);
  std::vector<std::thread> threads_ GUARDED_BY(mu_);
  std::thread writer_;  // started by the constructor, joined by the destructor
  bool stop_ GUARDED_BY(mu_) = false;
  bool stop_writer_ GUARDED_BY(mu_) = false;
  uint64_t seq_ GUARDED_BY(mu_) = 0;
  std::mt19937_64 rng_ GUARDED_BY(mu_);
};

}  // namespace vigil::alerts
