// vigild's engine HTTP handlers: models and the tokenizer. Generation lives
// in generate.cc, the monitor's endpoints in report.cc, routing in daemon.cc.
#include <httplib.h>

#include "common/units.h"
#include "daemon/daemon.h"
#include "daemon/diagnosis.h"
#include "daemon/http_util.h"
#include "monitor/signals.h"

namespace vigil::daemon {

using json = nlohmann::json;

void Daemon::HandleModels(const httplib::Request&, httplib::Response& res) {
  const auto& mi = engine_->model_info();
  json m = {{"id", served_model_}, {"object", "model"}, {"created", static_cast<int64_t>(start_time_)},
            {"owned_by", "vigil"}, {"root", mi.name},   {"max_model_len", mi.max_model_len}};
  res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(), "application/json");
}

void Daemon::HandleTokenize(const httplib::Request& req, httplib::Response& res) {
  json j;
  if (auto e = ParseJsonObject(req.body, &j)) return SendError(res, *e);
  std::string text;
  if (j.contains("prompt") && j["prompt"].is_string()) {
    text = j["prompt"].get<std::string>();
  } else if (j.contains("messages") && j["messages"].is_array()) {
    GenerationRequest g;
    if (auto e = ParseGenerationRequest(req.body, true, served_model_, *tok_, chat_, &g)) return SendError(res, *e);
    res.set_content(json{{"count", g.prompt_ids.size()},
                         {"max_model_len", engine_->model_info().max_model_len},
                         {"tokens", g.prompt_ids}}
                        .dump(),
                    "application/json");
    return;
  } else {
    ApiError e;
    e.param = "prompt";
    e.message = "'prompt' must be a string (or send 'messages')";
    return SendError(res, e);
  }
  std::vector<int32_t> ids;
  Status st = tok_->Encode(text, &ids);
  if (!st.ok()) {
    ApiError e;
    e.param = "prompt";
    e.message = st.message();
    return SendError(res, e);
  }
  res.set_content(
      json{{"count", ids.size()}, {"max_model_len", engine_->model_info().max_model_len}, {"tokens", ids}}.dump(),
      "application/json");
}

void Daemon::HandleDetokenize(const httplib::Request& req, httplib::Response& res) {
  json j;
  if (auto e = ParseJsonObject(req.body, &j)) return SendError(res, *e);
  ApiError bad;
  bad.param = "tokens";
  bad.message = "'tokens' must be an array of token ids in the vocabulary";
  if (!j.contains("tokens") || !j["tokens"].is_array()) return SendError(res, bad);
  std::vector<int32_t> ids;
  for (const json& t : j["tokens"]) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= tok_->vocab_size())
      return SendError(res, bad);
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  res.set_content(json{{"prompt", tok_->Decode(ids)}}.dump(), "application/json");
}

}  // namespace vigil::daemon
