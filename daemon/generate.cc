// /v1/completions and /v1/chat/completions: submit to the engine, then stream
// or collect its outputs as the engine delivers them (its callback posts to
// the connection; no thread waits on a token), apply stop strings, and abort
// the engine request the moment the client goes away.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>

#include "common/mutex.h"
#include "common/time_util.h"
#include "daemon/daemon.h"
#include "daemon/front_server.h"
#include "daemon/http_util.h"

namespace vigil::daemon {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Turns token outputs into text increments, honouring stop strings.
struct TextAssembler {
  tokenizer::StreamDecoder decoder;
  const std::vector<std::string> stops;  // a copy: the parsed request is gone once the handler returns
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

// One generation in flight. The engine thread queues its outputs; the
// connection's strand drains them (Drain), so decoding and JSON happen off
// the engine thread and in order.
struct Generation : std::enable_shared_from_this<Generation> {
  Generation(const tokenizer::Tokenizer* tok, const std::vector<std::string>& stops) : text(tok, stops) {}

  // Set before the request is queued, then read-only.
  std::shared_ptr<Exchange> ex;
  engine::Engine* eng = nullptr;
  std::string id, model;
  bool chat = false, stream = false, include_usage = false;
  int64_t created = 0, prompt_tokens = 0;

  // Engine thread -> strand.
  Mutex mu;
  std::deque<engine::RequestOutput> queue GUARDED_BY(mu);
  bool scheduled GUARDED_BY(mu) = false;
  bool started GUARDED_BY(mu) = false;  // the headers are queued: outputs may follow

  // On the strand only.
  TextAssembler text;
  bool done = false;
  std::string out;  // the whole text (not streaming)
  int64_t completion = 0;
  Clock::time_point last_write = Clock::now();

  void Push(const engine::RequestOutput& o) EXCLUDES(mu) {
    bool post = false;
    {
      MutexLock lock(&mu);
      queue.push_back(o);
      post = started && !scheduled;
      scheduled = scheduled || started;
    }
    if (post) ex->Post([self = shared_from_this()] { self->Drain(); });
  }

  // After the headers are queued on the strand: outputs that came before
  // them are drained now, and later ones as they come.
  void Start() EXCLUDES(mu) {
    bool post = false;
    {
      MutexLock lock(&mu);
      started = true;
      post = !queue.empty() && !scheduled;
      scheduled = scheduled || post;
    }
    if (post) ex->Post([self = shared_from_this()] { self->Drain(); });
  }

  void Drain() EXCLUDES(mu) {
    std::deque<engine::RequestOutput> batch;
    {
      MutexLock lock(&mu);
      batch.swap(queue);
      scheduled = false;
    }
    for (const auto& o : batch) {
      if (done) return;
      stream ? OnStreamOutput(o) : OnOutput(o);
    }
  }

  void Write(const std::string& s) {
    ex->Write(s);
    last_write = Clock::now();
  }
  void Event(const json& j) { Write("data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"); }
  void Chunk(const std::string& delta, const char* finish, bool first) {
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
    Event({{"id", id},
           {"object", chat ? "chat.completion.chunk" : "text_completion"},
           {"created", created},
           {"model", model},
           {"choices", json::array({choice})}});
  }

  void OnStreamOutput(const engine::RequestOutput& o) {
    completion = o.num_output_tokens;
    const std::string delta = text.Add(o.new_token_ids, o.finished);
    const bool finished = o.finished || text.stopped;
    const engine::FinishReason reason = text.stopped ? engine::FinishReason::kStop : o.finish_reason;
    if (text.stopped && !o.finished) eng->Abort(id);  // its final kAbort output is ignored
    if (!delta.empty()) Chunk(delta, nullptr, false);
    if (!finished) return;
    done = true;
    Chunk("", FinishReasonForApi(reason), false);
    if (include_usage)
      Event({{"id", id},
             {"object", chat ? "chat.completion.chunk" : "text_completion"},
             {"created", created},
             {"model", model},
             {"choices", json::array()},
             {"usage", Usage(prompt_tokens, completion)}});
    Write("data: [DONE]\n\n");
    ex->End();
  }

  void OnOutput(const engine::RequestOutput& o) {
    completion = o.num_output_tokens;
    out += text.Add(o.new_token_ids, o.finished);
    engine::FinishReason reason;
    std::string error;
    if (text.stopped && !o.finished) {
      eng->Abort(id);  // its final kAbort output is ignored
      reason = engine::FinishReason::kStop;
    } else if (o.finished) {
      reason = text.stopped ? engine::FinishReason::kStop : o.finish_reason;
      error = o.error;
    } else {
      return;
    }
    done = true;
    json choice = {{"index", 0}, {"finish_reason", FinishReasonForApi(reason)}};
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", out}};
    } else {
      choice["text"] = out;
      choice["logprobs"] = nullptr;
    }
    json body = {{"id", id},
                 {"object", chat ? "chat.completion" : "text_completion"},
                 {"created", created},
                 {"model", model},
                 {"choices", json::array({choice})},
                 {"usage", Usage(prompt_tokens, completion)}};
    if (!error.empty()) body["error"] = {{"message", error}, {"type", "internal_error"}};
    Write(body.dump(-1, ' ', false, json::error_handler_t::replace));
    ex->End();
  }
};

}  // namespace

void Daemon::HandleGenerate(const httplib::Request& req, std::shared_ptr<Exchange> ex, bool chat) {
  auto send_error = [&ex](const ApiError& e, HeaderList headers = {}) {
    ex->Respond(e.status, "application/json", e.ToJson().dump(-1, ' ', false, json::error_handler_t::replace),
                std::move(headers));
  };
  {
    httplib::Response res;
    if (!CheckApiKey(req, res)) return ex->Respond(res.status, "application/json", res.body);
  }
  if (stopping_ || !ready_) {
    ApiError e;
    e.status = 503;
    e.type = "service_unavailable";
    e.message = stopping_ ? "the server is shutting down" : "the server is starting";
    return send_error(e);
  }
  auto g = std::make_shared<GenerationRequest>();
  if (auto e = ParseGenerationRequest(req.body, chat, served_model_, *tok_, chat_, g.get())) return send_error(*e);
  // No worker is held while a request waits or streams: the engine's queue
  // takes the excess, as vLLM's does, up to server.max_waiting_requests.
  int max_waiting;
  {
    MutexLock lock(&config_mu_);
    max_waiting = live_config_.server.max_waiting_requests;
  }
  MutexLock admit(&admit_mu_);
  if (engine_->GetLoad().requests_waiting >= max_waiting) {
    ApiError e;
    e.status = 429;
    e.type = "rate_limit_error";
    e.code = "too_many_waiting_requests";
    e.message = "too many requests are waiting (server.max_waiting_requests = " + std::to_string(max_waiting) +
                "); retry later";
    metrics_->CountRejected("queue_full");
    return send_error(e, {{"Retry-After", "1"}});
  }

  auto gen = std::make_shared<Generation>(tok_.get(), g->stop);
  gen->ex = ex;
  gen->eng = engine_.get();
  gen->id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id_.fetch_add(1)) + "-" +
            std::to_string(static_cast<int64_t>(start_time_));
  gen->model = served_model_;
  gen->chat = chat;
  gen->stream = g->stream;
  gen->include_usage = g->include_usage;
  gen->created = static_cast<int64_t>(UnixNow());
  gen->prompt_tokens = static_cast<int64_t>(g->prompt_ids.size());
  Status st =
      engine_->AddRequest(gen->id, g->prompt_ids, g->params, [gen](const engine::RequestOutput& o) { gen->Push(o); });
  admit.Unlock();
  if (!st.ok()) {
    ApiError e = ErrorFromStatus(st);
    if (e.status == 400) e.param = chat ? "messages" : "prompt";
    return send_error(e);
  }
  // The headers go out at once; a hang-up aborts the request.
  ex->OnGone([gen] {
    gen->done = true;
    gen->eng->Abort(gen->id);
  });
  if (g->stream) {
    ex->Begin("text/event-stream", {{"Cache-Control", "no-cache"}});
  } else {
    ex->Begin("application/json");
  }
  ex->Post([gen] {
    if (gen->stream && gen->chat) gen->Chunk("", nullptr, true);
  });
  // Until the end, something goes out every second (an SSE comment, or a
  // space: valid leading JSON whitespace), so that proxies keep the
  // connection and a vanished client is noticed even without a read.
  ex->Every(std::chrono::milliseconds(1000), [gen] {
    if (gen->done) return false;
    if (Clock::now() - gen->last_write >= std::chrono::milliseconds(900))
      gen->Write(gen->stream ? ": keep-alive\n\n" : " ");
    return true;
  });
  gen->Start();
}

}  // namespace vigil::daemon
