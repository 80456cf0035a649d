// The metric family types of the Prometheus text and OpenMetrics formats and
// which sample-name suffixes each owns, for exposition.cc's parser (checked
// on every sample line, hence inline). Internal to scrape/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace vigil::scrape::internal {

// Family types, compared as numbers: a sample's family is checked per line.
enum class Type : uint8_t {
  kCounter,
  kGauge,
  kHistogram,
  kSummary,
  kUntyped,
  kGaugeHistogram,
  kStateset,
  kInfo,
  kUnknown
};
inline constexpr std::string_view kTypeNames[] = {"counter",        "gauge",    "histogram", "summary", "untyped",
                                                  "gaugehistogram", "stateset", "info",      "unknown"};
inline std::string_view TypeName(Type t) { return kTypeNames[static_cast<size_t>(t)]; }

// The type a TYPE line names; false for one the format does not know.
inline bool ParseType(bool om, std::string_view t, Type* type) {
  for (size_t k = 0; k < std::size(kTypeNames); ++k) {
    if (t != kTypeNames[k]) continue;
    *type = static_cast<Type>(k);
    return *type <= Type::kSummary || (om ? *type > Type::kUntyped : *type == Type::kUntyped);
  }
  return false;
}

inline constexpr std::string_view kSuffixes[] = {"",     "_total",  "_created", "_bucket", "_count",
                                                 "_sum", "_gcount", "_gsum",    "_info"};

// Whether a family of `type` owns the samples named family + `suffix`.
inline bool OwnsSuffix(bool om, Type type, std::string_view suffix) {
  auto is = [suffix](std::string_view a) { return suffix == a; };
  if (type == Type::kHistogram) return is("_bucket") || is("_sum") || is("_count") || (om && is("_created"));
  if (type == Type::kSummary) return suffix.empty() || is("_sum") || is("_count") || (om && is("_created"));
  if (!om) return suffix.empty();  // 0.0.4 counters carry _total in the family name
  if (type == Type::kCounter) return is("_total") || is("_created");
  if (type == Type::kGaugeHistogram) return is("_bucket") || is("_gsum") || is("_gcount");
  if (type == Type::kInfo) return is("_info");
  return suffix.empty();  // gauge, stateset, unknown
}

}  // namespace vigil::scrape::internal
