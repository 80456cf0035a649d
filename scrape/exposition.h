// Parser for scrape bodies in the Prometheus text format (0.0.4) and the
// OpenMetrics 1.0 text format.
// Why: Vigil scrapes /metrics of processes it does not control, so every body
// is treated as hostile. Guarantees: the size limit is checked before any
// parsing; series, families, labels and label values are bounded by
// ParseLimits; no recursion; one pass over the body (duplicate detection
// sorts 128-bit series hashes and families are found in an ordered index,
// so adversarial keys cannot force hash collisions); never
// throws or crashes; on any error `out` is left empty, never partially
// filled, since a partial exposition must be treated as erroneous in full.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vigil::scrape {

struct Sample {
  std::string name;  // as exposed, suffix included ("x_bucket", "x_total")
  // Sorted by name; labels with an empty value are dropped (the formats say
  // an empty value is the same as no label).
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

// One family as parsed from a scrape body (a string type, raw samples);
// not vigil::MetricFamily (common/metric_family.h), which is what a
// component exposes on vigild's own /metrics.
struct ParsedFamily {
  std::string name;
  // counter, gauge, histogram, summary, untyped (0.0.4); counter, gauge,
  // histogram, gaugehistogram, summary, stateset, info, unknown (OpenMetrics).
  std::string type;
  std::string help;             // unescaped
  std::vector<Sample> samples;  // empty for a family the caller's filter does not keep
  size_t sample_count = 0;      // every sample parsed, kept or not
};

// Which families' samples to keep (by family name). The others are parsed
// and checked in full (syntax, limits, duplicates) but not stored: a scrape
// is validated whole, and only what the caller reads is copied out.
using FamilyFilter = std::function<bool(std::string_view family)>;

struct ParseLimits {
  size_t max_bytes = 16 << 20;
  size_t max_series = 200000;  // also bounds the number of families
  size_t max_label_value_bytes = 4096;
  size_t max_labels_per_series = 64;
};

enum class Format { kPrometheusText, kOpenMetrics };

// Why a scrape was rejected, for a per-reason failure counter.
enum class ScrapeError { kTooLarge, kTooManySeries, kSyntax, kBadUtf8, kDuplicateSeries, kMissingEof };
// "too_large", "too_many_series", "syntax", "bad_utf8", "duplicate_series", "missing_eof".
const char* ScrapeErrorName(ScrapeError e);

// A family left out of a scrape that is otherwise used: Prometheus reads
// the rest of such a body, so Vigil does too (docs/watch.md).
struct DroppedFamily {
  std::string family;
  std::string reason;  // for vigil_target_scrape_errors_total: duplicate_series, no_inf_bucket, ...
  std::string detail;  // "line 12: ..." or what is wrong
};

// Parses a whole scrape body into `out` (replacing its contents; its objects
// are reused, so a caller parsing into the same vector scrape after scrape
// stops allocating for the families and samples it keeps). On error:
// InvalidArgument (ResourceExhausted for the two limits) whose message names
// the line ("line 12: ...") and the problem, `*reason` set when non-null, and
// `out` cleared. Timestamps and exemplars are checked, then dropped.
// `keep` (optional): see FamilyFilter.
// `dropped` (optional): tolerate duplicate series as Prometheus does (its
// text parser and promtool read such a body; its scrape keeps the rest):
// each family holding one is left out of `out` and listed here, the rest
// is returned. Without it a duplicate fails the whole scrape.
Status ParseExposition(std::string_view body, Format format, const ParseLimits& limits, std::vector<ParsedFamily>* out,
                       ScrapeError* reason = nullptr, const FamilyFilter* keep = nullptr,
                       std::vector<DroppedFamily>* dropped = nullptr);

// "application/openmetrics-text; version=1.0.0" -> kOpenMetrics; anything
// else (text/plain; version=0.0.4, missing, unknown) -> kPrometheusText.
Format FormatFromContentType(std::string_view content_type);

}  // namespace vigil::scrape
