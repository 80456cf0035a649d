#include "daemon/openai.h"

#include <cmath>

namespace vigil::daemon {

using json = nlohmann::json;

json ApiError::ToJson() const {
  json e = {{"message", message},
            {"type", type},
            {"param", param.empty() ? json() : json(param)},
            {"code", code.empty() ? json() : json(code)}};
  return {{"error", e}};
}

namespace {

ApiError Bad(const std::string& param, const std::string& msg) {
  ApiError e;
  e.message = msg;
  e.param = param;
  return e;
}

// Integer fields: JSON integers, or floats with no fraction (some clients send 16.0).
std::optional<ApiError> GetInt(const json& j, const char* key, int64_t min, int64_t max, int64_t* out) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const json& v = j[key];
  double d;
  if (v.is_number_integer()) d = static_cast<double>(v.get<int64_t>());
  else if (v.is_number_unsigned()) d = static_cast<double>(v.get<uint64_t>());
  else if (v.is_number_float()) d = v.get<double>();
  else return Bad(key, std::string("'") + key + "' must be an integer");
  if (!std::isfinite(d) || d != std::floor(d)) return Bad(key, std::string("'") + key + "' must be an integer");
  if (d < static_cast<double>(min) || d > static_cast<double>(max))
    return Bad(key,
               std::string("'") + key + "' must be between " + std::to_string(min) + " and " + std::to_string(max));
  *out = static_cast<int64_t>(d);
  return std::nullopt;
}

std::optional<ApiError> GetNumber(const json& j, const char* key, double min, double max, double* out) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_number()) return Bad(key, std::string("'") + key + "' must be a number");
  double d = j[key].get<double>();
  if (!std::isfinite(d) || d < min || d > max)
    return Bad(key,
               std::string("'") + key + "' must be between " + std::to_string(min) + " and " + std::to_string(max));
  *out = d;
  return std::nullopt;
}

std::optional<ApiError> GetBool(const json& j, const char* key, bool* out) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_boolean()) return Bad(key, std::string("'") + key + "' must be a boolean");
  *out = j[key].get<bool>();
  return std::nullopt;
}

std::string Render(const std::string& tmpl, const std::string& role, const std::string& content) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.compare(i, 6, "{role}") == 0) {
      out += role;
      i += 6;
    } else if (tmpl.compare(i, 9, "{content}") == 0) {
      out += content;
      i += 9;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

}  // namespace

std::optional<ApiError> ParseJsonObject(const std::string& body, json* out) {
  // nlohmann accepts invalid UTF-8 inside strings; the tokenizer and every
  // response must not see it.
  if (!tokenizer::IsValidUtf8(body)) return Bad("", "the body is not valid UTF-8");
  constexpr int kMaxDepth = 64;
  struct TooDeep {};
  try {
    *out = json::parse(body, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    return Bad("", "the body nests deeper than " + std::to_string(kMaxDepth) + " levels");
  } catch (const json::exception& e) { return Bad("", std::string("the body is not valid JSON: ") + e.what()); }
  if (!out->is_object()) return Bad("", "the body must be a JSON object");
  return std::nullopt;
}

std::optional<ApiError> ParseGenerationRequest(const std::string& body, bool chat, const std::string& served_model,
                                               const tokenizer::Tokenizer& tok, const ChatTemplate& tmpl,
                                               GenerationRequest* out) {
  json j;
  if (auto e = ParseJsonObject(body, &j)) return e;
  GenerationRequest r;
  r.chat = chat;
  if (j.contains("model") && !j["model"].is_null()) {
    if (!j["model"].is_string()) return Bad("model", "'model' must be a string");
    r.model = j["model"].get<std::string>();
    if (r.model != served_model) {
      ApiError e =
          Bad("model", "The model '" + r.model + "' does not exist. This server serves '" + served_model + "'.");
      e.status = 404;
      e.type = "NotFoundError";
      e.code = "model_not_found";
      return e;
    }
  } else {
    r.model = served_model;
  }
  int64_t n = 1;
  if (auto e = GetInt(j, "n", 1, 128, &n)) return e;
  if (n != 1) return Bad("n", "only n=1 is supported");
  for (const char* unsupported : {"best_of", "logprobs", "top_logprobs", "echo", "suffix", "tools", "functions"}) {
    if (j.contains(unsupported) && !j[unsupported].is_null() &&
        !(j[unsupported].is_boolean() && !j[unsupported].get<bool>()) &&
        !(std::string(unsupported) == "best_of" && j[unsupported] == 1)) {
      return Bad(unsupported, std::string("'") + unsupported + "' is not supported");
    }
  }

  // The prompt: text, token ids, or chat messages.
  std::string text;
  if (chat) {
    if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
      return Bad("messages", "'messages' must be a non-empty array");
    for (const json& m : j["messages"]) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
        return Bad("messages", "each message needs a string 'role'");
      const std::string role = m["role"].get<std::string>();
      if (role != "system" && role != "user" && role != "assistant" && role != "developer")
        return Bad("messages", "unknown role '" + role + "'");
      std::string content;
      if (m.contains("content") && m["content"].is_string()) {
        content = m["content"].get<std::string>();
      } else if (m.contains("content") && m["content"].is_array()) {
        for (const json& part : m["content"]) {
          if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
              !part["text"].is_string())
            return Bad("messages", "only text content parts are supported");
          content += part["text"].get<std::string>();
        }
      } else {
        return Bad("messages", "each message needs 'content' as a string or text parts");
      }
      text += Render(tmpl.message_template, role, content);
    }
    text += tmpl.generation_prompt;
  } else {
    if (!j.contains("prompt")) return Bad("prompt", "'prompt' is required");
    const json& p = j["prompt"];
    if (p.is_string()) {
      text = p.get<std::string>();
    } else if (p.is_array() && !p.empty() && p[0].is_number()) {
      for (const json& id : p) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
          return Bad("prompt", "a token-id prompt must hold non-negative integers");
        r.prompt_ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
      }
    } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
      text = p[0].get<std::string>();
    } else if (p.is_array() && p.size() > 1) {
      return Bad("prompt", "batched prompts are not supported; send one prompt per request");
    } else {
      return Bad("prompt", "'prompt' must be a string or an array of token ids");
    }
  }
  if (r.prompt_ids.empty()) {
    if (text.empty()) return Bad(chat ? "messages" : "prompt", "the prompt is empty");
    Status st = tok.Encode(text, &r.prompt_ids);
    if (!st.ok()) return Bad(chat ? "messages" : "prompt", st.message());
    if (r.prompt_ids.empty()) return Bad(chat ? "messages" : "prompt", "the prompt encodes to no tokens");
  }

  engine::SamplingParams& sp = r.params;
  int64_t max_tokens = 16;
  if (chat) max_tokens = 256;
  if (auto e = GetInt(j, "max_tokens", 1, 1 << 24, &max_tokens)) return e;
  if (chat && j.contains("max_completion_tokens"))
    if (auto e = GetInt(j, "max_completion_tokens", 1, 1 << 24, &max_tokens)) return e;
  sp.max_tokens = static_cast<int>(max_tokens);
  double temperature = 1.0, top_p = 1.0;
  if (auto e = GetNumber(j, "temperature", 0.0, 2.0, &temperature)) return e;
  if (auto e = GetNumber(j, "top_p", 0.0, 1.0, &top_p)) return e;
  if (top_p <= 0) return Bad("top_p", "'top_p' must be in (0, 1]");
  sp.temperature = static_cast<float>(temperature);
  sp.top_p = static_cast<float>(top_p);
  int64_t top_k = 0;
  if (auto e = GetInt(j, "top_k", -1, 1 << 24, &top_k)) return e;
  sp.top_k = static_cast<int>(top_k);
  if (j.contains("seed") && !j["seed"].is_null()) {
    int64_t seed = 0;
    if (auto e = GetInt(j, "seed", INT64_MIN / 2, INT64_MAX / 2, &seed)) return e;
    sp.seed = static_cast<uint64_t>(seed);
  }
  if (auto e = GetBool(j, "ignore_eos", &sp.ignore_eos)) return e;
  if (j.contains("stop") && !j["stop"].is_null()) {
    const json& s = j["stop"];
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      for (const json& x : s) {
        if (!x.is_string()) return Bad("stop", "'stop' must be a string or an array of strings");
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      return Bad("stop", "'stop' must be a string or an array of strings");
    }
    if (r.stop.size() > 16) return Bad("stop", "at most 16 stop strings");
    for (const auto& x : r.stop)
      if (x.empty()) return Bad("stop", "stop strings must not be empty");
  }
  if (j.contains("stop_token_ids") && !j["stop_token_ids"].is_null()) {
    if (!j["stop_token_ids"].is_array()) return Bad("stop_token_ids", "'stop_token_ids' must be an array of integers");
    for (const json& x : j["stop_token_ids"]) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
        return Bad("stop_token_ids", "'stop_token_ids' must be an array of non-negative integers");
      sp.stop_token_ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
    }
  }
  if (auto e = GetBool(j, "stream", &r.stream)) return e;
  if (j.contains("stream_options") && !j["stream_options"].is_null()) {
    if (!j["stream_options"].is_object()) return Bad("stream_options", "'stream_options' must be an object");
    if (auto e = GetBool(j["stream_options"], "include_usage", &r.include_usage)) return e;
  }
  *out = std::move(r);
  return std::nullopt;
}

const char* FinishReasonForApi(engine::FinishReason r) {
  switch (r) {
    case engine::FinishReason::kStop: return "stop";
    case engine::FinishReason::kLength: return "length";
    case engine::FinishReason::kAbort: return "abort";
    case engine::FinishReason::kError: return "error";
    default: return nullptr;
  }
}

size_t FindStop(const std::string& text, const std::vector<std::string>& stops, size_t from) {
  size_t best = std::string::npos;
  for (const auto& s : stops) {
    // A stop string may straddle `from`: search a little before it.
    size_t start = from >= s.size() ? from - s.size() + 1 : 0;
    size_t f = text.find(s, start);
    if (f < best) best = f;
  }
  return best;
}

size_t StopHoldback(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops) {
    for (size_t k = std::min(s.size() - 1, text.size()); k > hold; --k) {
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}

}  // namespace vigil::daemon
