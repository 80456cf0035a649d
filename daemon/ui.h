// The dashboard: its page and assets, and the alert history it draws. The
// page reads the JSON APIs (its charts: /api/v1/series?names=, daemon/report.cc).
#pragma once

#include <string>
#include <vector>

#include "alerts/history.h"
#include "daemon/config.h"
#include "pipeline/pipeline.h"
#include "rules/rules.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace vigil::daemon {

class UiApi {
 public:
  explicit UiApi(const ServerConfig& server) : server_(server) {}

  // With server.ui: / and /ui/* (the assets, read now) and
  // /api/v1/alerts/history; nothing without it.
  void Routes(httplib::Server& h);
  // Monitor thread, after each tick: opens and closes firing episodes at the tick's time.
  void RecordHistory(const pipeline::TickResult& tick);

 private:
  void HandleAlertHistory(const httplib::Request& req, httplib::Response& res) const;

  const ServerConfig server_;
  alerts::AlertHistory history_;  // firing episodes (its own lock)
};

}  // namespace vigil::daemon
