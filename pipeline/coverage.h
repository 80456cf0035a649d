// What a watched engine cannot be diagnosed for: which signals a scrape can
// never yield, given the canonical inputs its exposition lacks (Adapt's
// `missing`). The report lists, per instance, each pathology rule that reads
// such a signal, so "no alert" is never mistaken for "healthy".
#pragma once

#include <string>
#include <vector>

namespace vigil::pipeline {

// "" when ScrapeDeriver can produce `signal` from a scrape lacking `missing`
// (its canonical inputs: monitor::ScrapeInputs, from the signal table);
// else why not ("kv_cache_usage is not exposed", "measured only for the
// hosted engine"). A `missing` entry is a canonical input's key, or
// "key (why)" with the adapter's MissingNote, which the answer then quotes.
std::string WhyUnavailable(const std::string& signal, const std::vector<std::string>& missing);

}  // namespace vigil::pipeline
