// vigilctl load: a load generator for any OpenAI-compatible server.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/loadgen.h"
#include "common/units.h"

namespace vigil::cli {

namespace {
int Fail(const std::string& msg) {
  std::fprintf(stderr, "vigilctl load: %s\n", msg.c_str());
  return 2;
}

// The flags as given; each one given overrides the preset (--scenario),
// which overrides the defaults.
struct LoadFlags {
  LoadOptions given;  // the flags' values, read only where the flag was given
  std::string scenario, duration;
  double scale = 1;
  int64_t concurrency = 0, max_tokens = 0, prompt_tokens = 0, shared_prefix = 0, seed = 0, vocab = 0,
          disconnect_after = 0;
  bool json = false, stream = false, no_stream = false;
  std::map<std::string, CLI::Option*> opt;
  bool Has(const std::string& name) const { return opt.at(name)->count() > 0; }
};

Status ApplyLoadFlags(const LoadFlags& f, LoadOptions* o) {
  if (f.Has("scenario")) {
    if (f.scale <= 0) return Status::InvalidArgument("--scale must be positive");
    if (!LoadPreset(f.scenario, f.scale, o)) {
      std::string names;
      for (const auto& n : LoadPresetNames()) names += (names.empty() ? "" : ", ") + n;
      return Status::InvalidArgument("--scenario: unknown \"" + f.scenario + "\" (" + names + ")");
    }
  }
  const LoadOptions& g = f.given;
  if (f.Has("url")) o->url = g.url;
  if (f.Has("model")) o->model = g.model;
  if (f.Has("api-key")) o->api_key = g.api_key;
  if (f.Has("concurrency")) o->concurrency = static_cast<int>(f.concurrency);
  if (f.Has("rate")) {
    o->rate = g.rate;
    o->concurrency = 0;
  }
  if (f.Has("requests")) o->requests = g.requests;
  if (f.Has("duration")) {
    VIGIL_RETURN_IF_ERROR(ParseDuration(f.duration, &o->duration_s).WithContext("--duration"));
    if (!f.Has("requests") && !f.Has("scenario")) o->requests = 0;
  }
  if (f.Has("prompt-tokens")) o->prompt_tokens = static_cast<int>(f.prompt_tokens);
  if (f.Has("prompt-tokens-stddev")) o->prompt_tokens_stddev = g.prompt_tokens_stddev;
  if (f.Has("max-tokens")) o->max_tokens = static_cast<int>(f.max_tokens);
  if (f.Has("shared-prefix-tokens")) o->shared_prefix_tokens = static_cast<int>(f.shared_prefix);
  if (f.Has("seed")) o->seed = static_cast<uint64_t>(f.seed);
  if (f.Has("vocab")) o->vocab = static_cast<int>(f.vocab);
  if (f.Has("disconnect-fraction")) o->disconnect_fraction = g.disconnect_fraction;
  if (f.Has("disconnect-after")) o->disconnect_after = static_cast<int>(f.disconnect_after);
  if (f.no_stream) o->stream = false;
  if (o->prompt_tokens < 1 || o->max_tokens < 1) return Status::InvalidArgument("token counts must be positive");
  if (o->vocab <= 100) return Status::InvalidArgument("--vocab must exceed 100");
  return Status::OK();
}

int Load(const LoadFlags& f) {
  LoadOptions o;
  o.concurrency = 8;
  o.requests = 100;
  if (Status fs = ApplyLoadFlags(f, &o); !fs.ok()) return Fail(fs.message());
  LoadGenerator gen(o);
  LoadResult r;
  const bool tty = isatty(STDERR_FILENO) == 1 && !f.json;
  LoadProgress progress;
  if (tty) {
    progress = [&o](const LoadResult& s, double el) {
      const double frac = o.requests > 0     ? static_cast<double>(s.sent) / static_cast<double>(o.requests)
                          : o.duration_s > 0 ? el / o.duration_s
                                             : 0;
      std::string bar(30, ' ');
      for (int i = 0; i < static_cast<int>(std::min(1.0, frac) * 30); ++i) bar[static_cast<size_t>(i)] = '#';
      std::fprintf(stderr, "\r[%s] %5.1fs  %lld done  %.1f tok/s  TTFT p50 %.0f ms  E2E p50 %.0f ms   ", bar.c_str(),
                   el, static_cast<long long>(s.ok), s.output_tokens_per_s, s.ttft.p50 * 1e3, s.e2e.p50 * 1e3);
      std::fflush(stderr);
    };
  }
  Status st = gen.Run(&r, progress);
  if (tty) std::fprintf(stderr, "\n");
  if (!st.ok()) return Fail(st.message());
  if (f.json) std::printf("%s\n", r.ToJson().dump(2).c_str());
  else std::printf("%s", r.ToText().c_str());
  return r.ok > 0 ? 0 : 1;
}

}  // namespace

void AddLoad(CLI::App* app, int* rc) {
  auto f = std::make_shared<LoadFlags>();
  CLI::App* l = AddCommand(app, "load",
                           "Drive any OpenAI-compatible server; TTFT, TBT, E2E percentiles, tokens/s, errors. "
                           "Exit 0 when a request succeeded.",
                           rc, [f] { return Load(*f); });
  const LoadOptions d;
  LoadOptions& g = f->given;
  auto& o = f->opt;
  auto def = [](CLI::Option* x, const std::string& v) { return x->default_str(v); };
  def(o["url"] = l->add_option("--url", g.url, "the server's base URL"), d.url);
  o["model"] = l->add_option("--model", g.model, "the model to ask for (default: the server's first /v1/models)");
  o["api-key"] = l->add_option("--api-key", g.api_key, "sent as Authorization: Bearer");
  o["scenario"] =
      l->add_option("--scenario", f->scenario, "a preset: low_load, saturation, long_prompts, long_outputs or burst");
  def(o["scale"] = l->add_option("--scale", f->scale, "shrink the preset's token and request counts by this"), "1");
  def(o["concurrency"] =
          l->add_option("--concurrency", f->concurrency, "closed loop: this many clients")->check(Decimal()),
      "8");
  o["rate"] = l->add_option("--rate", g.rate, "open loop: Poisson arrivals per second (instead of --concurrency)");
  def(o["requests"] = l->add_option("--requests", g.requests, "stop after this many (0: no limit)")->check(Decimal()),
      "100");
  o["duration"] =
      l->add_option("--duration", f->duration, "... or after this long, e.g. 60s (alone: no request limit)");
  def(o["prompt-tokens"] =
          l->add_option("--prompt-tokens", f->prompt_tokens, "prompt length in tokens")->check(Decimal()),
      std::to_string(d.prompt_tokens));
  def(o["prompt-tokens-stddev"] =
          l->add_option("--prompt-tokens-stddev", g.prompt_tokens_stddev, "spread of the prompt length"),
      "0");
  def(o["max-tokens"] = l->add_option("--max-tokens", f->max_tokens, "output tokens per request")->check(Decimal()),
      std::to_string(d.max_tokens));
  def(o["shared-prefix-tokens"] =
          l->add_option("--shared-prefix-tokens", f->shared_prefix, "a prefix common to every prompt")
              ->check(Decimal()),
      "0");
  def(o["seed"] = l->add_option("--seed", f->seed, "seeds the prompts and arrivals")->check(Decimal()),
      std::to_string(d.seed));
  def(o["vocab"] =
          l->add_option("--vocab", f->vocab, "prompt token ids are drawn below this (> 100)")->check(Decimal()),
      std::to_string(d.vocab));
  def(o["disconnect-fraction"] =
          l->add_option("--disconnect-fraction", g.disconnect_fraction, "clients that hang up mid-stream"),
      "0");
  def(o["disconnect-after"] =
          l->add_option("--disconnect-after", f->disconnect_after, "... after this many chunks")->check(Decimal()),
      std::to_string(d.disconnect_after));
  l->add_flag("--stream", f->stream, "stream the responses (the default)");
  l->add_flag("--no-stream", f->no_stream, "ask for whole responses instead");
  l->add_flag("--json", f->json, "print the result as JSON");
  l->footer("With --scenario, the preset's values replace the defaults shown; the flags given replace both.");
}

}  // namespace vigil::cli
