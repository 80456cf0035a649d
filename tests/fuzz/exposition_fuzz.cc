// The Prometheus text / OpenMetrics parser (scrape/exposition.cc) on
// arbitrary scrape bodies, in both formats. On error `out` must be empty.
#include <cstdlib>

#include "scrape/exposition.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  vigil::scrape::ParseLimits limits;
  limits.max_series = 1000;  // small limits so the fuzzer reaches them
  limits.max_label_value_bytes = 64;
  limits.max_labels_per_series = 8;
  const vigil::scrape::FamilyFilter keep = [](std::string_view f) { return f.size() % 2 == 0; };
  for (auto format : {vigil::scrape::Format::kPrometheusText, vigil::scrape::Format::kOpenMetrics}) {
    std::vector<vigil::scrape::ParsedFamily> out;
    vigil::scrape::ScrapeError reason;
    if (!vigil::scrape::ParseExposition(body, format, limits, &out, &reason).ok() && !out.empty()) std::abort();
    if (!vigil::scrape::ParseExposition(body, format, limits, &out, &reason, &keep).ok() && !out.empty()) std::abort();
  }
  return 0;
}
