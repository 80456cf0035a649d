// A table of malformed and hostile requests against the real daemon: each
// gets the right 4xx with an OpenAI-style error body, and afterwards the
// daemon is healthy with no request or KV block left behind.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon_harness.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using vigil::testing::DaemonProcess;
using vigil::testing::DataPath;

struct Case {
  std::string name;
  std::string method;
  std::string path;
  std::string body;
  int status;
};

std::vector<Case> Cases() {
  const std::string c = "/v1/completions", ch = "/v1/chat/completions";
  std::string long_prompt = "[";
  for (int i = 0; i < 300; ++i) long_prompt += (i ? "," : "") + std::to_string(i % 500);
  long_prompt += "]";
  std::string nested(100000, '[');
  nested += std::string(100000, ']');
  std::string deep_obj = R"({"prompt":"x","meta":)" + nested + "}";
  return {
      {"empty body", "POST", c, "", 400},
      {"truncated JSON", "POST", c, "{", 400},
      {"array body", "POST", c, "[]", 400},
      {"null body", "POST", c, "null", 400},
      {"number body", "POST", c, "123", 400},
      {"prompt number", "POST", c, R"({"prompt":5})", 400},
      {"prompt null", "POST", c, R"({"prompt":null})", 400},
      {"no prompt", "POST", c, R"({})", 400},
      {"empty prompt", "POST", c, R"({"prompt":""})", 400},
      {"max_tokens negative", "POST", c, R"({"prompt":"x","max_tokens":-1})", 400},
      {"max_tokens zero", "POST", c, R"({"prompt":"x","max_tokens":0})", 400},
      {"max_tokens huge float", "POST", c, R"({"prompt":"x","max_tokens":1e30})", 400},
      {"max_tokens string", "POST", c, R"({"prompt":"x","max_tokens":"10"})", 400},
      {"max_tokens fraction", "POST", c, R"({"prompt":"x","max_tokens":10.5})", 400},
      {"max_tokens beyond int64", "POST", c, R"({"prompt":"x","max_tokens":99999999999999999999999})", 400},
      {"temperature negative", "POST", c, R"({"prompt":"x","temperature":-1})", 400},
      {"temperature string", "POST", c, R"({"prompt":"x","temperature":"hot"})", 400},
      {"temperature overflow", "POST", c, R"({"prompt":"x","temperature":1e999})", 400},
      {"top_p zero", "POST", c, R"({"prompt":"x","top_p":0})", 400},
      {"top_p above one", "POST", c, R"({"prompt":"x","top_p":1.5})", 400},
      {"top_k negative", "POST", c, R"({"prompt":"x","top_k":-5})", 400},
      {"top_k string", "POST", c, R"({"prompt":"x","top_k":"a"})", 400},
      {"n two", "POST", c, R"({"prompt":"x","n":2})", 400},
      {"n zero", "POST", c, R"({"prompt":"x","n":0})", 400},
      {"stream string", "POST", c, R"({"prompt":"x","stream":"yes"})", 400},
      {"stop number", "POST", c, R"({"prompt":"x","stop":5})", 400},
      {"stop numbers", "POST", c, R"({"prompt":"x","stop":[1,2]})", 400},
      {"stop empty string", "POST", c, R"({"prompt":"x","stop":[""]})", 400},
      {"stop_token_ids string", "POST", c, R"({"prompt":"x","stop_token_ids":"x"})", 400},
      {"stop_token_ids negative", "POST", c, R"({"prompt":"x","stop_token_ids":[-1]})", 400},
      {"stop_token_ids outside vocab", "POST", c, R"({"prompt":"x","stop_token_ids":[999999]})", 400},
      {"token prompt negative", "POST", c, R"({"prompt":[-1]})", 400},
      {"token prompt outside vocab", "POST", c, R"({"prompt":[600]})", 400},
      {"token prompt fraction", "POST", c, R"({"prompt":[1.5]})", 400},
      {"batched prompts", "POST", c, R"({"prompt":["a","b"]})", 400},
      {"prompt over max_model_len", "POST", c, R"({"prompt":)" + long_prompt + "}", 400},
      {"invalid UTF-8", "POST", c, "{\"prompt\":\"bad \xff\xfe bytes\"}", 400},
      {"lone surrogate escape", "POST", c, R"({"prompt":"\ud800"})", 400},
      {"unknown model", "POST", c, R"({"prompt":"x","model":"gpt-5"})", 404},
      {"model number", "POST", c, R"({"prompt":"x","model":5})", 400},
      {"10 MB body", "POST", c, R"({"prompt":")" + std::string(10 << 20, 'a') + "\"}", 413},
      {"logprobs", "POST", c, R"({"prompt":"x","logprobs":5})", 400},
      {"best_of", "POST", c, R"({"prompt":"x","best_of":3})", 400},
      {"echo", "POST", c, R"({"prompt":"x","echo":true})", 400},
      {"seed string", "POST", c, R"({"prompt":"x","seed":"x"})", 400},
      {"stream_options string", "POST", c, R"({"prompt":"x","stream_options":"x"})", 400},
      {"include_usage string", "POST", c, R"({"prompt":"x","stream_options":{"include_usage":"x"}})", 400},
      {"ignore_eos number", "POST", c, R"({"prompt":"x","ignore_eos":1})", 400},
      {"deeply nested JSON", "POST", c, deep_obj, 400},
      {"chat without messages", "POST", ch, R"({"model":"llama-fixture"})", 400},
      {"chat empty messages", "POST", ch, R"({"messages":[]})", 400},
      {"chat messages string", "POST", ch, R"({"messages":"hi"})", 400},
      {"chat unknown role", "POST", ch, R"({"messages":[{"role":"wizard","content":"x"}]})", 400},
      {"chat content number", "POST", ch, R"({"messages":[{"role":"user","content":5}]})", 400},
      {"chat image part", "POST", ch, R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", 400},
      {"chat max_tokens negative", "POST", ch, R"({"messages":[{"role":"user","content":"x"}],"max_tokens":-3})", 400},
      {"GET on a POST route", "GET", c, "", 404},
      {"unknown route", "POST", "/v1/nope", "{}", 404},
      {"path traversal", "GET", "/../../etc/passwd", "", 404},
      {"tokenize without prompt", "POST", "/tokenize", "{}", 400},
      {"detokenize negative", "POST", "/detokenize", R"({"tokens":[-1]})", 400},
      {"detokenize string", "POST", "/detokenize", R"({"tokens":"x"})", 400},
      {"detokenize outside vocab", "POST", "/detokenize", R"({"tokens":[100000]})", 400},
  };
}

TEST(DaemonHostileTest, EveryBadRequestGetsItsErrorAndNothingLeaks) {
  DaemonProcess d("engine:\n  model: " + DataPath("models/llama") +
                  "\n  tokenizer: " + DataPath("tokenizers/tiny512.tokenizer.json") +
                  "\n  served_model_name: llama-fixture\n  num_blocks: 64\n  max_model_len: 256\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto cases = Cases();
  ASSERT_GE(cases.size(), 50u);
  for (const Case& k : cases) {
    auto c = d.Client();
    httplib::Result r = k.method == "GET" ? c.Get(k.path.c_str()) : c.Post(k.path.c_str(), k.body, "application/json");
    ASSERT_TRUE(r) << k.name << ": no response (" << httplib::to_string(r.error()) << ")\n" << d.Log();
    EXPECT_EQ(r->status, k.status) << k.name << ": " << r->body.substr(0, 300);
    json body;
    try {
      body = json::parse(r->body);
    } catch (...) {}
    EXPECT_TRUE(body.contains("error") && body["error"].contains("message") && body["error"].contains("type"))
        << k.name << ": not an OpenAI error body: " << r->body.substr(0, 200);
  }
  auto c = d.Client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h) << d.Log();
  EXPECT_EQ(h->status, 200);
  json rep = json::parse(c.Get("/health/report")->body);
  EXPECT_EQ(rep["engine"]["requests_running"], 0);
  EXPECT_EQ(rep["engine"]["requests_waiting"], 0);
  EXPECT_EQ(rep["engine"]["kv_blocks_used"], 0);
  // And it still serves.
  auto ok = c.Post("/v1/completions", R"({"prompt":"still fine","max_tokens":3})", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

}  // namespace
}  // namespace vigil
