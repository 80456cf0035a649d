// CaptureApi (daemon/captures.h).
#include "daemon/captures.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <fstream>

#include "common/instance_id.h"
#include "common/units.h"
#include "daemon/alerting.h"
#include "daemon/daemon.h"  // kVersion, for the capture's config snapshot
#include "daemon/diagnosis.h"
#include "daemon/http_util.h"

namespace vigil::daemon {

namespace {

using json = nlohmann::json;

}  // namespace

CaptureApi::CaptureApi(const Config& config, engine::Engine* engine, const std::string& served_model,
                       std::function<double()> throughput_before, Clock* clock)
    : external_url_(ExternalUrl(config)),
      policy_(config.capture.rule_cooldown_s, config.capture.global_cooldown_s, clock) {
  capture::CaptureConfig cc = config.capture;
  if (cc.dir.empty()) cc.dir = config.server.state_dir + "/captures";
  if (!engine) cc.enabled = false;  // a sidecar has no engine to profile here
  const auto& e = config.engine;
  json snapshot = {{"model", served_model},
                   {"device", e.device},
                   {"dtype", e.dtype},
                   {"block_size", e.block_size},
                   {"max_num_seqs", e.max_num_seqs},
                   {"max_num_batched_tokens", e.max_num_batched_tokens},
                   {"max_model_len", e.max_model_len},
                   {"enable_chunked_prefill", e.enable_chunked_prefill},
                   {"enable_prefix_caching", e.enable_prefix_caching},
                   {"version", kVersion}};
  captures_ =
      std::make_unique<capture::CaptureManager>(cc, engine, std::move(throughput_before), snapshot, clock, &policy_);
  if (!config.targets.empty()) {
    capture::RemoteCaptureConfig rc;
    rc.enabled = config.capture.enabled;
    remote_captures_ = std::make_unique<capture::RemoteCaptures>(rc, &policy_);
  }
  if (!engine) {
    spdlog::info(
        "captures: of watched targets through their /start_profile (cooldown {} per rule, {} global per target)",
        FormatDuration(cc.rule_cooldown_s), FormatDuration(cc.global_cooldown_s));
    return;
  }
  spdlog::info("captures: {} in {} (up to {} steps or {}, {} per trace; cooldown {} per rule, {} global)",
               cc.enabled ? "enabled" : "disabled", cc.dir, cc.max_steps, FormatDuration(cc.max_duration_s),
               FormatSize(cc.max_bytes), FormatDuration(cc.rule_cooldown_s), FormatDuration(cc.global_cooldown_s));
}

void CaptureApi::Shutdown() {
  if (remote_captures_) remote_captures_->Shutdown();
  std::string id;
  captures_->Stop(&id);  // NotFound when none runs
}

void CaptureApi::OnTick(const pipeline::TickResult& tick, const pipeline::Pipeline& pipeline) {
  // The hosted engine is profiled in process; a watched target through its
  // own /start_profile and /stop_profile (capture/remote.h). Refusals (busy,
  // cooldown) are logged, and the hosted ones counted, by the two.
  for (const capture::DueCapture& c : due_.Tick(tick)) {
    if (!c.instance.local()) {
      pipeline::TargetConfig target;
      std::string token, why;
      if (remote_captures_ && pipeline.FindTarget(c.instance.target, &target, &token))
        remote_captures_->Trigger(target, token, c.rule, c.reason, &why);
      continue;
    }
    capture::TriggerRequest req;
    req.trigger = "rule";
    req.rule = c.rule;
    req.reason = c.reason;
    req.evidence = c.evidence;
    captures_->Trigger(req);
  }
}

std::string CaptureApi::CaptureLink(const std::string& rule, const std::string& target) const {
  std::string id;
  if (target.empty() || InstanceId::Parse(target).local()) id = captures_->LatestForRule(rule);
  else if (remote_captures_) id = remote_captures_->LatestFor(target, rule);
  return id.empty() ? "" : external_url_ + "/api/v1/captures/" + id;
}

json CaptureApi::LatestCaptures(size_t n) const {
  json out = json::array();
  for (const auto& c : captures_->List()) {
    if (out.size() >= n) break;
    out.push_back(c);
  }
  if (remote_captures_)
    for (const auto& c : remote_captures_->List()) {
      if (out.size() >= 2 * n) break;
      out.push_back(c);
    }
  return out;
}

void CaptureApi::Routes(httplib::Server& h, AccessCheck check_admin) {
  auto start = [this, check_admin](const httplib::Request& q, httplib::Response& r, const std::string& trigger,
                                   bool profile) {
    if (!check_admin(q, r)) return;
    capture::TriggerRequest req;
    req.trigger = trigger;
    if (!q.body.empty()) {
      json body = json::parse(q.body, nullptr, false);
      ApiError e;
      if (body.is_discarded() || !body.is_object()) {
        e.message = "body: expected a JSON object such as {\"duration\": \"5s\", \"reason\": \"...\"}";
        return SendError(r, e);
      }
      if (body.contains("duration")) {
        double d = 0;
        Status st = body["duration"].is_string()   ? ParseDuration(body["duration"].get<std::string>(), &d)
                    : body["duration"].is_number() ? (d = body["duration"].get<double>(), Status::OK())
                                                   : Status::InvalidArgument("expected a duration such as \"5s\"");
        if (!st.ok() || d <= 0) {
          e.param = "duration";
          e.message = "duration: " + (st.ok() ? std::string("must be positive") : st.message());
          return SendError(r, e);
        }
        req.duration_s = d;
      }
      if (body.contains("reason")) {
        if (!body["reason"].is_string()) {
          e.param = "reason";
          e.message = "reason: expected a string";
          return SendError(r, e);
        }
        req.reason = body["reason"];
      }
    }
    req.until_stopped = profile;
    const capture::TriggerResult tr = captures_->Trigger(req);
    if (!tr.started) {
      ApiError e;
      using capture::CaptureOutcome;
      e.status = tr.result == CaptureOutcome::kError ? 500 : tr.result == CaptureOutcome::kDisabled ? 403 : 409;
      e.type = capture::CaptureOutcomeName(tr.result);
      e.message = tr.message;
      return SendError(r, e);
    }
    r.status = 202;
    r.set_content(json{{"id", tr.id}, {"status", "running"}, {"url", "/api/v1/captures/" + tr.id}}.dump(),
                  "application/json");
  };
  h.Post("/api/v1/captures", [start](const httplib::Request& q, httplib::Response& r) { start(q, r, "api", false); });
  // vLLM's profiler endpoints, bounded by the same limits.
  h.Post("/start_profile", [start](const httplib::Request& q, httplib::Response& r) { start(q, r, "profile", true); });
  h.Post("/stop_profile", [this, check_admin](const httplib::Request& q, httplib::Response& r) {
    if (!check_admin(q, r)) return;
    std::string id;
    if (Status st = captures_->Stop(&id); !st.ok()) return SendStatus(r, st);
    captures_->WaitIdle(60);  // vLLM answers once the trace is written
    r.set_content(json{{"id", id}, {"status", "stopped"}, {"url", "/api/v1/captures/" + id}}.dump(),
                  "application/json");
  });
  h.Get("/api/v1/captures", [this, check_admin](const httplib::Request& q, httplib::Response& r) {
    if (!check_admin(q, r)) return;
    json data = captures_->List();
    if (remote_captures_)
      for (auto& c : remote_captures_->List()) data.push_back(std::move(c));
    r.set_content(json{{"status", "success"}, {"data", data}}.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json");
  });
  h.Get(R"(/api/v1/captures/([^/]+))", [this, check_admin](const httplib::Request& q, httplib::Response& r) {
    if (!check_admin(q, r)) return;
    json doc;
    if (Status st = captures_->Get(q.matches[1], &doc); !st.ok()) {
      if (!remote_captures_ || !remote_captures_->Get(q.matches[1], &doc)) return SendStatus(r, st);
    }
    r.set_content(doc.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  });
  h.Get(R"(/api/v1/captures/([^/]+)/trace)", [this, check_admin](const httplib::Request& q, httplib::Response& r) {
    if (!check_admin(q, r)) return;
    std::string path;
    if (Status st = captures_->TracePath(q.matches[1], &path); !st.ok()) return SendStatus(r, st);
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    r.set_header("Content-Disposition", "attachment; filename=\"" + q.matches[1].str() + ".pt.trace.json.gz\"");
    r.set_content(std::move(bytes), "application/gzip");
  });
  h.Delete(R"(/api/v1/captures/([^/]+))", [this, check_admin](const httplib::Request& q, httplib::Response& r) {
    if (!check_admin(q, r)) return;
    if (Status st = captures_->Delete(q.matches[1]); !st.ok()) return SendStatus(r, st);
    r.set_content(json{{"status", "success"}}.dump(), "application/json");
  });
}

}  // namespace vigil::daemon
