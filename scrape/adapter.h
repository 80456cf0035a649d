// Engine adapters for watch mode: map one parsed /metrics scrape of vLLM,
// SGLang, TGI, llama.cpp's server or another vigild onto Vigil's canonical
// signal inputs, one InstanceReading per engine behind the endpoint.
// Why: the monitor, detectors and rules speak Vigil's signal names; every
// engine names (and sometimes defines) the same quantities differently, and
// some do not expose them at all. A signal an engine does not expose is
// ABSENT from the maps (and listed in `missing`), never 0, so rules do not
// match on a fake value and the product can say what cannot be diagnosed.
// Pure and torch-free: no clock, no I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "scrape/exposition.h"

namespace vigil::scrape {

// kTriton: Triton Inference Server with the TensorRT-LLM backend (nv_*);
// kTrtllm: trtllm-serve (unprefixed names, or trtllm_); kDynamo: NVIDIA
// Dynamo's HTTP frontend (dynamo_frontend_*).
enum class EngineKind { kVllm, kSglang, kTgi, kLlamaCpp, kVigil, kTriton, kTrtllm, kDynamo, kUnknown };
inline constexpr EngineKind kAllEngineKinds[] = {EngineKind::kVllm,     EngineKind::kSglang, EngineKind::kTgi,
                                                 EngineKind::kLlamaCpp, EngineKind::kVigil,  EngineKind::kTriton,
                                                 EngineKind::kTrtllm,   EngineKind::kDynamo};

// "vllm", "sglang", "tgi", "llamacpp", "vigil", "triton", "trtllm",
// "dynamo"; "unknown" for kUnknown.
const char* EngineKindName(EngineKind kind);

// The names above, plus "auto" (-> kUnknown: detect from the scrape).
// InvalidArgument naming the accepted values otherwise.
Status ParseEngineKind(std::string_view name, EngineKind* kind);

// Which engine served this scrape, from its metric names. vigild exposes
// vLLM's `vllm:` names as well as its own, so any `vigil_` family means
// vigil; otherwise the prefix with the most families wins (`vllm:`,
// `sglang:`, `tgi_`, `llamacpp:`, `nv_trt_llm_`/`nv_inference_` for
// Triton, `trtllm_`, `dynamo_frontend_`). trtllm-serve before its prefix
// (TensorRT-LLM 1.0/1.1) serves bare names: `time_to_first_token_seconds`
// or `request_success_total` with an `engine_type` label and no engine
// prefix anywhere means trtllm. kUnknown when none is present.
EngineKind DetectEngine(const std::vector<ParsedFamily>& families);

// One classic histogram: cumulative counts per upper bound, sorted, unique,
// the last bound +Inf. sum/count are the _sum/_count samples (count falls
// back to the +Inf bucket when _count is not exposed).
struct Buckets {
  std::vector<double> le;
  std::vector<double> cumulative;
  double sum = 0, count = 0;
};

// One engine's reading, keyed by Vigil's canonical names:
//   gauges:     requests_running, requests_waiting, kv_cache_usage (0..1),
//               kv_blocks_used, kv_blocks_orphaned, busy_fraction (0..1),
//               memory_used_bytes, prefix_caching_enabled (0/1),
//               requests_stuck (all but the first three: vigild only,
//               except prefix_caching_enabled, in vLLM's cache_config_info),
//               kv_evictions_recent (evictions since the engine's previous
//               stats publication: SGLang's num_retracted_reqs gauge, which
//               the deriver adds up into kv_evictions_total)
//   counters:   preemptions_total, kv_evictions_total (vigild: KV blocks;
//               vLLM: preemptions; SGLang: retractions; docs/rules.md),
//               prefix_cache_queries_total,
//               prefix_cache_hits_total, prompt_tokens_total,
//               generation_tokens_total, requests_finished_total (stop +
//               length), requests_aborted_total, progress_total (the
//               engine's own progress counter, for engine_stalled_seconds)
//   histograms: ttft, tbt, e2e, queue_time, prefill_time
struct InstanceReading {
  // "" for a single engine; else the `engine` label value (vLLM data
  // parallel), the model_name, or "model_name/engine" when both vary.
  std::string instance;
  std::map<std::string, double> gauges;
  std::map<std::string, double> counters;
  std::map<std::string, Buckets> histograms;
};

// Whether any engine's adapter reads the family named `family` (with or
// without a _total/_bucket/_sum/_count/_info suffix): the filter that keeps
// a scrape's other families (python_gc_*, process_*, unused histograms)
// parsed and checked but not copied out (ParseExposition's `keep`).
bool AdaptersRead(std::string_view family);

// Every canonical key above, gauges then counters then histograms, less
// kv_evictions_recent: a stand-in for the eviction counters, never missing.
const std::vector<std::string>& CanonicalInputs();

// Why `kind` does not expose the canonical input `key`, where there is more
// to say than that it is absent ("" otherwise): a name upstream removed, a
// figure that lives elsewhere. For the report's cannot_diagnose.
std::string MissingNote(EngineKind kind, std::string_view key);

// Maps `families` as served by `kind` (kUnknown: DetectEngine first) into
// one InstanceReading per engine, sorted by instance. Series are split into
// instances by their `engine` and `model_name` labels; other labels
// (finished_reason, mode, method, dp_rank) are summed over, except the
// replica labels tp_rank/pp_rank/moe_ep_rank (the same figure reported by
// every rank: the largest is taken) and kv_cache_usage/busy_fraction
// (ratios: the fullest pool is taken). An info gauge (vLLM's
// cache_config_info) makes no instance of its own: it applies to those
// whose engine/model_name labels it does not contradict. A counter family
// that is declared but has no series yet reads 0; a gauge or histogram
// without series stays absent.
// `missing` (optional) lists the canonical keys this scrape does not expose
// at all, in CanonicalInputs() order. Errors (out cleared): NotFound when
// kUnknown and nothing is detected; InvalidArgument for a histogram with an
// unparsable `le`, without a +Inf bucket, or with its bounds out of order
// within a series, unless `dropped` is given: then that family is left out
// of every reading and appended there (reason bad_le, no_inf_bucket or
// bucket_order), and the rest is used, as Prometheus keeps the rest of
// such a scrape.
Status Adapt(EngineKind kind, const std::vector<ParsedFamily>& families, std::vector<InstanceReading>* out,
             std::vector<std::string>* missing = nullptr, std::vector<DroppedFamily>* dropped = nullptr);

}  // namespace vigil::scrape
