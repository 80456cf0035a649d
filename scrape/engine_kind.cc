// Engine kinds: their names, and which engine a scrape comes from, by the
// prefixes of its metric names (adapter.h).
#include <algorithm>
#include <iterator>
#include <string>

#include "scrape/adapter.h"

namespace vigil::scrape {
namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool HasLabel(const Sample& s, std::string_view name) {
  for (const auto& [k, v] : s.labels)
    if (k == name) return true;
  return false;
}

}  // namespace

const char* EngineKindName(EngineKind kind) {
  switch (kind) {
    case EngineKind::kVllm: return "vllm";
    case EngineKind::kSglang: return "sglang";
    case EngineKind::kTgi: return "tgi";
    case EngineKind::kLlamaCpp: return "llamacpp";
    case EngineKind::kVigil: return "vigil";
    case EngineKind::kTriton: return "triton";
    case EngineKind::kTrtllm: return "trtllm";
    case EngineKind::kDynamo: return "dynamo";
    case EngineKind::kUnknown: break;
  }
  return "unknown";
}

Status ParseEngineKind(std::string_view name, EngineKind* kind) {
  for (EngineKind k : kAllEngineKinds) {
    if (name == EngineKindName(k)) {
      *kind = k;
      return Status::OK();
    }
  }
  if (name == "auto") {
    *kind = EngineKind::kUnknown;
    return Status::OK();
  }
  return Status::InvalidArgument("unknown engine \"" + std::string(name.substr(0, 64)) +
                                 "\"; expected auto, vllm, sglang, tgi, llamacpp, vigil, triton, trtllm or dynamo");
}

EngineKind DetectEngine(const std::vector<ParsedFamily>& families) {
  static const std::pair<const char*, EngineKind> kPrefixes[] = {
      {"vllm:", EngineKind::kVllm},         {"sglang:", EngineKind::kSglang},
      {"tgi_", EngineKind::kTgi},           {"llamacpp:", EngineKind::kLlamaCpp},
      {"nv_trt_llm_", EngineKind::kTriton}, {"nv_inference_", EngineKind::kTriton},
      {"trtllm_", EngineKind::kTrtllm},     {"dynamo_frontend_", EngineKind::kDynamo}};
  constexpr size_t n = std::size(kPrefixes);
  size_t counts[n] = {};
  bool bare_trtllm = false;
  for (const ParsedFamily& f : families) {
    if (StartsWith(f.name, "vigil_")) return EngineKind::kVigil;
    for (size_t i = 0; i < n; ++i) counts[i] += StartsWith(f.name, kPrefixes[i].first);
    // trtllm-serve 1.0/1.1: vLLM's request metrics without a prefix, labelled engine_type.
    if (f.name == "time_to_first_token_seconds" || f.name == "request_success_total" || f.name == "request_success")
      for (const Sample& s : f.samples) bare_trtllm = bare_trtllm || HasLabel(s, "engine_type");
  }
  const size_t best = std::max_element(counts, counts + n) - counts;  // first on ties
  if (counts[best] > 0) return kPrefixes[best].second;
  return bare_trtllm ? EngineKind::kTrtllm : EngineKind::kUnknown;
}

}  // namespace vigil::scrape
