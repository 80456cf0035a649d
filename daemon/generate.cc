// /v1/completions and /v1/chat/completions: submit to the engine, stream or
// collect its outputs, apply stop strings, and abort the engine request the
// moment the client goes away.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>

#include "common/mutex.h"
#include "common/time_util.h"
#include "daemon/daemon.h"
#include "daemon/http_util.h"

namespace vigil::daemon {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Outputs from the engine thread to one HTTP worker.
struct Channel {
  Mutex mu;
  CondVar cv;
  std::deque<engine::RequestOutput> queue GUARDED_BY(mu);

  void Push(const engine::RequestOutput& o) EXCLUDES(mu) {
    MutexLock lock(&mu);
    queue.push_back(o);
    cv.Signal();
  }
  bool Pop(engine::RequestOutput* o, std::chrono::milliseconds timeout) EXCLUDES(mu) {
    MutexLock lock(&mu);
    const auto deadline = Clock::now() + timeout;
    while (queue.empty() && cv.WaitUntil(&mu, deadline)) {}
    if (queue.empty()) return false;
    *o = std::move(queue.front());
    queue.pop_front();
    return true;
  }
};

// Turns token outputs into text increments, honouring stop strings.
struct TextAssembler {
  tokenizer::StreamDecoder decoder;
  const std::vector<std::string>& stops;
  std::string all;
  size_t sent = 0;
  bool stopped = false;  // a stop string was found

  TextAssembler(const tokenizer::Tokenizer* tok, const std::vector<std::string>& s) : decoder(tok, true), stops(s) {}

  // Returns the text that may be sent now.
  std::string Add(const std::vector<int32_t>& ids, bool finished) {
    if (stopped) return "";
    all += decoder.Push(ids);
    if (finished) all += decoder.Finish();
    size_t end = all.size();
    if (!stops.empty()) {
      size_t f = FindStop(all, stops, sent);
      if (f != std::string::npos) {
        stopped = true;
        end = f;
      } else if (!finished) {
        end -= StopHoldback(all, stops);
      }
    }
    if (end <= sent) return "";
    std::string out = all.substr(sent, end - sent);
    sent = end;
    return out;
  }
};

json Usage(int64_t prompt, int64_t completion) {
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

}  // namespace

void Daemon::HandleGenerate(const httplib::Request& req, httplib::Response& res, bool chat) {
  auto send_error = [&res](const ApiError& e) {
    res.status = e.status;
    res.set_content(e.ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
  };
  if (stopping_ || !ready_) {
    ApiError e;
    e.status = 503;
    e.type = "service_unavailable";
    e.message = stopping_ ? "the server is shutting down" : "the server is starting";
    return send_error(e);
  }
  // A generation holds its HTTP worker until its last byte. Some workers are
  // kept from it, so that under overload /metrics, /health and the admin API
  // still answer: the monitor must see the overload, not go blind in it.
  const int slots = GenerationWorkers(config_.server.threads);
  if (generating_.fetch_add(1) >= slots) {
    --generating_;
    ApiError e;
    e.status = 503;
    e.type = "overloaded";
    e.message = "every HTTP worker for generation is busy (" + std::to_string(slots) + " of server.threads = " +
                std::to_string(config_.server.threads) + "; the rest serve /metrics, /health and the admin API)";
    res.set_header("Retry-After", "1");
    return send_error(e);
  }
  // Released when the response is done with (the providers below hold it).
  std::shared_ptr<void> slot(nullptr, [this](void*) { --generating_; });
  auto g = std::make_shared<GenerationRequest>();
  if (auto e = ParseGenerationRequest(req.body, chat, served_model_, *tok_, chat_, g.get())) return send_error(*e);
  int max_waiting;
  {
    MutexLock lock(&config_mu_);
    max_waiting = live_config_.server.max_waiting_requests;
  }
  if (engine_->GetLoad().requests_waiting >= max_waiting) {
    ApiError e;
    e.status = 503;
    e.type = "overloaded";
    e.message = "too many requests are waiting (server.max_waiting_requests = " + std::to_string(max_waiting) + ")";
    res.set_header("Retry-After", "1");
    return send_error(e);
  }

  const std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id_.fetch_add(1)) + "-" +
                         std::to_string(static_cast<int64_t>(start_time_));
  auto ch = std::make_shared<Channel>();
  Status st = engine_->AddRequest(id, g->prompt_ids, g->params, [ch](const engine::RequestOutput& o) { ch->Push(o); });
  if (!st.ok()) {
    ApiError e = ErrorFromStatus(st);
    if (e.status == 400) e.param = chat ? "messages" : "prompt";
    return send_error(e);
  }

  const int64_t created = static_cast<int64_t>(UnixNow());
  const std::string model = served_model_;
  const int64_t prompt_tokens = static_cast<int64_t>(g->prompt_ids.size());
  engine::Engine* eng = engine_.get();
  const tokenizer::Tokenizer* tok = tok_.get();
  // If the client vanishes, the releaser sees success == false: abort.
  auto releaser = [eng, id, slot](bool success) {
    if (!success) eng->Abort(id);
  };

  if (!g->stream) {
    // The body is written when the request completes; until then a space
    // (valid leading JSON whitespace) goes out every second, so a client
    // that hung up is noticed and its request aborted.
    res.set_chunked_content_provider(
        "application/json",
        [=](size_t, httplib::DataSink& sink) {
          TextAssembler text(tok, g->stop);
          std::string out;
          engine::RequestOutput o;
          engine::FinishReason reason = engine::FinishReason::kNone;
          std::string error;
          int64_t completion = 0;
          auto last_write = Clock::now();
          while (true) {
            if (!ch->Pop(&o, std::chrono::milliseconds(200))) {
              if (Clock::now() - last_write > std::chrono::seconds(1)) {
                if (!sink.write(" ", 1)) {
                  eng->Abort(id);
                  return false;
                }
                last_write = Clock::now();
              }
              continue;
            }
            completion = o.num_output_tokens;
            out += text.Add(o.new_token_ids, o.finished);
            if (text.stopped && !o.finished) {
              eng->Abort(id);  // its final kAbort output is ignored below
              reason = engine::FinishReason::kStop;
              break;
            }
            if (o.finished) {
              reason = text.stopped ? engine::FinishReason::kStop : o.finish_reason;
              error = o.error;
              break;
            }
          }
          json choice = {{"index", 0}, {"finish_reason", FinishReasonForApi(reason)}};
          if (chat) {
            choice["message"] = {{"role", "assistant"}, {"content", out}};
          } else {
            choice["text"] = out;
            choice["logprobs"] = nullptr;
          }
          json body = {{"id", id}, {"object", chat ? "chat.completion" : "text_completion"}, {"created", created},
                       {"model", model}, {"choices", json::array({choice})}, {"usage", Usage(prompt_tokens, completion)}};
          if (!error.empty()) body["error"] = {{"message", error}, {"type", "internal_error"}};
          const std::string s = body.dump(-1, ' ', false, json::error_handler_t::replace);
          if (!sink.write(s.data(), s.size())) return false;
          sink.done();
          return true;
        },
        releaser);
    return;
  }

  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [=](size_t, httplib::DataSink& sink) {
        auto event = [&sink](const json& j) {
          const std::string s = "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
          return sink.write(s.data(), s.size());
        };
        auto chunk = [&](const std::string& delta, const char* finish, bool first) {
          json choice = {{"index", 0}, {"finish_reason", finish ? json(finish) : json()}};
          if (chat) {
            json d = json::object();
            if (first) d["role"] = "assistant";
            if (!delta.empty() || first) d["content"] = delta;
            choice["delta"] = d;
          } else {
            choice["text"] = delta;
            choice["logprobs"] = nullptr;
          }
          return event({{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"},
                        {"created", created}, {"model", model}, {"choices", json::array({choice})}});
        };
        if (chat && !chunk("", nullptr, true)) {
          eng->Abort(id);
          return false;
        }
        TextAssembler text(tok, g->stop);
        engine::RequestOutput o;
        int64_t completion = 0;
        auto last_write = Clock::now();
        while (true) {
          if (!ch->Pop(&o, std::chrono::milliseconds(200))) {
            // SSE comment as a keep-alive; also detects a vanished client.
            if (Clock::now() - last_write > std::chrono::seconds(1)) {
              if (!sink.write(": keep-alive\n\n", 14)) {
                eng->Abort(id);
                return false;
              }
              last_write = Clock::now();
            }
            continue;
          }
          completion = o.num_output_tokens;
          const std::string delta = text.Add(o.new_token_ids, o.finished);
          const bool done = o.finished || text.stopped;
          engine::FinishReason reason = text.stopped ? engine::FinishReason::kStop : o.finish_reason;
          if (text.stopped && !o.finished) eng->Abort(id);
          bool ok = true;
          if (!delta.empty()) ok = chunk(delta, nullptr, false);
          if (ok && done) ok = chunk("", FinishReasonForApi(reason), false);
          if (!ok) {
            eng->Abort(id);
            return false;
          }
          last_write = Clock::now();
          if (done) break;
        }
        if (g->include_usage) {
          if (!event({{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
                      {"model", model}, {"choices", json::array()}, {"usage", Usage(prompt_tokens, completion)}}))
            return false;
        }
        static const char kDone[] = "data: [DONE]\n\n";
        if (!sink.write(kDone, sizeof(kDone) - 1)) return false;
        sink.done();
        return true;
      },
      releaser);
}

}  // namespace vigil::daemon
