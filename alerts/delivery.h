// Delivery from the outbox: one thread per receiver, so a slow or hung
// receiver delays only itself, never the sampler, the rules or another
// receiver. A 2xx deletes the notification; 408, 429 (honouring
// Retry-After), 5xx and connection failures retry with backoff; any other
// 4xx is dead-lettered at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerts/dispatcher.h"
#include "alerts/outbox.h"

namespace vigil::alerts {

struct ReceiverConfig {
  std::string name;
  std::string type = "log";  // webhook | log (alertmanager and slack come next)
  std::string url;
  std::string secret;        // from secret_file: signs the body
  std::map<std::string, std::string> headers;
  double timeout_s = 10;
};

struct DeliveryOutcome {
  bool ok = false;
  bool permanent = false;
  std::optional<double> retry_after_s;
  std::string error;
  int status = 0;
};

class Deliverer {
 public:
  using Clock = std::function<double()>;
  Deliverer(std::vector<ReceiverConfig> receivers, Outbox* outbox, std::string external_url, Clock clock);
  ~Deliverer();

  // Renders the group for its receiver and writes it to the outbox (durable
  // before returning); the delivery thread takes it from there.
  Status Submit(const GroupNotification& n);
  void Start();
  void Stop();

  // One attempt, on the caller's thread (tests, and the threads' body).
  DeliveryOutcome Send(const ReceiverConfig& r, const Notification& n) const;
  uint64_t delivered() const { return delivered_; }
  uint64_t failed_attempts() const { return failed_; }

 private:
  void Loop(const ReceiverConfig& r);

  std::vector<ReceiverConfig> receivers_;
  Outbox* outbox_;
  std::string external_url_;
  Clock clock_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<uint64_t> delivered_{0}, failed_{0}, seq_{0};
};

}  // namespace vigil::alerts
