#include "scrape/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

namespace vigil::scrape {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

const ParsedFamily* Find(const std::vector<ParsedFamily>& fams, const std::string& name) {
  for (const auto& f : fams)
    if (f.name == name) return &f;
  return nullptr;
}

// Parses a body that must be rejected; checks the reason and that nothing leaks out.
Status Reject(std::string_view body, Format format, ScrapeError want, ParseLimits limits = {}) {
  std::vector<ParsedFamily> out(1);  // pre-filled: must come back empty
  out[0].name = "stale";
  ScrapeError reason = ScrapeError::kSyntax;
  if (want == ScrapeError::kSyntax) reason = ScrapeError::kTooLarge;  // prove it is written
  Status st = ParseExposition(body, format, limits, &out, &reason);
  EXPECT_FALSE(st.ok()) << body.substr(0, 200);
  EXPECT_EQ(ScrapeErrorName(reason), std::string(ScrapeErrorName(want))) << st.ToString();
  EXPECT_TRUE(out.empty()) << st.ToString();
  return st;
}

std::vector<ParsedFamily> Accept(std::string_view body, Format format = Format::kPrometheusText) {
  std::vector<ParsedFamily> out;
  Status st = ParseExposition(body, format, ParseLimits{}, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// What vLLM v1 serves on /metrics (prometheus_client, text 0.0.4), trimmed.
constexpr char kVllm[] = R"(# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 0.0
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.\nCounted per request; backslash \\ kept.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="m"} 12345.0
# HELP vllm:prompt_tokens_created Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_created gauge
vllm:prompt_tokens_created{engine="0",model_name="m"} 1.7330e+09
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="m"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.005",model_name="m"} 2.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.02",model_name="m"} 7.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 9.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 9.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 0.0931
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} NaN
)";

TEST(ScrapeExpositionTest, VllmPrometheusText) {
  const auto fams = Accept(kVllm);
  ASSERT_EQ(fams.size(), 6u);
  EXPECT_EQ(fams[0].name, "vllm:num_requests_running");
  EXPECT_EQ(fams[0].type, "gauge");
  ASSERT_EQ(fams[0].samples.size(), 1u);
  EXPECT_EQ(fams[0].samples[0].value, 3.0);
  EXPECT_EQ(fams[0].samples[0].labels, (Labels{{"engine", "0"}, {"model_name", "m"}}));

  const ParsedFamily* prompt = Find(fams, "vllm:prompt_tokens_total");
  ASSERT_NE(prompt, nullptr);
  EXPECT_EQ(prompt->type, "counter");
  EXPECT_EQ(prompt->help, "Number of prefill tokens processed.\nCounted per request; backslash \\ kept.");
  EXPECT_EQ(prompt->samples[0].value, 12345.0);
  EXPECT_EQ(Find(fams, "vllm:prompt_tokens_created")->samples[0].value, 1.733e9);

  const ParsedFamily* ttft = Find(fams, "vllm:time_to_first_token_seconds");
  ASSERT_NE(ttft, nullptr);
  EXPECT_EQ(ttft->type, "histogram");
  ASSERT_EQ(ttft->samples.size(), 6u);  // four buckets, count, sum: one family
  EXPECT_EQ(ttft->samples[3].name, "vllm:time_to_first_token_seconds_bucket");
  EXPECT_EQ(ttft->samples[3].labels, (Labels{{"engine", "0"}, {"le", "+Inf"}, {"model_name", "m"}}));
  EXPECT_EQ(ttft->samples[3].value, 9.0);
  EXPECT_EQ(ttft->samples[5].name, "vllm:time_to_first_token_seconds_sum");
  EXPECT_DOUBLE_EQ(ttft->samples[5].value, 0.0931);
  EXPECT_TRUE(std::isnan(Find(fams, "vllm:gpu_cache_usage_perc")->samples[0].value));
}

constexpr char kOpenMetrics[] = R"(# TYPE vllm:prompt_tokens counter
# UNIT vllm:prompt_tokens tokens
# HELP vllm:prompt_tokens Prefill tokens, \"quoted\".
vllm:prompt_tokens_total{model_name="m"} 17.0 # {trace_id="abc123"} 1.0 1520879607.789
vllm:prompt_tokens_created{model_name="m"} 1520430000.123
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{le="0.5",model_name="m"} 3 # {trace_id="x"} 0.4
vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="m"} 4
vllm:e2e_request_latency_seconds_count{model_name="m"} 4
vllm:e2e_request_latency_seconds_sum{model_name="m"} 2.5
vllm:e2e_request_latency_seconds_created{model_name="m"} 1520430000.123
# TYPE build info
build_info{version="0.8.1"} 1
# TYPE queue_depth gauge
queue_depth 17.0 1520879607.789
queue_depth_peak{} -Inf
# EOF
)";

TEST(ScrapeExpositionTest, OpenMetricsWithCreatedExemplarsAndEof) {
  const auto fams = Accept(kOpenMetrics, Format::kOpenMetrics);
  ASSERT_EQ(fams.size(), 5u);
  EXPECT_EQ(fams[0].name, "vllm:prompt_tokens");
  EXPECT_EQ(fams[0].type, "counter");
  EXPECT_EQ(fams[0].help, "Prefill tokens, \"quoted\".");
  ASSERT_EQ(fams[0].samples.size(), 2u);
  EXPECT_EQ(fams[0].samples[0].name, "vllm:prompt_tokens_total");
  EXPECT_EQ(fams[0].samples[0].value, 17.0);  // the exemplar's 1.0 is dropped
  EXPECT_EQ(fams[0].samples[1].name, "vllm:prompt_tokens_created");
  EXPECT_EQ(fams[1].type, "histogram");
  EXPECT_EQ(fams[1].samples.size(), 5u);
  EXPECT_EQ(fams[2].type, "info");
  EXPECT_EQ(fams[2].samples[0].name, "build_info");
  EXPECT_EQ(fams[3].samples[0].value, 17.0);
  EXPECT_EQ(fams[4].name, "queue_depth_peak");
  EXPECT_EQ(fams[4].type, "unknown");  // no TYPE
  EXPECT_EQ(fams[4].samples[0].value, -HUGE_VAL);
  // "# EOF" without the final newline is fine too.
  EXPECT_EQ(Accept("a 1\n# EOF", Format::kOpenMetrics).size(), 1u);
}

TEST(ScrapeExpositionTest, ValuesAsGoParseFloatReadsThem) {
  const auto fams = Accept(
      "a 1\nb -2.5e-3\nc +Inf\nd -Inf\ne Inf\nf NaN\ng .5\nh 5.\ni 0x1p-2\nj 1_000.5\nk 1e-400\nl infinity\nm nan\n");
  ASSERT_EQ(fams.size(), 13u);
  const double want[] = {1, -2.5e-3, HUGE_VAL, -HUGE_VAL, HUGE_VAL, NAN, 0.5, 5, 0.25, 1000.5, 0, HUGE_VAL, NAN};
  for (size_t i = 0; i < fams.size(); ++i) {
    EXPECT_EQ(fams[i].type, "untyped") << fams[i].name;
    if (std::isnan(want[i])) EXPECT_TRUE(std::isnan(fams[i].samples[0].value)) << fams[i].name;
    else EXPECT_EQ(fams[i].samples[0].value, want[i]) << fams[i].name;
  }
  for (const char* bad : {"a 1e400\n", "a 1e\n", "a .\n", "a 1_\n", "a _1\n", "a 1__0\n", "a 0x10\n", "a +NaN\n",
                          "a 1,5\n", "a \n", "a 12abc\n", "a --1\n"})
    Reject(bad, Format::kPrometheusText, ScrapeError::kSyntax);
  // OpenMetrics numbers are plain decimals.
  for (const char* bad : {"a 0x1p-2\n# EOF\n", "a 1_000\n# EOF\n"})
    Reject(bad, Format::kOpenMetrics, ScrapeError::kSyntax);
  EXPECT_EQ(Accept("a +inf\nb -Infinity\nc NaN\n# EOF\n", Format::kOpenMetrics).size(), 3u);
}

TEST(ScrapeExpositionTest, PlainDecimalsReadAsStrtodReadsThem) {
  // The fast path for [-]digits[.digits] must round exactly as the general one.
  std::string body;
  std::vector<std::string> texts = {"0.1",
                                    "-0",
                                    "0.30000000000000004",
                                    "9007199254740992",
                                    "9007199254740993",
                                    "1234567890123456789",
                                    "12345678901234567890",
                                    "0.0000000000000000001",
                                    "123456.7890123",
                                    "-17.25",
                                    "1754550012.3456789"};
  uint64_t x = 88172645463325252ULL;  // xorshift: reproducible
  for (int i = 0; i < 2000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::string t = std::to_string(x % 100000000000ULL);
    t.insert(t.size() - std::min<size_t>(t.size(), (x >> 40) % 12), ".");
    texts.push_back(((x >> 60) & 1 ? "-" : "") + t);
  }
  for (size_t i = 0; i < texts.size(); ++i) body += "m{i=\"" + std::to_string(i) + "\"} " + texts[i] + "\n";
  const auto fams = Accept(body);
  ASSERT_EQ(fams.size(), 1u);
  ASSERT_EQ(fams[0].samples.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const double want = std::strtod(texts[i].c_str(), nullptr);
    EXPECT_EQ(fams[0].samples[i].value, want) << texts[i];
    EXPECT_EQ(std::signbit(fams[0].samples[i].value), std::signbit(want)) << texts[i];
  }
}

TEST(ScrapeExpositionTest, ParsingIntoTheSameVectorGivesWhatAFreshOneWould) {
  // `out`'s objects are reused: nothing of the earlier scrape may show through.
  const std::string big = std::string(kVllm) + "extra{a=\"1\",b=\"2\",c=\"3\"} 4\n";
  const std::string small =
      "# HELP vllm:num_requests_running Other help.\nvllm:num_requests_running{engine=\"1\"} 7\n"
      "# TYPE vllm:prompt_tokens_total counter\nvllm:prompt_tokens_total 2\n";
  std::vector<ParsedFamily> reused;
  for (const std::string* body : {&big, &small, &big, &small}) {
    const auto fresh = Accept(*body);
    ASSERT_TRUE(ParseExposition(*body, Format::kPrometheusText, ParseLimits{}, &reused).ok());
    ASSERT_EQ(reused.size(), fresh.size());
    for (size_t i = 0; i < fresh.size(); ++i) {
      EXPECT_EQ(reused[i].name, fresh[i].name);
      EXPECT_EQ(reused[i].type, fresh[i].type);
      EXPECT_EQ(reused[i].help, fresh[i].help);
      EXPECT_EQ(reused[i].sample_count, fresh[i].sample_count);
      ASSERT_EQ(reused[i].samples.size(), fresh[i].samples.size()) << fresh[i].name;
      for (size_t k = 0; k < fresh[i].samples.size(); ++k) {
        EXPECT_EQ(reused[i].samples[k].name, fresh[i].samples[k].name);
        EXPECT_EQ(reused[i].samples[k].labels, fresh[i].samples[k].labels);
        EXPECT_TRUE(reused[i].samples[k].value == fresh[i].samples[k].value ||
                    (std::isnan(reused[i].samples[k].value) && std::isnan(fresh[i].samples[k].value)));
      }
    }
  }
}

TEST(ScrapeExpositionTest, TimestampsAreParsedAndDropped) {
  auto fams = Accept("a 1 1712345678901\nb 2 -5\n");
  EXPECT_EQ(fams[0].samples[0].value, 1);
  EXPECT_EQ(Reject("a 1 1.5\n", Format::kPrometheusText, ScrapeError::kSyntax).message(),
            "line 1: invalid timestamp \"1.5\" (integer milliseconds)");
  Reject("a 1 99999999999999999999\n", Format::kPrometheusText, ScrapeError::kSyntax);  // past int64
  Reject("a 1 2 3\n", Format::kPrometheusText, ScrapeError::kSyntax);
  fams = Accept("a 1 1712345678.901\n# EOF\n", Format::kOpenMetrics);  // seconds, float
  EXPECT_EQ(fams[0].samples[0].value, 1);
  Reject("a 1 NaN\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  Reject("a 1 \n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);  // trailing space
}

TEST(ScrapeExpositionTest, LabelEscapesWhitespaceAndLineEnds) {
  const auto fams = Accept(
      "# a comment\n\n  x { path = \"C:\\\\tmp\" , q=\"say \\\"hi\\\"\",nl=\"a\\nb\", } 1 \r\n"
      "y{a=\"\",b=\"2\"} 2\r\n# EOF is only a comment in 0.0.4\n");
  ASSERT_EQ(fams.size(), 2u);
  EXPECT_EQ(fams[0].samples[0].labels, (Labels{{"nl", "a\nb"}, {"path", "C:\\tmp"}, {"q", "say \"hi\""}}));
  EXPECT_EQ(fams[1].samples[0].labels, (Labels{{"b", "2"}})) << "empty value = no label";
  // OpenMetrics: no blanks, no trailing comma, and an unknown escape stands for itself.
  Reject("x{a=\"1\",} 1\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  Reject("x{a=\"1\"}  1\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  Reject("x 1\n\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  Reject("x 1\r\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  EXPECT_EQ(Accept("x{a=\"\\d\"} 1\n# EOF\n", Format::kOpenMetrics)[0].samples[0].labels, (Labels{{"a", "\\d"}}));
}

TEST(ScrapeExpositionTest, FamiliesFollowTypeLines) {
  // No TYPE: a family per name; a summary owns its bare, _sum and _count names.
  auto fams = Accept(
      "foo_bucket{le=\"1\"} 1\n# TYPE rpc summary\nrpc{quantile=\"0.5\"} 0.1\nrpc_sum 3\nrpc_count 7\nrpc_total 1\n");
  ASSERT_EQ(fams.size(), 3u);
  EXPECT_EQ(fams[0].name, "foo_bucket");
  EXPECT_EQ(fams[0].type, "untyped");
  EXPECT_EQ(fams[1].samples.size(), 3u);
  EXPECT_EQ(fams[2].name, "rpc_total");
  Reject("a 1\n# TYPE a gauge\n", Format::kPrometheusText, ScrapeError::kSyntax);  // TYPE after samples
  Reject("# TYPE a gauge\n# TYPE a gauge\n", Format::kPrometheusText, ScrapeError::kSyntax);
  Reject("# HELP a x\n# HELP a y\n", Format::kPrometheusText, ScrapeError::kSyntax);
  Reject("# TYPE a info\n", Format::kPrometheusText, ScrapeError::kSyntax);  // not a 0.0.4 type
  Reject("# TYPE a gauge extra\n", Format::kPrometheusText, ScrapeError::kSyntax);
  Reject("# TYPE h histogram\nh 1\n", Format::kPrometheusText, ScrapeError::kSyntax);  // no bare histogram sample
  // OpenMetrics: counters need _total, families may not interleave, only known # lines.
  Reject("# TYPE c counter\nc 1\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  Reject("a 1\nb 1\na{x=\"1\"} 1\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  Reject("# just a comment\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  Reject("# TYPE a_seconds gauge\n# UNIT a_seconds bytes\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  Reject("a 1 # {x=\"1\"}\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);  // exemplar without value
  Reject(std::string("a_total 1 # {id=\"") + std::string(130, 'x') + "\"} 1\n# EOF\n", Format::kOpenMetrics,
         ScrapeError::kSyntax);  // exemplar labels over 128 code points
  // 0.0.4 lets a family continue after another one, as Prometheus does.
  fams = Accept("a{x=\"1\"} 1\nb 1\na{x=\"2\"} 1\n");
  EXPECT_EQ(fams[0].samples.size(), 2u);
}

TEST(ScrapeExpositionTest, OversizedBodyIsRejectedBeforeParsing) {
  ParseLimits limits;
  limits.max_bytes = 64;
  const Status st = Reject(std::string(65, '#'), Format::kPrometheusText, ScrapeError::kTooLarge, limits);
  EXPECT_EQ(st.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(st.message().find("max_bytes 64"), std::string::npos) << st.message();
}

TEST(ScrapeExpositionTest, BinaryBodyIsASyntaxError) {
  const std::string gzip("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x07\x00", 17);
  Status st = Reject(gzip, Format::kPrometheusText, ScrapeError::kSyntax);
  EXPECT_EQ(st.message().rfind("line 1: ", 0), 0u) << st.message();
  Reject(std::string("a{x=\"\0\"} 1\n", 11), Format::kPrometheusText, ScrapeError::kSyntax);
  Reject("\x80\x81 1\n", Format::kPrometheusText, ScrapeError::kSyntax);  // not a metric name
}

TEST(ScrapeExpositionTest, MillionSeriesStopAtTheLimit) {
  std::string body;
  body.reserve(16 << 20);
  for (int i = 0; i < 1000000; ++i) body += "m{i=\"" + std::to_string(i) + "\"} 1\n";
  ASSERT_LE(body.size(), ParseLimits{}.max_bytes);
  ParseLimits limits;
  limits.max_series = 1000;
  const Status st = Reject(body, Format::kPrometheusText, ScrapeError::kTooManySeries, limits);
  EXPECT_EQ(st.message().rfind("line 1001: ", 0), 0u) << "stops at the first series past the limit: " << st.message();
  // One family per line counts against the same limit.
  body.clear();
  for (int i = 0; i < 2000; ++i) body += "# TYPE m" + std::to_string(i) + " gauge\n";
  Reject(body, Format::kPrometheusText, ScrapeError::kTooManySeries, limits);
}

TEST(ScrapeExpositionTest, BrokenEscapes) {
  EXPECT_EQ(Reject("a 1\nb{x=\"\\t\"} 1\n", Format::kPrometheusText, ScrapeError::kSyntax).message(),
            "line 2: invalid escape sequence \\t");
  for (const char* bad : {"a{x=\"\\t\"} 1\n", "a{x=\"abc\\\"} 1\n", "a{x=\"abc} 1\n", "a{x=abc} 1\n", "a{x=\"1\"\n",
                          "a{x=\"\\", "# HELP a bad \\t escape\n", "# HELP a trailing \\\n", "# HELP a \\\"\n"})
    Reject(bad, Format::kPrometheusText, ScrapeError::kSyntax);
  Reject("a{x=\"1\\\"} 1\n# EOF\n", Format::kOpenMetrics, ScrapeError::kSyntax);
}

TEST(ScrapeExpositionTest, BadUtf8) {
  for (const char* bad :
       {"a{x=\"\xff\"} 1\n", "a{x=\"\xc0\xaf\"} 1\n" /* overlong '/' */, "a{x=\"\xed\xa0\x80\"} 1\n" /* surrogate */,
        "a{x=\"\xe2\x82\"} 1\n" /* truncated */, "# HELP a caf\xe9\n", "# latin-1 comment caf\xe9\n"})
    Reject(bad, Format::kPrometheusText, ScrapeError::kBadUtf8);
  Reject("a{x=\"\xf4\x90\x80\x80\"} 1\n# EOF\n", Format::kOpenMetrics, ScrapeError::kBadUtf8);  // > U+10FFFF
  const auto fams = Accept("a{x=\"caf\xc3\xa9 \xf0\x9f\x9a\x80\"} 1\n");
  EXPECT_EQ(fams[0].samples[0].labels[0].second, "caf\xc3\xa9 \xf0\x9f\x9a\x80");
}

TEST(ScrapeExpositionTest, DuplicateSeries) {
  Status st = Reject("a{x=\"1\",y=\"2\"} 1\nb 2\na{y=\"2\",x=\"1\"} 3\n", Format::kPrometheusText,
                     ScrapeError::kDuplicateSeries);
  EXPECT_EQ(st.message(), "line 3: duplicate series (the same name and labels as line 1)");
  Reject("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1\"} 1\n", Format::kPrometheusText,
         ScrapeError::kDuplicateSeries);
  Reject("a 1\na{x=\"\"} 1\n", Format::kPrometheusText, ScrapeError::kDuplicateSeries);  // empty label = none
  Reject("a 1\na 2\n# EOF\n", Format::kOpenMetrics, ScrapeError::kDuplicateSeries);
  Reject("a{x=\"1\",x=\"2\"} 1\n", Format::kPrometheusText, ScrapeError::kSyntax);  // duplicate label name
}

TEST(ScrapeExpositionTest, OpenMetricsEof) {
  Status st = Reject("# TYPE a gauge\na 1\n", Format::kOpenMetrics, ScrapeError::kMissingEof);
  EXPECT_EQ(st.message().rfind("line 3: ", 0), 0u) << st.message();
  Reject("", Format::kOpenMetrics, ScrapeError::kMissingEof);
  st = Reject("a 1\n# EOF\nb 2\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  EXPECT_EQ(st.message(), "line 3: text after # EOF");
  Reject("a 1\n# EOF\n\n", Format::kOpenMetrics, ScrapeError::kSyntax);
  EXPECT_TRUE(Accept("").empty());  // an empty 0.0.4 body is valid
}

TEST(ScrapeExpositionTest, LabelLimits) {
  ParseLimits limits;
  limits.max_label_value_bytes = 8;
  limits.max_labels_per_series = 2;
  std::vector<ParsedFamily> out;
  EXPECT_TRUE(ParseExposition("a{x=\"12345678\",y=\"1\"} 1\n", Format::kPrometheusText, limits, &out).ok());
  Status st = Reject("a{x=\"123456789\"} 1\n", Format::kPrometheusText, ScrapeError::kSyntax, limits);
  EXPECT_NE(st.message().find("longer than 8 bytes"), std::string::npos) << st.message();
  Reject("a{x=\"1\",y=\"2\",z=\"3\"} 1\n", Format::kPrometheusText, ScrapeError::kSyntax, limits);
  // Default limit: 4096 bytes, named in the message.
  st = Reject("a{x=\"" + std::string(5000, 'v') + "\"} 1\n", Format::kPrometheusText, ScrapeError::kSyntax);
  EXPECT_NE(st.message().find("4096"), std::string::npos) << st.message();
}

TEST(ScrapeExpositionTest, PathologicalLinesStayLinear) {
  // Megabytes of nesting, escapes or digits in one line: rejected or parsed in one pass.
  Reject("a" + std::string(4 << 20, '{'), Format::kPrometheusText, ScrapeError::kSyntax);
  Reject("# HELP a " + std::string((4 << 20) + 1, '\\') + "x", Format::kPrometheusText, ScrapeError::kSyntax);
  const auto fams = Accept("a 1" + std::string(4 << 20, '0') + "e-4194304\n");
  EXPECT_EQ(fams[0].samples[0].value, 1);
  EXPECT_EQ(Accept("# HELP a " + std::string(1 << 20, 'h') + "\n")[0].help.size(), 1u << 20);
}

TEST(ScrapeExpositionTest, ReasonIsOptionalAndOutIsReplaced) {
  std::vector<ParsedFamily> out(3);
  EXPECT_FALSE(ParseExposition("a{", Format::kPrometheusText, {}, &out).ok());
  EXPECT_TRUE(out.empty());
  out.resize(2);
  EXPECT_TRUE(ParseExposition("a 1\n", Format::kPrometheusText, {}, &out).ok());
  EXPECT_EQ(out.size(), 1u);
}

TEST(ScrapeExpositionTest, FormatFromContentTypeAndErrorNames) {
  EXPECT_EQ(FormatFromContentType("application/openmetrics-text; version=1.0.0; charset=utf-8"), Format::kOpenMetrics);
  EXPECT_EQ(FormatFromContentType(" Application/OpenMetrics-Text"), Format::kOpenMetrics);
  EXPECT_EQ(FormatFromContentType("text/plain; version=0.0.4; charset=utf-8"), Format::kPrometheusText);
  EXPECT_EQ(FormatFromContentType(""), Format::kPrometheusText);
  EXPECT_EQ(FormatFromContentType("application/openmetrics-text-x"), Format::kPrometheusText);
  EXPECT_STREQ(ScrapeErrorName(ScrapeError::kTooLarge), "too_large");
  EXPECT_STREQ(ScrapeErrorName(ScrapeError::kTooManySeries), "too_many_series");
  EXPECT_STREQ(ScrapeErrorName(ScrapeError::kSyntax), "syntax");
  EXPECT_STREQ(ScrapeErrorName(ScrapeError::kBadUtf8), "bad_utf8");
  EXPECT_STREQ(ScrapeErrorName(ScrapeError::kDuplicateSeries), "duplicate_series");
  EXPECT_STREQ(ScrapeErrorName(ScrapeError::kMissingEof), "missing_eof");
}

}  // namespace
}  // namespace vigil::scrape
