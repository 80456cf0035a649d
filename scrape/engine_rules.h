// Internal to the adapters: where each engine keeps each canonical input.
// One table per engine, so the metric names live in one place and docs/watch.md
// can be checked against them line by line.
#pragma once

#include <string>
#include <vector>

#include "scrape/adapter.h"

namespace vigil::scrape::internal {

enum class From {
  kGauge,      // a gauge sample: `name`
  kCounter,    // a counter sample: `name_total`, or `name` where the exporter adds no suffix
  kHistogram,  // `name_bucket{le}`, `name_sum`, `name_count`
  kHistSum,    // only `name_sum` (a histogram or summary), read as a counter
  kHistCount,  // only `name_count`, read as a counter
  // An info gauge (a setting as labels, value 1): `label` holds a Python
  // bool, "True" reads 1 and "False" 0, anything else no value. Read as a
  // gauge; its series describe an engine, not another instance, so they
  // apply to every instance whose engine/model_name they do not contradict.
  kInfoBool,
  // vLLM's lora_requests_info: an info gauge whose labels list the adapters
  // (running_lora_adapters, waiting_lora_adapters, comma-separated) and
  // max_lora; its value is the time it was set, so the latest series is
  // read. Gives lora_adapters_running, lora_adapters_waiting (adapters
  // waiting that are not loaded) and lora_max.
  kLoraInfo,
};

enum class Agg {
  kSum,  // summed over the labels that split a figure (finished_reason, mode, dp_rank)
  kMax,  // a ratio: the fullest pool is taken
};

// Where one engine keeps one canonical input (not a rules::Rule: no
// expression, no state; the adapters read the table).
struct InputMapping {
  std::string key;  // canonical input (adapter.h)
  From from = From::kGauge;
  std::vector<std::string> names;  // alternatives: the first the scrape exposes wins
  Agg agg = Agg::kSum;
  bool sum_names = false;           // add all names up instead (every one must be exposed)
  std::string label;                // if set, only series whose `label` is one of `values`
  std::vector<std::string> values;  // (kInfoBool: `label` is the one read, `values` unused)
  double scale = 1;                 // histograms: bounds and sum times this (Triton's are in ms)
  // Where any anchor mapping is exposed, only the instances its series name are
  // engines: Triton's nv_inference_* count every model of an ensemble
  // (preprocessing, postprocessing), the nv_trt_llm_* ones only the engine.
  bool anchor = false;
};

// Mappings in priority order: for each key the first exposed one is used.
// kUnknown gives an empty table.
const std::vector<InputMapping>& MappingsFor(EngineKind kind);

}  // namespace vigil::scrape::internal
