// vigild end to end: the real binary on a free loopback port, a real HTTP
// client, the fixture checkpoints, sd_notify on a socket the test owns, and
// signals.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "daemon_harness.h"
#include "tokenizer/tokenizer.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using vigil::testing::DaemonProcess;
using vigil::testing::DataPath;
using vigil::testing::Golden;
using vigil::testing::WaitFor;

std::string FixtureEngine(const std::string& extra = "") {
  return "engine:\n  model: " + DataPath("models/llama") +
         "\n  tokenizer: " + DataPath("tokenizers/tiny512.tokenizer.json") +
         "\n  served_model_name: llama-fixture\n  num_blocks: 128\n  max_model_len: 256\n" + extra;
}

json PostJson(httplib::Client& c, const std::string& path, const json& body, int* status = nullptr) {
  auto r = c.Post(path.c_str(), body.dump(), "application/json");
  if (!r) return json();
  if (status) *status = r->status;
  try {
    return json::parse(r->body);
  } catch (...) { return json(r->body); }
}

json HealthReport(httplib::Client& c) {
  auto r = c.Get("/health/report");
  return r ? json::parse(r->body) : json();
}

// Streams a completion; returns the concatenated text and finish reason.
std::pair<std::string, std::string> Stream(httplib::Client& c, const json& body, bool chat = false) {
  auto r = c.Post(chat ? "/v1/chat/completions" : "/v1/completions", body.dump(), "application/json");
  std::string text, finish;
  if (!r) return {text, finish};
  std::istringstream in(r->body);
  std::string line;
  bool done = false;
  while (std::getline(in, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    std::string data = line.substr(6);
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    json j = json::parse(data);
    for (const json& ch : j["choices"]) {
      if (chat && ch["delta"].contains("content")) text += ch["delta"]["content"].get<std::string>();
      if (!chat) text += ch["text"].get<std::string>();
      if (!ch["finish_reason"].is_null()) finish = ch["finish_reason"].get<std::string>();
    }
  }
  EXPECT_TRUE(done) << "stream did not end with [DONE]";
  return {text, finish};
}

class DaemonE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<DaemonProcess>(FixtureEngine());
    ASSERT_TRUE(d_->WaitReady()) << d_->Log();
  }
  std::unique_ptr<DaemonProcess> d_;
};

TEST_F(DaemonE2ETest, GreedyCompletionsEqualTheEngineAndHF) {
  Golden g("llama");
  std::unique_ptr<tokenizer::Tokenizer> tok;
  ASSERT_TRUE(tokenizer::Tokenizer::Load(DataPath("tokenizers/tiny512.tokenizer.json"), &tok).ok());
  auto c = d_->Client();
  for (int i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i);
    int status = 0;
    json r = PostJson(c, "/v1/completions",
                      {{"model", "llama-fixture"},
                       {"prompt", g.Ids("greedy_prompt." + n)},
                       {"max_tokens", 16},
                       {"temperature", 0},
                       {"ignore_eos", true}},
                      &status);
    ASSERT_EQ(status, 200) << r.dump();
    EXPECT_EQ(r["choices"][0]["text"], tok->Decode(g.Ids("greedy_output." + n), true));
    EXPECT_EQ(r["usage"]["completion_tokens"], 16);
    EXPECT_EQ(r["usage"]["prompt_tokens"], g.Ids("greedy_prompt." + n).size());
    EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(r["object"], "text_completion");
  }
}

TEST_F(DaemonE2ETest, StreamedChunksConcatenateToTheNonStreamedText) {
  auto c = d_->Client();
  for (bool chat : {false, true}) {
    json body = {{"max_tokens", 40}, {"temperature", 0}, {"ignore_eos", true}};
    if (chat) body["messages"] = {{{"role", "user"}, {"content", "Tell me about KV caches."}}};
    else body["prompt"] = "The quick brown fox";
    json whole = PostJson(c, chat ? "/v1/chat/completions" : "/v1/completions", body);
    body["stream"] = true;
    auto [text, finish] = Stream(c, body, chat);
    const std::string want = chat ? whole["choices"][0]["message"]["content"].get<std::string>()
                                  : whole["choices"][0]["text"].get<std::string>();
    EXPECT_FALSE(want.empty());
    EXPECT_EQ(text, want) << (chat ? "chat" : "completions");
    EXPECT_EQ(finish, "length");
  }
}

TEST_F(DaemonE2ETest, StopStringsCutTheTextInBothModes) {
  auto c = d_->Client();
  json body = {{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}, {"ignore_eos", true}};
  const std::string full = PostJson(c, "/v1/completions", body)["choices"][0]["text"];
  ASSERT_GT(full.size(), 12u);
  const std::string stop = full.substr(8, 3);
  const std::string want = full.substr(0, full.find(stop));
  body["stop"] = {stop};
  json r = PostJson(c, "/v1/completions", body);
  EXPECT_EQ(r["choices"][0]["text"], want);
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  body["stream"] = true;
  auto [text, finish] = Stream(c, body);
  EXPECT_EQ(text, want);
  EXPECT_EQ(finish, "stop");
}

TEST(DaemonE2E, AnAbortedStreamFreesItsBlocks) {
  // The built-in model is slow enough (ms per token) that the client hangs
  // up long before 1000 tokens are done.
  DaemonProcess d(
      "engine:\n  model: builtin:tiny-llama\n  served_model_name: tiny\n  max_model_len: 2048\n  num_blocks: 256\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.body = json{{"prompt", "abc"}, {"max_tokens", 1000}, {"stream", true}, {"ignore_eos", true}}.dump();
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  httplib::Response res;
  httplib::Error err;
  c.send(req, res, err);  // the client hangs up after 3 chunks
  json report;
  EXPECT_TRUE(WaitFor(
      [&] {
        report = HealthReport(c);
        return report["engine"]["requests_running"] == 0 && report["engine"]["kv_blocks_used"] == 0;
      },
      30000));
  EXPECT_EQ(report["engine"]["requests_running"], 0) << report.dump();
  EXPECT_EQ(report["engine"]["kv_blocks_used"], 0) << report.dump();
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("vllm:request_success_total{model_name=\"tiny\",finished_reason=\"abort\"} 1"),
            std::string::npos)
      << m->body.substr(m->body.find("vllm:request_success_total"), 600);
}

TEST_F(DaemonE2ETest, ModelsTokenizeAndHealth) {
  auto c = d_->Client();
  auto r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["data"][0]["id"], "llama-fixture");
  json t = PostJson(c, "/tokenize", {{"prompt", "hello world"}});
  ASSERT_TRUE(t["tokens"].is_array());
  EXPECT_EQ(t["count"], t["tokens"].size());
  EXPECT_EQ(PostJson(c, "/detokenize", {{"tokens", t["tokens"]}})["prompt"], "hello world");
  EXPECT_EQ(c.Get("/health")->status, 200);
  EXPECT_EQ(c.Get("/ready")->status, 200);
  json rep = HealthReport(c);
  EXPECT_EQ(rep["status"], "healthy");
  EXPECT_EQ(rep["config"]["max_model_len"], 256);
  EXPECT_FALSE(rep.contains("gpu")) << "a CPU engine has no NVML figures: no gpu object, not zeros";
}

TEST_F(DaemonE2ETest, MetricsPassPromtoolButForVllmNames) {
  auto c = d_->Client();
  PostJson(c, "/v1/completions", {{"prompt", "hi"}, {"max_tokens", 3}});
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  for (const char* name :
       {"vllm:num_requests_running", "vllm:kv_cache_usage_perc", "vllm:time_to_first_token_seconds_bucket",
        "vllm_ttft_seconds_bucket", "vllm_decode_batch_size_bucket", "vigil_build_info"}) {
    EXPECT_NE(m->body.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(m->body.find("vigil_gpu_"), std::string::npos) << "no NVML: no GPU series, not zeros";
  vigil::testing::TempDir dir;
  vigil::testing::WriteFile(dir.File("m.txt"), m->body);
  FILE* p = popen(("promtool check metrics < " + dir.File("m.txt") + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[1024];
  int lines = 0;
  while (fgets(line, sizeof line, p)) {
    std::string l(line);
    ++lines;
    // vLLM's names carry ':' (and vLLM's own histogram is called
    // iteration_tokens_total); dashboards need them exactly so.
    const bool vllm_name_lint = l.find("should not contain ':'") != std::string::npos ||
                                l.rfind("vllm:iteration_tokens_total non-counter", 0) == 0;
    EXPECT_TRUE(vllm_name_lint) << "promtool: " << l;
  }
  pclose(p);
  EXPECT_GT(lines, 0) << "promtool printed nothing: is it installed?";
}

TEST(DaemonE2E, NotifiesSystemdAndDrainsOnSigterm) {
  // The grace bounds nothing here: the 150 tokens must finish however slow
  // the machine (ASan on two busy cores made 83 in 10 s); vigild exits once
  // drained.
  DaemonProcess d("engine:\n  model: builtin:tiny-llama\n  max_model_len: 1024\n  num_blocks: 256\n",
                  "  shutdown_grace: 300s\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  bool ready = false, status = false;
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const auto& n : d.NotifyMessages()) {
          ready |= n.find("READY=1") != std::string::npos;
          status |= n.find("STATUS=") != std::string::npos;
        }
        return ready && status;
      },
      30000));
  EXPECT_TRUE(ready);
  EXPECT_TRUE(status);
  // A long request in flight when SIGTERM arrives still completes.
  std::atomic<int> status_code{0};
  json result;
  std::thread t([&] {
    auto c = d.Client();
    int st = 0;
    result = PostJson(c, "/v1/completions", {{"prompt", "drain me"}, {"max_tokens", 150}, {"ignore_eos", true}}, &st);
    status_code = st;
  });
  {
    auto c = d.Client();  // the request is running before the signal
    EXPECT_TRUE(WaitFor([&] { return HealthReport(c)["engine"]["requests_running"] == 1; }));  // not ASSERT: t runs
  }
  d.Signal(SIGTERM);
  {
    auto c = d.Client();  // draining: /health says so (or the listener is already closed)
    EXPECT_TRUE(WaitFor(
        [&] {
          auto h = c.Get("/health");
          return !h || h->status == 503;
        },
        30000));
    auto r = c.Post("/v1/completions", R"({"prompt":"late","max_tokens":2})", "application/json");
    if (r) {
      EXPECT_EQ(r->status, 503);  // refused while draining (or already closed)
    }
  }
  t.join();
  EXPECT_EQ(status_code, 200);
  EXPECT_EQ(result["usage"]["completion_tokens"], 150) << result.dump();
  EXPECT_EQ(d.WaitExit(), 0) << d.Log();
  bool stopping = false;
  for (const auto& n : d.NotifyMessages()) stopping |= n.find("STOPPING=1") != std::string::npos;
  EXPECT_TRUE(stopping);
}

TEST(DaemonE2E, SighupWithABadFileKeepsServing) {
  DaemonProcess d(FixtureEngine());
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  vigil::testing::WriteFile(d.config_path(), "server:\n  port: [not a port]\n");
  d.Signal(SIGHUP);
  auto c = d.Client();
  std::string metrics;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = c.Get("/metrics");
        metrics = r ? r->body : "";
        return metrics.find("vigil_config_last_reload_success 0") != std::string::npos;
      },
      30000));
  EXPECT_NE(metrics.find("vigil_config_last_reload_success 0"), std::string::npos);
  int st = 0;
  PostJson(c, "/v1/completions", {{"prompt", "still here"}, {"max_tokens", 2}}, &st);
  EXPECT_EQ(st, 200);
  EXPECT_NE(d.Log().find("keeping the running configuration"), std::string::npos);
  // A good file again: the reload succeeds.
  d.WriteConfig(FixtureEngine());
  d.Signal(SIGHUP);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = c.Get("/metrics");
        metrics = r ? r->body : "";
        return metrics.find("vigil_config_last_reload_success 1") != std::string::npos;
      },
      30000));
  EXPECT_NE(metrics.find("vigil_config_last_reload_success 1"), std::string::npos);
}

TEST(DaemonE2E, HealthTurns503WhenTheEngineStalls) {
  DaemonProcess d(FixtureEngine("  faults:\n    stall_step: 1500ms\n"), "  engine_stall_timeout: 300ms\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  std::string reason;
  const bool saw_503 = WaitFor(
      [&] {
        auto r = c.Get("/health");
        if (!r || r->status != 503) return false;
        reason = json::parse(r->body)["reason"];
        return true;
      },
      30000);
  EXPECT_TRUE(saw_503);
  EXPECT_NE(reason.find("engine loop stuck"), std::string::npos) << reason;
}

TEST(DaemonE2E, ApiKeysGuardV1) {
  vigil::testing::TempDir dir;
  vigil::testing::WriteFile(dir.File("keys"), "# comment\nsecret-1\n");
  DaemonProcess d(FixtureEngine(), "  api_keys_file: " + dir.File("keys") + "\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  auto r = c.Post("/v1/completions", R"({"prompt":"x","max_tokens":1})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"]["type"], "authentication_error");
  httplib::Headers h = {{"Authorization", "Bearer secret-1"}};
  r = c.Post("/v1/completions", h, R"({"prompt":"x","max_tokens":1})", "application/json");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(c.Get("/health")->status, 200);  // health needs no key
}

TEST(DaemonE2E, BadConfigExitsTwoNamingTheField) {
  DaemonProcess d("engine:\n  max_num_seqs: abc\n");
  EXPECT_EQ(d.WaitExit(), 2);
  EXPECT_NE(d.Log().find("engine.max_num_seqs: expected a positive integer, got \"abc\""), std::string::npos)
      << d.Log();
}

TEST(DaemonE2E, WatchdogIsFedOnlyWhileTheEngineIsAlive) {
  {
    DaemonProcess d(FixtureEngine(), "", {{"WATCHDOG_USEC", "300000"}});
    ASSERT_TRUE(d.WaitReady()) << d.Log();
    int pings = 0;
    EXPECT_TRUE(WaitFor(
        [&] {
          pings = 0;
          for (const auto& n : d.NotifyMessages()) pings += n.find("WATCHDOG=1") != std::string::npos;
          return pings >= 2;
        },
        30000))
        << pings;
  }
  // A stalled engine loop: the heartbeat goes stale and the pings stop.
  // Each engine iteration sleeps 60 s, after a fresh heartbeat: past the
  // first 200 ms it stays stale for the whole test (a short stall would let
  // the heartbeat come back inside the window below, wherever start-up left
  // the cycle). The harness kills the daemon at the end.
  DaemonProcess d(FixtureEngine("  faults:\n    stall_step: 60s\n"), "  engine_stall_timeout: 200ms\n",
                  {{"WATCHDOG_USEC", "300000"}});
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  // Into the stall: the heartbeat is stale (after 200 ms).
  ASSERT_TRUE(WaitFor(
      [&] {
        auto h = c.Get("/health");
        return h && h->status == 503;
      },
      30000));
  d.NotifyMessages();
  const size_t before = d.NotifyMessages().size();
  // That nothing is sent needs a window: 1.5 s, fifteen watchdog periods
  // (100 ms) long, well inside the stall.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto notes = d.NotifyMessages();
  int pings = 0;
  for (size_t i = before; i < notes.size(); ++i) pings += notes[i].find("WATCHDOG=1") != std::string::npos;
  EXPECT_EQ(pings, 0) << "the watchdog was fed while the engine was stuck";
}

TEST(DaemonE2E, ATokenizerLargerThanTheModelIsRefusedAtStart) {
  DaemonProcess d("engine:\n  model: " + DataPath("models/llama") +
                  "\n  tokenizer: " + DataPath("tokenizers/gpt2.tokenizer.json") + "\n");
  EXPECT_EQ(d.WaitExit(), 2);
  EXPECT_NE(d.Log().find("50257 tokens but the model's vocabulary is 512"), std::string::npos) << d.Log();
}

TEST(DaemonE2E, PastMaxWaitingRequestsGets429WithRetryAfter) {
  DaemonProcess d("engine:\n  model: builtin:tiny-llama\n  max_num_seqs: 1\n  max_model_len: 4096\n  num_blocks: 512\n",
                  "  max_waiting_requests: 1\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  // Stepped on the engine's own load, not on timing: a long stream runs, one
  // request waits, the next is refused; once the stream hangs up the waiting
  // one is served.
  auto load = [&](const char* field) {
    auto r = d.Client().Get("/health/report");
    return r && r->status == 200 ? json::parse(r->body)["engine"][field].get<int>() : -1;
  };
  std::future<int> waiting;  // before the stream: destroyed after it hangs up
  vigil::testing::HeldStreams stream(d);
  stream.Open(R"({"prompt":"go","max_tokens":4000,"ignore_eos":true,"stream":true})");
  ASSERT_TRUE(WaitFor([&] { return load("requests_running") == 1; }, 60000)) << d.Log();
  // Its future joins it on every exit, failed assertions too.
  waiting = std::async(std::launch::async, [&] {
    auto c = d.Client();
    c.set_read_timeout(300, 0);
    auto r = c.Post("/v1/completions", R"({"prompt":"busy","max_tokens":8})", "application/json");
    return r ? r->status : -1;
  });
  ASSERT_TRUE(WaitFor([&] { return load("requests_waiting") == 1; }, 60000)) << d.Log();

  // Read up to the headers only: were it admitted, its body would wait (kept
  // alive by a space a second) behind the whole stream, and the test would
  // hang instead of failing.
  httplib::Request one;
  one.method = "POST";
  one.path = "/v1/completions";
  one.set_header("Content-Type", "application/json");
  one.body = R"({"prompt":"one more","max_tokens":8})";
  one.response_handler = [](const httplib::Response&) { return false; };
  httplib::Response r;
  httplib::Error err = httplib::Error::Success;
  d.Client().send(one, r, err);
  EXPECT_EQ(r.status, 429) << httplib::to_string(err);
  EXPECT_EQ(r.get_header_value("Retry-After"), "1");
  EXPECT_EQ(waiting.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the waiting request was answered while the stream still ran";

  stream.HangUp();
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(waiting.get(), 200) << "the waiting request is served once the stream hangs up";
}

TEST(DaemonE2E, StreamsBeyondTheWorkersAreServedAndMetricsAnswer) {
  // 8 HTTP workers and twelve long streams: a stream holds no worker, so all
  // twelve run (none refused) and /metrics and /health answer meanwhile.
  DaemonProcess d(
      "engine:\n  model: builtin:tiny-llama\n  max_num_seqs: 16\n  max_model_len: 4096\n  num_blocks: 512\n",
      "  threads: 8\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  vigil::testing::HeldStreams streams(d);
  for (int i = 0; i < 12; ++i) streams.Open(R"({"prompt":"go","max_tokens":3000,"ignore_eos":true,"stream":true})");
  ASSERT_TRUE(vigil::testing::WaitFor([&] { return streams.streaming() == 12; }, 60000))
      << streams.streaming() << " streaming, " << streams.refused() << " refused";
  EXPECT_EQ(streams.refused(), 0);
  auto c = d.Client();
  c.set_read_timeout(10, 0);
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m) << "no answer from /metrics while twelve streams run on 8 workers";
  EXPECT_EQ(m->status, 200);
  const size_t at = m->body.find("\nvllm:num_requests_running{");
  ASSERT_NE(at, std::string::npos);
  const std::string line = m->body.substr(at + 1, m->body.find('\n', at + 1) - at - 1);
  EXPECT_EQ(line.substr(line.rfind(' ') + 1), "12") << line;
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

}  // namespace
}  // namespace vigil
