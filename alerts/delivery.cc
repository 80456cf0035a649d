#include "alerts/delivery.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace vigil::alerts {

Deliverer::Deliverer(std::vector<ReceiverConfig> receivers, Outbox* outbox, std::string external_url, Clock clock)
    : receivers_(std::move(receivers)), outbox_(outbox), external_url_(std::move(external_url)), clock_(std::move(clock)) {}

Deliverer::~Deliverer() { Stop(); }

Status Deliverer::Submit(const GroupNotification& n) {
  const auto payload = WebhookPayload(n, external_url_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Unique per notification, stable across retries: receivers drop repeats.
  const std::string key = n.receiver + ":" + Fingerprint({{"group", n.group_key}, {"payload", payload}}) + ":" +
                          std::to_string(seq_.fetch_add(1)) + ":" + std::to_string(static_cast<int64_t>(clock_() * 1000));
  VIGIL_RETURN_IF_ERROR(outbox_->Enqueue(n.receiver, key, payload, clock_()));
  cv_.notify_all();
  return Status::OK();
}

void Deliverer::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!threads_.empty()) return;
  stop_ = false;
  for (const auto& r : receivers_) threads_.emplace_back([this, &r] { Loop(r); });
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

DeliveryOutcome Deliverer::Send(const ReceiverConfig& r, const Notification& n) const {
  DeliveryOutcome out;
  if (r.type == "log") {
    spdlog::warn("alert to {}: {}", r.name, n.payload);
    out.ok = true;
    return out;
  }
  // webhook
  const size_t scheme_end = r.url.find("://");
  const size_t path_at = r.url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  const std::string base = path_at == std::string::npos ? r.url : r.url.substr(0, path_at);
  const std::string path = path_at == std::string::npos ? "/" : r.url.substr(path_at);
  httplib::Client c(base);
  const auto secs = static_cast<time_t>(r.timeout_s);
  const auto usecs = static_cast<time_t>((r.timeout_s - static_cast<double>(secs)) * 1e6);
  c.set_connection_timeout(secs, usecs);
  c.set_read_timeout(secs, usecs);
  c.set_write_timeout(secs, usecs);
  httplib::Headers h;
  for (const auto& [k, v] : r.headers) h.emplace(k, v);
  h.emplace("Idempotency-Key", n.idempotency_key);
  h.emplace("User-Agent", "vigil");
  if (!r.secret.empty()) h.emplace("X-Vigil-Signature", "sha256=" + HmacSha256Hex(r.secret, n.payload));
  auto res = c.Post(path.c_str(), h, n.payload, "application/json");
  if (!res) {
    out.error = "request failed: " + httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  if (res->status >= 200 && res->status < 300) {
    out.ok = true;
    return out;
  }
  out.error = "HTTP " + std::to_string(res->status);
  if (res->status == 429 && res->has_header("Retry-After")) {
    try {
      out.retry_after_s = std::stod(res->get_header_value("Retry-After"));
    } catch (...) {
    }
  }
  out.permanent = res->status >= 400 && res->status < 500 && res->status != 408 && res->status != 429;
  return out;
}

void Deliverer::Loop(const ReceiverConfig& r) {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    std::vector<Notification> due;
    Status st = outbox_->Due(clock_(), 16, &due, r.name);
    if (!st.ok()) spdlog::error("delivery to {}: {}", r.name, st.message());
    for (const Notification& n : due) {
      DeliveryOutcome o = Send(r, n);
      if (o.ok) {
        ++delivered_;
        (void)outbox_->MarkDelivered(n.id);
      } else {
        ++failed_;
        spdlog::warn("delivery to {} failed ({}){}", r.name, o.error, o.permanent ? ": dead-lettered" : "; will retry");
        (void)outbox_->MarkFailed(n.id, clock_(), o.error, o.permanent, o.retry_after_s);
      }
    }
    double when = 0;
    bool any = false;
    (void)outbox_->NextDue(&when, &any, r.name);
    const double wait = any ? std::clamp(when - clock_(), 0.01, 1.0) : 1.0;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(wait), [this] { return stop_; });
  }
}

}  // namespace vigil::alerts
