#include "alerts/delivery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>

namespace vigil::alerts {

const std::vector<double> kLatencyBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

namespace {
constexpr size_t kMaxDeadKept = 1000;
constexpr size_t kBatch = 16;
}  // namespace

Deliverer::Deliverer(DeliveryConfig cfg, Clock* clock)
    : cfg_(std::move(cfg)), clock_(clock), durable_(!cfg_.outbox_path.empty()) {
  rng_.seed(std::random_device{}());
  for (const auto& r : cfg_.receivers) {
    Queue& q = queues_[r.name];
    q.cfg = r;
    q.stats.latency_buckets.assign(kLatencyBounds.size(), 0);
  }
  if (durable_) {
    Status st = Outbox::Open(cfg_.outbox_path, cfg_.retry, &outbox_, cfg_.busy_timeout_s);
    if (!st.ok()) {
      SetFault(st.message());
      next_disk_retry_ = clock_->UnixNow() + cfg_.reopen_interval_s;
    }
  }
  if (outbox_) {
    // What a previous run accepted and did not deliver goes out first.
    std::vector<Notification> rows;
    if (outbox_->Due(std::numeric_limits<double>::max(), 1000000, &rows).ok()) {
      std::sort(rows.begin(), rows.end(), [](const Notification& a, const Notification& b) { return a.id < b.id; });
      std::map<std::string, int> orphans;
      for (auto& n : rows) {
        auto it = queues_.find(n.receiver);
        if (it == queues_.end()) {
          ++orphans[n.receiver];
          continue;
        }
        it->second.items.push_back(n);
        ++it->second.stats.accepted;
      }
      size_t loaded = rows.size();
      for (const auto& [name, count] : orphans) {
        loaded -= static_cast<size_t>(count);
        spdlog::warn("outbox: {} notification(s) for receiver \"{}\", which is no longer configured, stay in {}", count,
                     name, cfg_.outbox_path);
      }
      if (loaded) spdlog::info("outbox: {} pending notification(s) from before the restart", loaded);
    }
    std::vector<Notification> dead;
    if (outbox_->Dead(kMaxDeadKept, &dead).ok()) dead_.assign(dead.begin(), dead.end());
  }
  if (durable_) writer_ = std::thread([this] { WriterLoop(); });
}

Deliverer::~Deliverer() {
  Stop();
  {
    MutexLock lock(&mu_);
    stop_writer_ = true;
  }
  disk_cv_.SignalAll();
  if (writer_.joinable()) writer_.join();
}

void Deliverer::SetFault(const std::string& f) {
  if (f != fault_) spdlog::error("outbox fault: {}; notifications are kept in memory until it clears", f);
  fault_ = f;
}

uint64_t Deliverer::PushOp(DiskOp::Kind kind, const Notification& n) {
  if (!durable_) return 0;
  DiskOp op{kind, {}, ++next_op_seq_};
  op.n.receiver = n.receiver;
  op.n.idempotency_key = n.idempotency_key;
  op.n.created_at = n.created_at;
  if (kind == DiskOp::kEnqueue) op.n.payload = n.payload;
  if (kind == DiskOp::kUpdate) {
    op.n.attempts = n.attempts;
    op.n.next_attempt_at = n.next_attempt_at;
    op.n.last_error = n.last_error;
    op.n.dead = n.dead;
  }
  ops_.push_back(std::move(op));
  disk_cv_.SignalAll();
  return next_op_seq_;
}

size_t Deliverer::ApplyOps(const std::deque<DiskOp>& work, Status* error) {
  if (!outbox_) {
    *error = Outbox::Open(cfg_.outbox_path, cfg_.retry, &outbox_, cfg_.busy_timeout_s);
    if (!error->ok()) return 0;
  }
  size_t done = 0;
  for (const DiskOp& op : work) {
    Status st;
    switch (op.kind) {
      case DiskOp::kEnqueue:  // a repeated key is a no-op, so a replay is harmless
        st = outbox_->Enqueue(op.n.receiver, op.n.idempotency_key, op.n.payload, op.n.created_at);
        break;
      case DiskOp::kUpdate: st = outbox_->Update(op.n); break;
      case DiskOp::kDelete: st = outbox_->Delete(op.n.idempotency_key); break;
    }
    if (!st.ok()) {
      *error = st;
      return done;
    }
    ++done;
  }
  *error = Status::OK();
  return done;
}

void Deliverer::WriterLoop() {
  MutexLock lock(&mu_);
  while (true) {
    const double now = clock_->UnixNow();
    const bool faulted = !fault_.empty();
    if (stop_writer_ && (ops_.empty() || (faulted && now < next_disk_retry_))) return;
    if (ops_.empty() || (faulted && now < next_disk_retry_)) {
      const double wait = ops_.empty() ? 1.0 : std::clamp(next_disk_retry_ - now, 0.002, 1.0);
      disk_cv_.WaitFor(&mu_, std::chrono::duration<double>(wait));
      continue;
    }
    std::deque<DiskOp> work;
    work.swap(ops_);
    writing_ = true;
    lock.Unlock();
    Status st;
    const size_t done = ApplyOps(work, &st);
    lock.Lock();
    writing_ = false;
    if (done > 0) applied_seq_ = work[done - 1].seq;
    if (!st.ok()) {
      // Keep the rest, in order, ahead of what came meanwhile.
      ops_.insert(ops_.begin(), work.begin() + static_cast<long>(done), work.end());
      SetFault(st.message());
      next_disk_retry_ = clock_->UnixNow() + cfg_.reopen_interval_s;
    } else if (faulted && ops_.empty()) {
      spdlog::info("outbox: writable again; every queued notification is on disk");
      fault_.clear();
    }
    disk_cv_.SignalAll();
  }
}

Status Deliverer::Submit(const std::string& receiver, const std::string& payload) {
  MutexLock lock(&mu_);
  auto qit = queues_.find(receiver);
  if (qit == queues_.end()) return Status::InvalidArgument("no receiver named \"" + receiver + "\"");
  Notification n;
  n.receiver = receiver;
  n.payload = payload;
  n.created_at = clock_->UnixNow();
  n.next_attempt_at = n.created_at;
  // Unique per notification and stable across retries and restarts.
  char key[96];
  std::snprintf(key, sizeof key, "%s-%013lld-%06llu-%08llx", receiver.c_str(),
                static_cast<long long>(n.created_at * 1000), static_cast<unsigned long long>(++seq_ % 1000000),
                static_cast<unsigned long long>(rng_() & 0xffffffffULL));
  n.idempotency_key = key;
  const uint64_t op = PushOp(DiskOp::kEnqueue, n);
  qit->second.items.push_back(std::move(n));
  ++qit->second.stats.accepted;
  cv_.SignalAll();
  // Durable before it returns, when the disk allows; with the disk faulted
  // it stays in memory and is written when the fault clears.
  while (durable_ && fault_.empty() && applied_seq_ < op && !stop_writer_) disk_cv_.Wait(&mu_);
  return Status::OK();
}

void Deliverer::Start() {
  MutexLock lock(&mu_);
  if (!threads_.empty()) return;
  stop_ = false;
  for (auto& [name, q] : queues_) threads_.emplace_back([this, qp = &q] { Loop(qp); });
}

void Deliverer::Stop() {
  std::vector<std::thread> threads;
  {
    MutexLock lock(&mu_);
    stop_ = true;
    threads.swap(threads_);
  }
  cv_.SignalAll();
  for (auto& t : threads) t.join();
  // Flush: what the disk takes is written before Stop returns.
  MutexLock lock(&mu_);
  while (durable_ && fault_.empty() && (!ops_.empty() || writing_) && !stop_writer_) disk_cv_.Wait(&mu_);
}

bool Deliverer::Drain(double timeout_s) {
  // A bound on real waiting for real threads and sockets, whatever the clock.
  const double end = RealClock::Steady() + timeout_s;
  while (RealClock::Steady() < end) {
    {
      MutexLock lock(&mu_);
      bool empty = ops_.empty() && !writing_;
      for (const auto& [name, q] : queues_) empty &= q.items.empty();
      if (empty) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

void Deliverer::RecordLatency(Queue* q, double s) {
  for (size_t i = 0; i < kLatencyBounds.size(); ++i)
    if (s <= kLatencyBounds[i]) ++q->stats.latency_buckets[i];
  q->stats.latency_sum += s;
  ++q->stats.latency_count;
}

void Deliverer::Loop(Queue* q) {
  // Alertmanager gets notifications in order, so a late retry never
  // overtakes the resolve that followed it.
  const bool fifo = q->cfg.type == ReceiverType::kAlertmanager;
  while (true) {
    std::vector<Notification> batch;
    {
      MutexLock lock(&mu_);
      if (stop_) return;
      const double now = clock_->UnixNow();
      for (const Notification& n : q->items) {
        if (batch.size() >= (fifo ? 1 : kBatch)) break;
        if (n.next_attempt_at <= now) batch.push_back(n);
        else if (fifo) break;
      }
      if (batch.empty()) {
        double next = now + 1.0;
        for (const Notification& n : q->items) next = std::min(next, n.next_attempt_at);
        cv_.WaitFor(&mu_, std::chrono::duration<double>(std::clamp(next - now, 0.002, 1.0)));
        continue;
      }
    }
    for (const Notification& n : batch) {
      // The attempt's latency is what the real request cost (the clock may be
      // a test's, held still).
      const double t0 = RealClock::Steady();
      DeliveryOutcome o = Send(q->cfg, n, clock_->UnixNow(), cfg_.alertmanager_ttl_s);
      const double secs = RealClock::Steady() - t0;
      MutexLock lock(&mu_);
      RecordLatency(q, secs);
      auto it = std::find_if(q->items.begin(), q->items.end(),
                             [&](const Notification& x) { return x.idempotency_key == n.idempotency_key; });
      if (it == q->items.end()) continue;
      if (o.ok) {
        ++q->stats.delivered;
        PushOp(DiskOp::kDelete, *it);
        q->items.erase(it);
        continue;
      }
      ++q->stats.failed;
      ScheduleRetry(cfg_.retry, clock_->UnixNow(), o.error, o.permanent, o.retry_after_s, rng_, &*it);
      PushOp(DiskOp::kUpdate, *it);
      const int attempts = it->attempts;
      const bool dead = it->dead;
      if (dead) {
        ++q->stats.dead;
        dead_.push_front(*it);
        if (dead_.size() > kMaxDeadKept) dead_.pop_back();
        q->items.erase(it);
      }
      lock.Unlock();
      spdlog::warn("delivery to {} failed (attempt {}): {}{}", q->cfg.name, attempts, o.error,
                   dead ? "; dead-lettered" : "; will retry");
      if (fifo) break;
    }
  }
}

const ReceiverConfig* Deliverer::receiver(const std::string& name) const {
  MutexLock lock(&mu_);  // the map does not change, and cfg never: the pointer stays good
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : &it->second.cfg;
}

std::map<std::string, ReceiverStats> Deliverer::Stats() const {
  MutexLock lock(&mu_);
  std::map<std::string, ReceiverStats> out;
  for (const auto& [name, q] : queues_) {
    ReceiverStats s = q.stats;
    s.pending = static_cast<int64_t>(q.items.size());
    out[name] = s;
  }
  return out;
}

std::vector<Notification> Deliverer::Dead(size_t limit) const {
  MutexLock lock(&mu_);
  std::vector<Notification> out(dead_.begin(), dead_.begin() + static_cast<long>(std::min(limit, dead_.size())));
  return out;
}

std::vector<Notification> Deliverer::Pending(const std::string& receiver) const {
  MutexLock lock(&mu_);
  std::vector<Notification> out;
  for (const auto& [name, q] : queues_) {
    if (!receiver.empty() && name != receiver) continue;
    for (const Notification& n : q.items) out.push_back(n);
  }
  return out;
}

std::string Deliverer::fault() const {
  MutexLock lock(&mu_);
  return fault_;
}

}  // namespace vigil::alerts
