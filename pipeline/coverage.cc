#include "pipeline/coverage.h"

#include <algorithm>
#include <map>

namespace vigil::pipeline {

namespace {

// Signal -> the canonical inputs (scrape/adapter.h) it is derived from.
const std::map<std::string, std::vector<std::string>>& Inputs() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"requests_running", {"requests_running"}},
      {"requests_waiting", {"requests_waiting"}},
      {"kv_cache_usage", {"kv_cache_usage"}},
      {"kv_blocks_total", {"kv_blocks_total"}},
      {"kv_blocks_used", {"kv_blocks_used"}},
      {"avg_sequence_length", {"avg_sequence_length"}},
      {"max_num_seqs", {"max_num_seqs"}},
      {"block_size", {"block_size"}},
      {"kv_blocks_orphaned", {"kv_blocks_orphaned"}},
      {"memory_used_bytes", {"memory_used_bytes"}},
      {"busy_fraction", {"busy_fraction"}},
      {"prefix_caching_enabled", {"prefix_caching_enabled"}},
      {"requests_stuck", {"requests_stuck"}},
      {"engine_stalled_seconds", {"progress_total"}},
      {"engine_stall_timeout_seconds", {"progress_total"}},
      {"preemptions_total", {"preemptions_total"}},
      {"prefix_cache_queries_total", {"prefix_cache_queries_total"}},
      {"prefix_cache_hits_total", {"prefix_cache_hits_total"}},
      {"prompt_tokens_total", {"prompt_tokens_total"}},
      {"generation_tokens_total", {"generation_tokens_total"}},
      {"requests_finished_total", {"requests_finished_total"}},
      {"requests_aborted_total", {"requests_aborted_total"}},
      {"ttft_p50", {"ttft"}},
      {"ttft_p95", {"ttft"}},
      {"ttft_p99", {"ttft"}},
      {"tbt_p50", {"tbt"}},
      {"tbt_p95", {"tbt"}},
      {"e2e_p50", {"e2e"}},
      {"e2e_p95", {"e2e"}},
      {"queue_time_p95", {"queue_time"}},
      {"prefill_time_p95", {"prefill_time"}},
      {"output_tokens_per_s", {"generation_tokens_total"}},
      {"requests_per_s", {"requests_finished_total"}},
      {"prefix_cache_hit_rate", {"prefix_cache_queries_total", "prefix_cache_hits_total"}},
      {"preemptions_per_s", {"preemptions_total"}},
      {"kv_evictions_total", {"kv_evictions_total"}},
      {"kv_evictions_per_s", {"kv_evictions_total"}},
      {"requests_deferred", {"requests_deferred"}},
      {"spec_accept_rate", {"spec_accept_rate"}},
      {"lora_adapters_running", {"lora_adapters_running"}},
      {"lora_adapters_waiting", {"lora_adapters_waiting"}},
      {"lora_max", {"lora_max"}},
      {"target_up", {}},
      {"target_health_up", {}},
  };
  return m;
}

}  // namespace

std::string WhyUnavailable(const std::string& signal, const std::vector<std::string>& missing) {
  auto it = Inputs().find(signal);
  if (it == Inputs().end()) return signal + " is measured only for the hosted engine";
  // An entry is an input's key, or "key (why)" where the adapter knows why.
  std::string out, notes;
  for (const auto& in : it->second)
    for (const std::string& m : missing)
      if (m == in || (m.size() > in.size() + 2 && m.compare(0, in.size() + 2, in + " (") == 0)) {
        out += (out.empty() ? "" : ", ") + in;
        if (m != in) notes += ": " + m.substr(in.size() + 2, m.size() - in.size() - 3);
        break;
      }
  return out.empty() ? "" : signal + " needs " + out + ", which this engine does not expose" + notes;
}

}  // namespace vigil::pipeline
