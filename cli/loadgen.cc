#include "cli/loadgen.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <random>
#include <thread>

namespace vigil::cli {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Presets {
  const char* name;
  int concurrency;
  int64_t requests;
  int prompt_tokens;
  int max_tokens;
};
// vLLM's classic load-test set.
const Presets kPresets[] = {{"low_load", 1, 50, 512, 256},
                            {"saturation", 64, 500, 512, 256},
                            {"long_prompts", 8, 100, 8192, 128},
                            {"long_outputs", 16, 100, 256, 4096},
                            {"burst", 128, 200, 512, 256}};

}  // namespace

bool LoadPreset(const std::string& name, double scale, LoadOptions* o) {
  for (const auto& p : kPresets) {
    if (name != p.name) continue;
    auto s = [scale](double v) { return std::max(1, static_cast<int>(std::lround(v * scale))); };
    o->concurrency = p.concurrency;
    o->rate = 0;
    o->requests = s(static_cast<double>(p.requests));
    o->prompt_tokens = s(p.prompt_tokens);
    o->max_tokens = s(p.max_tokens);
    return true;
  }
  return false;
}

std::vector<std::string> LoadPresetNames() {
  std::vector<std::string> out;
  for (const auto& p : kPresets) out.push_back(p.name);
  return out;
}

Percentiles ComputePercentiles(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    const double pos = q * static_cast<double>(v.size() - 1);
    const size_t lo = static_cast<size_t>(pos), hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
  };
  p.p50 = at(0.5);
  p.p95 = at(0.95);
  p.p99 = at(0.99);
  double sum = 0;
  for (double x : v) sum += x;
  p.mean = sum / static_cast<double>(v.size());
  return p;
}

json LoadResult::ToJson() const {
  auto pj = [](const Percentiles& p) {
    return json{{"p50", p.p50}, {"p95", p.p95}, {"p99", p.p99}, {"mean", p.mean}, {"n", p.n}};
  };
  return {{"requests", {{"sent", sent}, {"ok", ok}, {"disconnected", disconnected}, {"errors", errors}}},
          {"output_tokens", output_tokens},
          {"prompt_tokens", prompt_tokens},
          {"wall_s", wall_s},
          {"ttft_s", pj(ttft)},
          {"tbt_s", pj(tbt)},
          {"e2e_s", pj(e2e)},
          {"output_tokens_per_s", output_tokens_per_s},
          {"requests_per_s", requests_per_s}};
}

std::string LoadResult::ToText() const {
  char buf[2048];
  int64_t errs = 0;
  for (const auto& [k, v] : errors) errs += v;
  int n = std::snprintf(buf, sizeof buf,
                        "requests: %lld sent, %lld ok, %lld disconnected on purpose, %lld errors in %.1f s\n"
                        "throughput: %.1f output tokens/s, %.2f requests/s (%lld output tokens)\n"
                        "%-6s %10s %10s %10s %10s\n",
                        static_cast<long long>(sent), static_cast<long long>(ok), static_cast<long long>(disconnected),
                        static_cast<long long>(errs), wall_s, output_tokens_per_s, requests_per_s,
                        static_cast<long long>(output_tokens), "", "p50 ms", "p95 ms", "p99 ms", "mean ms");
  std::string s(buf, static_cast<size_t>(n));
  for (const auto& [name, p] : {std::pair<const char*, const Percentiles&>{"TTFT", ttft}, {"TBT", tbt}, {"E2E", e2e}}) {
    n = std::snprintf(buf, sizeof buf, "%-6s %10.1f %10.1f %10.1f %10.1f\n", name, p.p50 * 1e3, p.p95 * 1e3,
                      p.p99 * 1e3, p.mean * 1e3);
    s.append(buf, static_cast<size_t>(n));
  }
  for (const auto& [k, v] : errors) s += "  error " + k + ": " + std::to_string(v) + "\n";
  return s;
}

void LoadGenerator::Stop() {
  stop_ = true;
  MutexLock lock(&clients_mu_);
  for (httplib::Client* c : clients_) c->stop();
}

Status ValidateLoadOptions(const LoadOptions& o) {
  if (o.concurrency <= 0 && o.rate <= 0) return Status::InvalidArgument("set --concurrency N or --rate R");
  if (o.requests <= 0 && o.duration_s <= 0) return Status::InvalidArgument("set --requests N or --duration D");
  if (o.prompt_tokens < 1) return Status::InvalidArgument("--prompt-tokens must be at least 1");
  if (o.max_tokens < 1) return Status::InvalidArgument("--max-tokens must be at least 1");
  if (o.shared_prefix_tokens < 0 || o.shared_prefix_tokens >= o.prompt_tokens)
    return Status::InvalidArgument("--shared-prefix-tokens (" + std::to_string(o.shared_prefix_tokens) +
                                   ") must be below --prompt-tokens (" + std::to_string(o.prompt_tokens) + ")");
  if (o.disconnect_fraction < 0 || o.disconnect_fraction > 1)
    return Status::InvalidArgument("--disconnect-fraction must be in [0, 1]");
  return Status::OK();
}

Status LoadGenerator::Run(LoadResult* out, const LoadProgress& progress) {
  VIGIL_RETURN_IF_ERROR(ValidateLoadOptions(o_));
  httplib::Headers auth;
  if (!o_.api_key.empty()) auth.emplace("Authorization", "Bearer " + o_.api_key);
  if (o_.model.empty()) {
    httplib::Client c(o_.url);
    c.set_connection_timeout(5);
    auto r = c.Get("/v1/models", auth);
    if (!r) return Status::Unavailable("cannot reach " + o_.url + ": " + httplib::to_string(r.error()));
    json j = json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.contains("data") || j["data"].empty())
      return Status::Unavailable(o_.url + "/v1/models lists no model; pass --model");
    o_.model = j["data"][0].value("id", "");
  }
  std::mt19937_64 prefix_rng(o_.seed);
  std::vector<int32_t> prefix(static_cast<size_t>(o_.shared_prefix_tokens));
  for (auto& t : prefix) t = static_cast<int32_t>(100 + prefix_rng() % static_cast<uint64_t>(o_.vocab - 100));

  // What the request threads share: the results, and the open loop's
  // hand-off (here, not in its branch: the pool threads outlive the branch
  // until the join below).
  struct Shared {
    Mutex mu;
    CondVar cv;  // queue grew, or done
    LoadResult res GUARDED_BY(mu);
    std::vector<double> ttft GUARDED_BY(mu), tbt GUARDED_BY(mu), e2e GUARDED_BY(mu);
    std::deque<std::pair<int64_t, Clock::time_point>> queue GUARDED_BY(mu);
    bool done GUARDED_BY(mu) = false;
  } sh;
  const auto start = Clock::now();
  std::atomic<int64_t> next{0};
  auto more = [&](int64_t i) {
    if (stop_) return false;
    if (o_.requests > 0 && i >= o_.requests) return false;
    if (o_.duration_s > 0 && Since(start) >= o_.duration_s) return false;
    return true;
  };

  // One request; `intended` is when it should have started (open loop).
  auto one = [&](httplib::Client& c, int64_t i, Clock::time_point intended) {
    std::mt19937_64 rng(o_.seed * 1000003ULL + static_cast<uint64_t>(i));
    int len = o_.prompt_tokens;
    if (o_.prompt_tokens_stddev > 0) {
      std::normal_distribution<double> nd(o_.prompt_tokens, o_.prompt_tokens_stddev);
      len = std::max(o_.shared_prefix_tokens + 1, static_cast<int>(std::lround(nd(rng))));
    }
    std::vector<int32_t> prompt = prefix;
    while (static_cast<int>(prompt.size()) < len)
      prompt.push_back(static_cast<int32_t>(100 + rng() % static_cast<uint64_t>(o_.vocab - 100)));
    const bool hang_up =
        o_.disconnect_fraction > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < o_.disconnect_fraction;
    json body = {{"model", o_.model}, {"prompt", prompt},    {"max_tokens", o_.max_tokens},
                 {"temperature", 0},  {"stream", o_.stream}, {"ignore_eos", o_.ignore_eos}};
    if (o_.stream) body["stream_options"] = {{"include_usage", true}};
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.headers = auth;
    req.set_header("Content-Type", "application/json");
    req.body = body.dump();
    double first = -1, last = -1;
    std::vector<double> gaps;
    int chunks = 0;
    int64_t tokens = 0;
    std::string pending;
    bool hung_up = false;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (stop_) return false;  // Stop() hangs up on what is in flight
      if (!o_.stream) {
        pending.append(data, n);
        return true;
      }
      pending.append(data, n);
      size_t pos;
      while ((pos = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, pos);
        pending.erase(0, pos + 1);
        if (line.rfind("data: ", 0) != 0) continue;
        const std::string payload = line.substr(6);
        if (payload == "[DONE]") continue;
        json j = json::parse(payload, nullptr, false);
        if (j.is_discarded()) continue;
        if (j.contains("usage") && j["usage"].is_object()) tokens = j["usage"].value("completion_tokens", tokens);
        if (!j.contains("choices") || j["choices"].empty()) continue;
        const json& ch = j["choices"][0];
        const bool content =
            (ch.contains("text") && ch["text"].is_string() && !ch["text"].get<std::string>().empty()) ||
            (ch.contains("delta") && ch["delta"].is_object() && ch["delta"].contains("content"));
        if (!content) continue;
        const double t = Since(intended);
        if (first < 0) first = t;
        else gaps.push_back(t - last);
        last = t;
        ++chunks;
        if (hang_up && chunks >= o_.disconnect_after) {
          hung_up = true;
          return false;
        }
      }
      return true;
    };
    httplib::Response r;
    httplib::Error err = httplib::Error::Success;
    const bool sent = c.send(req, r, err);
    const double total = Since(intended);
    MutexLock lock(&sh.mu);
    LoadResult& res = sh.res;
    ++res.sent;
    if (stop_ && !sent) {
      ++res.errors["cancelled_at_stop"];
      return;
    }
    if (hung_up) {
      ++res.disconnected;
      return;
    }
    if (!sent) {
      const std::string e = err == httplib::Error::Read         ? "read_timeout_or_reset"
                            : err == httplib::Error::Connection ? "connect"
                                                                : httplib::to_string(err);
      ++res.errors[e];
      return;
    }
    if (r.status != 200) {
      ++res.errors["http_" + std::to_string(r.status)];
      return;
    }
    if (!o_.stream) {
      json j = json::parse(pending, nullptr, false);
      if (!j.is_discarded() && j.contains("usage")) tokens = j["usage"].value("completion_tokens", 0);
      first = total;
    } else if (tokens == 0) {
      tokens = chunks;  // a server that sends no usage
    }
    ++res.ok;
    res.output_tokens += tokens;
    res.prompt_tokens += static_cast<int64_t>(prompt.size());
    if (first >= 0) sh.ttft.push_back(first);
    sh.tbt.insert(sh.tbt.end(), gaps.begin(), gaps.end());
    sh.e2e.push_back(total);
  };
  // A worker's client, registered so Stop() can close its socket.
  struct WorkerClient {
    LoadGenerator* g;
    httplib::Client c;
    WorkerClient(LoadGenerator* gen, const LoadOptions& o) : g(gen), c(o.url) {
      c.set_connection_timeout(10);
      c.set_read_timeout(static_cast<time_t>(o.request_timeout_s), 0);
      c.set_keep_alive(true);
      MutexLock lock(&g->clients_mu_);
      g->clients_.insert(&c);
    }
    ~WorkerClient() {
      MutexLock lock(&g->clients_mu_);
      g->clients_.erase(&c);
    }
  };

  std::vector<std::thread> threads;
  if (o_.concurrency > 0 && o_.rate <= 0) {
    for (int w = 0; w < o_.concurrency; ++w) {
      threads.emplace_back([&] {
        WorkerClient wc(this, o_);
        httplib::Client& c = wc.c;
        while (true) {
          const int64_t i = next.fetch_add(1);
          if (!more(i)) return;
          one(c, i, Clock::now());
        }
      });
    }
  } else {
    // Open loop: Poisson arrivals handed to a pool; a late pool still
    // measures from the intended start.
    const int pool = std::max(16, o_.concurrency > 0 ? o_.concurrency : 256);
    for (int w = 0; w < pool; ++w) {
      threads.emplace_back([&] {
        WorkerClient wc(this, o_);
        httplib::Client& c = wc.c;
        while (true) {
          std::pair<int64_t, Clock::time_point> job;
          {
            MutexLock lock(&sh.mu);
            while (!sh.done && sh.queue.empty()) sh.cv.Wait(&sh.mu);
            if (sh.queue.empty()) return;
            job = sh.queue.front();
            sh.queue.pop_front();
          }
          one(c, job.first, job.second);
        }
      });
    }
    std::mt19937_64 arrivals(o_.seed ^ 0x9e3779b97f4a7c15ULL);
    std::exponential_distribution<double> gap(o_.rate);
    auto t = Clock::now();
    for (int64_t i = 0; more(i); ++i) {
      t += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(arrivals)));
      std::this_thread::sleep_until(t);
      if (!more(i)) break;
      MutexLock lock(&sh.mu);
      sh.queue.emplace_back(i, t);
      sh.cv.Signal();
    }
    {
      MutexLock lock(&sh.mu);
      sh.done = true;
    }
    sh.cv.SignalAll();
  }
  std::atomic<bool> finished{false};
  std::thread reporter;
  if (progress) {
    reporter = std::thread([&] {
      while (!finished) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        LoadResult snap;
        {
          MutexLock lock(&sh.mu);
          snap = sh.res;
          snap.ttft = ComputePercentiles(sh.ttft);
          snap.e2e = ComputePercentiles(sh.e2e);
        }
        const double el = Since(start);
        snap.output_tokens_per_s = static_cast<double>(snap.output_tokens) / el;
        snap.requests_per_s = static_cast<double>(snap.ok) / el;
        if (!finished) progress(snap, el);
      }
    });
  }
  for (auto& th : threads) th.join();
  finished = true;
  if (reporter.joinable()) reporter.join();
  MutexLock lock(&sh.mu);  // every thread has joined; the analysis cannot know
  LoadResult& res = sh.res;
  res.wall_s = Since(start);
  res.ttft = ComputePercentiles(sh.ttft);
  res.tbt = ComputePercentiles(sh.tbt);
  res.e2e = ComputePercentiles(sh.e2e);
  res.output_tokens_per_s = static_cast<double>(res.output_tokens) / res.wall_s;
  res.requests_per_s = static_cast<double>(res.ok) / res.wall_s;
  *out = res;
  return Status::OK();
}

}  // namespace vigil::cli
