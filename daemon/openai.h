// OpenAI-compatible request parsing and response shapes. Pure functions over
// JSON: every malformed request becomes an ApiError (HTTP 4xx with OpenAI's
// {"error":{message,type,param,code}} body), never an exception.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace vigil::daemon {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;
  std::string code;
  nlohmann::json ToJson() const;
};

struct ChatTemplate {
  std::string message_template = "<|{role}|>\n{content}\n";
  std::string generation_prompt = "<|assistant|>\n";
};

struct GenerationRequest {
  bool chat = false;
  std::string model;
  std::vector<int32_t> prompt_ids;
  engine::SamplingParams params;
  std::vector<std::string> stop;  // stop strings, applied to the decoded text
  bool stream = false;
  bool include_usage = false;
};

// Parses /v1/completions or /v1/chat/completions. `served_model` is the only
// model name accepted (404 otherwise).
std::optional<ApiError> ParseGenerationRequest(const std::string& body, bool chat, const std::string& served_model,
                                               const tokenizer::Tokenizer& tok, const ChatTemplate& tmpl,
                                               GenerationRequest* out);

// Parses a JSON body into an object, or says why not.
std::optional<ApiError> ParseJsonObject(const std::string& body, nlohmann::json* out);

const char* FinishReasonForApi(engine::FinishReason r);

// Finds the earliest stop string in `text` at or after `from`; npos if none.
size_t FindStop(const std::string& text, const std::vector<std::string>& stops, size_t from = 0);
// How many trailing bytes of `text` might begin a stop string (held back
// while streaming so a stop string is never sent in part).
size_t StopHoldback(const std::string& text, const std::vector<std::string>& stops);

}  // namespace vigil::daemon
