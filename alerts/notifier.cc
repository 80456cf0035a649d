#include "alerts/notifier.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace vigil::alerts {

Status Notifier::Create(NotifierConfig cfg, Clock* clock, std::unique_ptr<Notifier>* out) {
  std::unique_ptr<Notifier> n(new Notifier());
  for (const auto& r : cfg.delivery.receivers) n->types_[r.name] = r.type;
  if (!n->types_.count(cfg.dispatch.default_receiver))
    return Status::InvalidArgument("alerts.default_receiver: no receiver named \"" + cfg.dispatch.default_receiver +
                                   "\"");
  for (size_t i = 0; i < cfg.dispatch.routes.size(); ++i) {
    if (!n->types_.count(cfg.dispatch.routes[i].receiver))
      return Status::InvalidArgument("alerts.routes[" + std::to_string(i) + "].receiver: no receiver named \"" +
                                     cfg.dispatch.routes[i].receiver + "\"");
  }
  VIGIL_RETURN_IF_ERROR(Dispatcher::Create(cfg.dispatch, &n->dispatcher_));
  n->silences_ = std::make_unique<SilenceStore>(cfg.silences_path);
  n->deliverer_ = std::make_unique<Deliverer>(cfg.delivery, clock);
  n->cfg_ = std::move(cfg);
  n->clock_ = clock;
  *out = std::move(n);
  return Status::OK();
}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() {
  deliverer_->Start();
  if (thread_.joinable()) return;
  {
    MutexLock lock(&in_mu_);
    stop_ = false;
  }
  wakeup_ = std::make_unique<ClockWakeup>(clock_, &in_mu_, &cv_);
  thread_ = std::thread([this] { Loop(); });
}

void Notifier::Stop() {
  {
    MutexLock lock(&in_mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
  wakeup_.reset();
  if (deliverer_) deliverer_->Stop();
}

void Notifier::Observe(std::vector<Alert> firing) {
  {
    MutexLock lock(&in_mu_);
    observed_ = std::move(firing);
    observed_set_ = true;
    wake_ = true;
  }
  cv_.Signal();
}

void Notifier::Loop() {
  // Steps every tick_s, at once on a new observation, and at once when a
  // ManualClock jumps (group timers run on its time), so tests move the
  // timers by moving the clock, with no real-time wait.
  uint64_t jumps = clock_->Jumps();
  while (true) {
    {
      MutexLock lock(&in_mu_);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(cfg_.tick_s);
      while (!stop_ && !wake_ && clock_->Jumps() == jumps && cv_.WaitUntil(&in_mu_, deadline)) {}
      if (stop_) return;
      wake_ = false;
      jumps = clock_->Jumps();
    }
    Step(clock_->UnixNow());
  }
}

std::vector<std::string> Notifier::RoutedReceivers(const Labels& labels, bool alertmanager) const {
  std::vector<std::string> out;
  for (const std::string& r : dispatcher_->Receivers(labels)) {
    auto it = types_.find(r);
    if (it != types_.end() && (it->second == ReceiverType::kAlertmanager) == alertmanager) out.push_back(r);
  }
  return out;
}

std::vector<std::string> Notifier::SilencedBy(const Labels& labels, double now) const {
  return silences_->Silencing(labels, now);
}

void Notifier::Queue(const std::string& receiver, const std::string& body) {
  if (Status st = deliverer_->Submit(receiver, body); !st.ok()) {
    spdlog::error("alerts: {}", st.message());
    return;
  }
  ++queued_;
}

void Notifier::Step(double now) {
  MutexLock step(&step_mu_);
  std::vector<Alert> firing;
  bool have = false;
  {
    MutexLock lock(&in_mu_);
    if (observed_set_) {
      firing = observed_;
      have = true;
    }
  }
  // The rules decided inhibition with the firing set; an alert that vanishes
  // resolves unmuted, so whoever heard it firing hears it resolve.
  std::set<std::string> inhibited;
  for (const Alert& a : firing)
    if (!a.inhibited_by.empty()) inhibited.insert(Fingerprint(a.labels));
  auto muted = [this, now, &inhibited](const Labels& l) {
    return inhibited.count(Fingerprint(l)) > 0 || !silences_->Silencing(l, now).empty();
  };
  RenderContext ctx{cfg_.external_url, now, 4 * cfg_.resend_delay_s};
  // Alertmanager receivers get each change at once: Alertmanager groups.
  std::map<std::string, std::vector<Alert>> to_am;
  if (have) {
    std::map<std::string, Alert> next;
    for (Alert& a : firing) {
      a.ends_at = 0;
      const std::string fp = Fingerprint(a.labels);
      auto old = active_.find(fp);
      if (old != active_.end()) a.starts_at = old->second.starts_at;
      else if (a.starts_at <= 0) a.starts_at = now;
      dispatcher_->Ingest(a, now, RoutedReceivers(a.labels, false));
      // Sent at once when new, or when it stops being muted (its root cause
      // resolved, its silence ended) and this receiver has not heard it yet.
      if (!muted(a.labels)) {
        for (const auto& r : RoutedReceivers(a.labels, true)) {
          if (old != active_.end() && am_sent_[r].count(fp)) continue;
          to_am[r].push_back(a);
          am_sent_[r].insert(fp);
        }
      }
      next[fp] = a;
    }
    for (auto& [fp, a] : active_) {
      if (next.count(fp)) continue;
      a.ends_at = now;
      dispatcher_->Ingest(a, now, RoutedReceivers(a.labels, false));
      for (auto& [r, sent] : am_sent_) {
        if (sent.erase(fp)) to_am[r].push_back(a);
      }
    }
    active_ = std::move(next);
  }
  for (const GroupNotification& n : dispatcher_->Tick(now, muted)) {
    const ReceiverConfig* rc = deliverer_->receiver(n.receiver);
    if (rc) Queue(n.receiver, Render(*rc, n, ctx));
  }
  // Re-send what is firing so Alertmanager's endsAt stays ahead.
  if (now - last_resend_ >= cfg_.resend_delay_s) {
    last_resend_ = now;
    for (const auto& [fp, a] : active_) {
      if (muted(a.labels)) continue;
      for (const auto& r : RoutedReceivers(a.labels, true)) {
        auto& list = to_am[r];
        bool dup = false;
        for (const auto& x : list) dup |= Fingerprint(x.labels) == fp;
        if (!dup) list.push_back(a);
        am_sent_[r].insert(fp);
      }
    }
  }
  for (const auto& [r, alerts] : to_am) {
    if (!alerts.empty()) Queue(r, RenderAlertmanager(alerts, ctx));
  }
  ++steps_;
}

std::string Notifier::fault() const {
  std::string f = deliverer_->fault();
  const std::string s = silences_->fault();
  if (!s.empty()) f += (f.empty() ? "" : "; ") + s;
  return f;
}

uint64_t Notifier::notifications_queued() const { return queued_; }

}  // namespace vigil::alerts
