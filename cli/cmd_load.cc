// vigilctl load: a load generator for any OpenAI-compatible server.
#include <unistd.h>

#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/loadgen.h"
#include "common/units.h"

namespace vigil::cli {

namespace {
int Fail(const std::string& msg) {
  std::fprintf(stderr, "vigilctl load: %s\n", msg.c_str());
  return 2;
}
}  // namespace

Status ParseLoadFlags(const Args& a, LoadOptions* o) {
  if (a.Has("scenario")) {
    double scale = 1;
    VIGIL_RETURN_IF_ERROR(a.GetDouble("scale", 1, &scale));
    if (scale <= 0) return Status::InvalidArgument("--scale must be positive");
    if (!LoadPreset(a.Get("scenario"), scale, o)) {
      std::string names;
      for (const auto& n : LoadPresetNames()) names += (names.empty() ? "" : ", ") + n;
      return Status::InvalidArgument("--scenario: unknown \"" + a.Get("scenario") + "\" (" + names + ")");
    }
  }
  o->url = a.Get("url", o->url);
  o->model = a.Get("model", o->model);
  o->api_key = a.Get("api-key", o->api_key);
  int64_t v = 0;
  double d = 0;
  VIGIL_RETURN_IF_ERROR(a.GetInt("concurrency", o->concurrency, &v));
  o->concurrency = static_cast<int>(v);
  VIGIL_RETURN_IF_ERROR(a.GetDouble("rate", o->rate, &o->rate));
  if (a.Has("rate")) o->concurrency = 0;
  VIGIL_RETURN_IF_ERROR(a.GetInt("requests", o->requests, &o->requests));
  if (a.Has("duration")) {
    VIGIL_RETURN_IF_ERROR(ParseDuration(a.Get("duration"), &o->duration_s).WithContext("--duration"));
    if (!a.Has("requests") && !a.Has("scenario")) o->requests = 0;
  }
  VIGIL_RETURN_IF_ERROR(a.GetInt("prompt-tokens", o->prompt_tokens, &v));
  o->prompt_tokens = static_cast<int>(v);
  VIGIL_RETURN_IF_ERROR(a.GetDouble("prompt-tokens-stddev", o->prompt_tokens_stddev, &o->prompt_tokens_stddev));
  VIGIL_RETURN_IF_ERROR(a.GetInt("max-tokens", o->max_tokens, &v));
  o->max_tokens = static_cast<int>(v);
  VIGIL_RETURN_IF_ERROR(a.GetInt("shared-prefix-tokens", o->shared_prefix_tokens, &v));
  o->shared_prefix_tokens = static_cast<int>(v);
  VIGIL_RETURN_IF_ERROR(a.GetInt("seed", static_cast<int64_t>(o->seed), &v));
  o->seed = static_cast<uint64_t>(v);
  VIGIL_RETURN_IF_ERROR(a.GetInt("vocab", o->vocab, &v));
  o->vocab = static_cast<int>(v);
  VIGIL_RETURN_IF_ERROR(a.GetDouble("disconnect-fraction", o->disconnect_fraction, &o->disconnect_fraction));
  VIGIL_RETURN_IF_ERROR(a.GetInt("disconnect-after", o->disconnect_after, &v));
  o->disconnect_after = static_cast<int>(v);
  if (a.Has("no-stream")) o->stream = false;
  if (o->prompt_tokens < 1 || o->max_tokens < 1) return Status::InvalidArgument("token counts must be positive");
  if (o->vocab <= 100) return Status::InvalidArgument("--vocab must exceed 100");
  (void)d;
  return Status::OK();
}

const std::set<std::string> kLoadFlags = {"url", "model", "api-key", "scenario", "scale", "concurrency", "rate",
                                          "requests", "duration", "prompt-tokens", "prompt-tokens-stddev",
                                          "max-tokens", "shared-prefix-tokens", "seed", "vocab",
                                          "disconnect-fraction", "disconnect-after"};

int CmdLoad(int argc, char** argv) {
  Args a;
  std::set<std::string> flags = kLoadFlags;
  Status st = a.Parse(argc, argv, flags, {"json", "stream", "no-stream"});
  if (!st.ok()) return Fail(st.message());
  LoadOptions o;
  o.concurrency = 8;
  o.requests = 100;
  if (Status fs = ParseLoadFlags(a, &o); !fs.ok()) return Fail(fs.message());
  LoadGenerator gen(o);
  LoadResult r;
  const bool tty = isatty(STDERR_FILENO) == 1 && !a.Has("json");
  LoadProgress progress;
  if (tty) {
    progress = [&o](const LoadResult& s, double el) {
      const double frac = o.requests > 0 ? static_cast<double>(s.sent) / static_cast<double>(o.requests)
                                         : o.duration_s > 0 ? el / o.duration_s : 0;
      std::string bar(30, ' ');
      for (int i = 0; i < static_cast<int>(std::min(1.0, frac) * 30); ++i) bar[static_cast<size_t>(i)] = '#';
      std::fprintf(stderr, "\r[%s] %5.1fs  %lld done  %.1f tok/s  TTFT p50 %.0f ms  E2E p50 %.0f ms   ", bar.c_str(),
                   el, static_cast<long long>(s.ok), s.output_tokens_per_s, s.ttft.p50 * 1e3, s.e2e.p50 * 1e3);
      std::fflush(stderr);
    };
  }
  st = gen.Run(&r, progress);
  if (tty) std::fprintf(stderr, "\n");
  if (!st.ok()) return Fail(st.message());
  if (a.Has("json")) std::printf("%s\n", r.ToJson().dump(2).c_str());
  else std::printf("%s", r.ToText().c_str());
  return r.ok > 0 ? 0 : 1;
}

}  // namespace vigil::cli
