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
                       std::function<double()> throughput_before)
    : external_url_(ExternalUrl(config)) {
  capture::CaptureConfig cc = config.capture;
  if (cc.dir.empty()) cc.dir = config.server.state_dir + "/captures";
  if (!engine) cc.enabled = false;  // a sidecar has no engine to profile here
  const auto& e = config.engine;
  json snapshot = {{"model", served_model}, {"device", e.device}, {"dtype", e.dtype}, {"block_size", e.block_size},
                   {"max_num_seqs", e.max_num_seqs}, {"max_num_batched_tokens", e.max_num_batched_tokens},
                   {"max_model_len", e.max_model_len}, {"enable_chunked_prefill", e.enable_chunked_prefill},
                   {"enable_prefix_caching", e.enable_prefix_caching}, {"version", kVersion}};
  captures_ = std::make_unique<capture::CaptureManager>(cc, engine, std::move(throughput_before), snapshot);
  if (!config.targets.empty()) {
    pipeline::RemoteCaptureConfig rc;
    rc.enabled = config.capture.enabled;
    rc.rule_cooldown_s = config.capture.rule_cooldown_s;
    rc.global_cooldown_s = config.capture.global_cooldown_s;
    remote_captures_ = std::make_unique<pipeline::RemoteCaptures>(rc);
  }
  if (!engine) {
    spdlog::info("captures: of watched targets through their /start_profile (cooldown {} per rule, {} global per target)",
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

void CaptureApi::OnTransitions(const std::vector<std::pair<std::string, rules::Transition>>& transitions,
                               const std::vector<rules::RuleEngine::View>& views, const pipeline::Pipeline& pipeline) {
  auto has_capture = [](const rules::Rule& r) {
    return r.Has(rules::RuleAction::kCapture);
  };
  // The hosted engine is profiled in process; a watched target through its
  // own /start_profile and /stop_profile (pipeline/remote_capture.h).
  for (const auto& [inst, t] : transitions)
    if (t.to == rules::RuleState::kFiring) captures_due_.insert({inst, t.group, t.name});
  auto instance_of = [](const rules::RuleEngine::View& v) { return InstanceId::FromLabels(v.rule.labels).Name(); };
  // A due capture waits while a pending root cause holds it, and is dropped
  // when its rule is inhibited or stops firing: the capture goes to the cause.
  for (auto it = captures_due_.begin(); it != captures_due_.end();) {
    const rules::RuleEngine::View* v = nullptr;
    for (const auto& x : views)
      if (x.rule.group == std::get<1>(*it) && x.rule.name == std::get<2>(*it) && instance_of(x) == std::get<0>(*it)) v = &x;
    if (!v || v->status.state != rules::RuleState::kFiring || !has_capture(v->rule)) {
      it = captures_due_.erase(it);
      continue;
    }
    if (!v->status.inhibited_by.empty()) {
      spdlog::info("capture for {} skipped: inhibited by {}", v->rule.name, v->status.inhibited_by.front());
      it = captures_due_.erase(it);
      continue;
    }
    if (!v->status.held_by.empty()) {
      ++it;
      continue;
    }
    auto s = v->status.annotations.find("summary");
    const std::string reason = s == v->status.annotations.end() ? v->rule.name + " fired" : s->second;
    if (!InstanceId::Parse(std::get<0>(*it)).local()) {
      pipeline::TargetConfig target;
      std::string token, why;
      if (remote_captures_ && pipeline.FindTarget(v->rule.labels.at("target"), &target, &token))
        remote_captures_->Trigger(target, token, v->rule.name, reason, UnixNow(), &why);  // refusals are logged
      it = captures_due_.erase(it);
      continue;
    }
    capture::TriggerRequest req;
    req.trigger = "rule";
    req.rule = v->rule.name;
    req.reason = reason;
    req.evidence = json::object();
    for (const auto& [text, val] : v->status.evidence) req.evidence[text] = val ? json(*val) : json();
    captures_->Trigger(req);  // refusals are logged and counted
    it = captures_due_.erase(it);
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
        Status st = body["duration"].is_string() ? ParseDuration(body["duration"].get<std::string>(), &d)
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
    r.set_content(json{{"id", id}, {"status", "stopped"}, {"url", "/api/v1/captures/" + id}}.dump(), "application/json");
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
