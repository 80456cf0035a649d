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

Deliverer::Deliverer(DeliveryConfig cfg, Clock* clock) : cfg_(std::move(cfg)), clock_(clock) {
  rng_.seed(std::random_device{}());
  for (const auto& r : cfg_.receivers) {
    Queue& q = queues_[r.name];
    q.cfg = r;
    q.stats.latency_buckets.assign(kLatencyBounds.size(), 0);
  }
  if (cfg_.outbox_path.empty()) return;
  Status st = Outbox::Open(cfg_.outbox_path, cfg_.retry, &outbox_);
  if (!st.ok()) {
    SetFault(st);
    next_reopen_ = clock_->UnixNow() + cfg_.reopen_interval_s;
    return;
  }
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
      it->second.items.push_back({n, true});
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

Deliverer::~Deliverer() { Stop(); }

void Deliverer::SetFault(const Status& st) {
  const std::string f = st.message();
  if (f != fault_) spdlog::error("outbox fault: {}; notifications are kept in memory until it clears", f);
  fault_ = f;
}

void Deliverer::TryPersist() {
  if (!outbox_ && !cfg_.outbox_path.empty()) {
    if (clock_->UnixNow() < next_reopen_) return;
    Status st = Outbox::Open(cfg_.outbox_path, cfg_.retry, &outbox_);
    if (!st.ok()) {
      SetFault(st);
      next_reopen_ = clock_->UnixNow() + cfg_.reopen_interval_s;
      return;
    }
  }
  if (!outbox_) return;
  for (auto& [name, q] : queues_) {
    for (Item& it : q.items) {
      if (it.persisted) continue;
      Status st = outbox_->Enqueue(name, it.n.idempotency_key, it.n.payload, it.n.created_at);
      if (st.ok() && it.n.attempts > 0) st = outbox_->Update(it.n);
      if (!st.ok()) return SetFault(st);
      it.persisted = true;
    }
  }
  while (!undeleted_.empty()) {
    Status st = outbox_->Delete(undeleted_.back());
    if (!st.ok()) return SetFault(st);
    undeleted_.pop_back();
  }
  if (!fault_.empty()) spdlog::info("outbox: writable again; every queued notification is on disk");
  fault_.clear();
}

Status Deliverer::Submit(const std::string& receiver, const std::string& payload) {
  std::lock_guard<std::mutex> lock(mu_);
  auto qit = queues_.find(receiver);
  if (qit == queues_.end()) return Status::InvalidArgument("no receiver named \"" + receiver + "\"");
  Item it;
  it.n.receiver = receiver;
  it.n.payload = payload;
  it.n.created_at = clock_->UnixNow();
  it.n.next_attempt_at = it.n.created_at;
  // Unique per notification and stable across retries and restarts.
  char key[96];
  std::snprintf(key, sizeof key, "%s-%013lld-%06llu-%08llx", receiver.c_str(),
                static_cast<long long>(it.n.created_at * 1000), static_cast<unsigned long long>(++seq_ % 1000000),
                static_cast<unsigned long long>(rng_() & 0xffffffffULL));
  it.n.idempotency_key = key;
  if (outbox_ && fault_.empty()) {
    Status st = outbox_->Enqueue(receiver, it.n.idempotency_key, payload, it.n.created_at);
    if (st.ok()) it.persisted = true;
    else SetFault(st);
  }
  qit->second.items.push_back(std::move(it));
  ++qit->second.stats.accepted;
  cv_.notify_all();
  return Status::OK();
}

void Deliverer::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!threads_.empty()) return;
  stop_ = false;
  for (auto& [name, q] : queues_) threads_.emplace_back([this, qp = &q] { Loop(qp); });
}

void Deliverer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

bool Deliverer::Drain(double timeout_s) {
  // A bound on real waiting for real threads and sockets, whatever the clock.
  const double end = RealClock::Steady() + timeout_s;
  while (RealClock::Steady() < end) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      bool empty = true;
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
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) return;
      if (!fault_.empty() || !outbox_ || !undeleted_.empty()) TryPersist();
      const double now = clock_->UnixNow();
      for (const Item& it : q->items) {
        if (batch.size() >= (fifo ? 1 : kBatch)) break;
        if (it.n.next_attempt_at <= now) batch.push_back(it.n);
        else if (fifo) break;
      }
      if (batch.empty()) {
        double next = now + 1.0;
        for (const Item& it : q->items) next = std::min(next, it.n.next_attempt_at);
        if (!fault_.empty()) next = std::min(next, now + 0.5);
        cv_.wait_for(lock, std::chrono::duration<double>(std::clamp(next - now, 0.002, 1.0)));
        continue;
      }
    }
    for (const Notification& n : batch) {
      // The attempt's latency is what the real request cost (the clock may be
      // a test's, held still).
      const double t0 = RealClock::Steady();
      DeliveryOutcome o = Send(q->cfg, n, clock_->UnixNow(), cfg_.alertmanager_ttl_s);
      const double secs = RealClock::Steady() - t0;
      std::lock_guard<std::mutex> lock(mu_);
      RecordLatency(q, secs);
      auto it = std::find_if(q->items.begin(), q->items.end(),
                             [&](const Item& x) { return x.n.idempotency_key == n.idempotency_key; });
      if (it == q->items.end()) continue;
      if (o.ok) {
        ++q->stats.delivered;
        if (it->persisted) {
          Status st = outbox_ ? outbox_->Delete(n.idempotency_key) : Status::IOError("outbox closed");
          if (!st.ok()) {
            undeleted_.push_back(n.idempotency_key);
            SetFault(st);
          }
        }
        q->items.erase(it);
        continue;
      }
      ++q->stats.failed;
      ScheduleRetry(cfg_.retry, clock_->UnixNow(), o.error, o.permanent, o.retry_after_s, rng_, &it->n);
      spdlog::warn("delivery to {} failed (attempt {}): {}{}", q->cfg.name, it->n.attempts, o.error,
                   it->n.dead ? "; dead-lettered" : "; will retry");
      if (it->persisted && outbox_) {
        if (Status st = outbox_->Update(it->n); !st.ok()) SetFault(st);
      } else if (it->n.dead && outbox_) {
        // Keep the dead letter durable even if it never reached the disk.
        Status st = outbox_->Enqueue(q->cfg.name, it->n.idempotency_key, it->n.payload, it->n.created_at);
        if (st.ok()) st = outbox_->Update(it->n);
        if (!st.ok()) SetFault(st);
      }
      if (it->n.dead) {
        ++q->stats.dead;
        dead_.push_front(it->n);
        if (dead_.size() > kMaxDeadKept) dead_.pop_back();
        q->items.erase(it);
      }
      if (fifo) break;
    }
  }
}

const ReceiverConfig* Deliverer::receiver(const std::string& name) const {
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : &it->second.cfg;
}

std::map<std::string, ReceiverStats> Deliverer::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, ReceiverStats> out;
  for (const auto& [name, q] : queues_) {
    ReceiverStats s = q.stats;
    s.pending = static_cast<int64_t>(q.items.size());
    out[name] = s;
  }
  return out;
}

std::vector<Notification> Deliverer::Dead(size_t limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Notification> out(dead_.begin(), dead_.begin() + static_cast<long>(std::min(limit, dead_.size())));
  return out;
}

std::vector<Notification> Deliverer::Pending(const std::string& receiver) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Notification> out;
  for (const auto& [name, q] : queues_) {
    if (!receiver.empty() && name != receiver) continue;
    for (const Item& it : q.items) out.push_back(it.n);
  }
  return out;
}

std::string Deliverer::fault() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fault_;
}

}  // namespace vigil::alerts
