// Real expositions as others published them (tests/data/expositions/, each
// cited in its README) through Vigil's parser and adapters, with Prometheus'
// own parser as the oracle in the same test: `promtool check metrics` (lint
// warnings aside) reads the body, so Vigil must read it too, recognise the
// engine with `engine: auto`, and map it to at least one engine's reading;
// a family Vigil leaves out is listed with its reason. Bodies promtool
// refuses (here: the same files cut mid-line) must fail in Vigil as well.
#include <gtest/gtest.h>

#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "scrape/adapter.h"
#include "scrape/exposition.h"

namespace vigil::scrape {
namespace {

const std::string kDir = std::string(VIGIL_TEST_DATA_DIR) + "/expositions";

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Corpus() {
  std::vector<std::string> out;
  if (DIR* d = opendir(kDir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 5 && n.compare(n.size() - 5, 5, ".prom") == 0) out.push_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// promtool's verdict on a body: true when its text parser reads it (exit 0,
// or 3 with lint findings only); false on a parse error. `output` for messages.
bool PromtoolReads(const std::string& body, std::string* output) {
  char tmpl[] = "/tmp/vigil-corpus-XXXXXX";
  const int fd = mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  FILE* f = fdopen(fd, "w");
  fwrite(body.data(), 1, body.size(), f);
  fclose(f);
  FILE* p = popen(("promtool check metrics < " + std::string(tmpl) + " 2>&1").c_str(), "r");
  char buf[512];
  output->clear();
  while (p && fgets(buf, sizeof buf, p)) output->append(buf);
  const int st = p ? pclose(p) : -1;
  unlink(tmpl);
  const int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  EXPECT_NE(rc, 127) << "promtool is not installed (scripts/deps.sh --test installs Debian's prometheus)";
  return (rc == 0 || rc == 3) && output->find("parsing error") == std::string::npos;
}

// The engine each file is from, as its README says, and whether it holds
// any figure Vigil reads: the V1 (non-inflight) TensorRT-LLM model's three
// per-iteration gauges and vLLM's docs sample (one histogram cut short,
// without _count) map to no input, though both are read without error.
struct Expected {
  EngineKind kind;
  bool reads_figures;
};
const std::map<std::string, Expected> kExpected = {
    {"dynamo_frontend_aiperf.prom", {EngineKind::kDynamo, true}},
    {"sglang_2024_name_label.prom", {EngineKind::kSglang, true}},
    {"sglang_2025_docs.prom", {EngineKind::kSglang, true}},
    {"triton_base.prom", {EngineKind::kTriton, true}},
    {"triton_trtllm_inflight_batcher.prom", {EngineKind::kTriton, true}},
    {"triton_trtllm_v1.prom", {EngineKind::kTriton, false}},
    {"vllm_docs_usage_metrics.prom", {EngineKind::kVllm, false}},
};

TEST(ScrapeCorpus, EveryFileIsCitedAndExpected) {
  const std::string readme = Read(kDir + "/README.md");
  const auto files = Corpus();
  EXPECT_EQ(files.size(), kExpected.size());
  for (const std::string& f : files) {
    EXPECT_NE(readme.find(f), std::string::npos) << f << " is not cited in the README";
    EXPECT_EQ(kExpected.count(f), 1u) << f;
  }
}

TEST(ScrapeCorpus, WhatPrometheusReadsVigilReads) {
  for (const std::string& name : Corpus()) {
    SCOPED_TRACE(name);
    const std::string body = Read(kDir + "/" + name);
    std::string out;
    ASSERT_TRUE(PromtoolReads(body, &out)) << out;  // the corpus holds only what Prometheus reads
    std::vector<ParsedFamily> fams;
    std::vector<DroppedFamily> dropped;
    ScrapeError why{};
    Status st = ParseExposition(body, Format::kPrometheusText, ParseLimits{}, &fams, &why, nullptr, &dropped);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_FALSE(fams.empty());
    const EngineKind kind = DetectEngine(fams);
    const Expected& want = kExpected.at(name);
    EXPECT_EQ(EngineKindName(kind), std::string(EngineKindName(want.kind)));
    std::vector<InstanceReading> readings;
    std::vector<std::string> missing;
    st = Adapt(EngineKind::kUnknown, fams, &readings, &missing, &dropped);
    ASSERT_TRUE(st.ok()) << st.ToString();
    size_t inputs = 0;
    for (const auto& r : readings) inputs += r.gauges.size() + r.counters.size() + r.histograms.size();
    EXPECT_EQ(inputs > 0, want.reads_figures) << inputs << " inputs read";
    for (const auto& d : dropped) ADD_FAILURE() << "dropped " << d.family << ": " << d.reason << " " << d.detail;
  }
}

TEST(ScrapeCorpus, WhatPrometheusRefusesVigilRefuses) {
  // Each file cut in the middle of its last sample's name: a line with a
  // name and no value, which both parsers must refuse.
  for (const std::string& name : Corpus()) {
    SCOPED_TRACE(name);
    std::string body = Read(kDir + "/" + name);
    const size_t last = body.rfind('\n', body.size() - 2);
    const size_t space = body.find_last_of(' ');
    ASSERT_NE(space, std::string::npos);
    ASSERT_GT(space, last);
    body = body.substr(0, space) + "\n";  // drops the value
    std::string out;
    EXPECT_FALSE(PromtoolReads(body, &out)) << out;
    std::vector<ParsedFamily> fams;
    std::vector<DroppedFamily> dropped;
    EXPECT_FALSE(ParseExposition(body, Format::kPrometheusText, ParseLimits{}, &fams, nullptr, nullptr, &dropped).ok());
  }
}

TEST(ScrapeCorpus, MalformedFamiliesPrometheusReadsAreDroppedNotFatal) {
  // The same real bodies with one family broken as published captures have
  // been: promtool still reads them, and so does Vigil, less that family.
  const std::string base = Read(kDir + "/sglang_2024_name_label.prom");
  const std::string inf =
      "sglang:time_to_first_token_seconds_bucket{le=\"+Inf\",name=\"google/gemma-2-9b-it\"} 2124.0\n";
  const std::string dup = "sglang:num_requests_waiting{name=\"google/gemma-2-9b-it\"} 0.0\n";
  ASSERT_NE(base.find(inf), std::string::npos);
  ASSERT_NE(base.find(dup), std::string::npos);
  struct Case {
    std::string body, family, reason;
  };
  std::string no_inf = base, twice = base;
  no_inf.erase(no_inf.find(inf), inf.size());
  twice.insert(twice.find(dup), dup);
  for (const Case& c : {Case{no_inf, "sglang:time_to_first_token_seconds", "no_inf_bucket"},
                        Case{twice, "sglang:num_requests_waiting", "duplicate_series"}}) {
    SCOPED_TRACE(c.reason);
    std::string out;
    EXPECT_TRUE(PromtoolReads(c.body, &out)) << out;
    std::vector<ParsedFamily> fams;
    std::vector<DroppedFamily> dropped;
    ASSERT_TRUE(
        ParseExposition(c.body, Format::kPrometheusText, ParseLimits{}, &fams, nullptr, nullptr, &dropped).ok());
    std::vector<InstanceReading> readings;
    ASSERT_TRUE(Adapt(EngineKind::kUnknown, fams, &readings, nullptr, &dropped).ok());
    ASSERT_EQ(dropped.size(), 1u);
    EXPECT_EQ(dropped[0].family, c.family);
    EXPECT_EQ(dropped[0].reason, c.reason);
    ASSERT_EQ(readings.size(), 1u);
    EXPECT_EQ(readings[0].gauges.count("requests_running"), 1u);  // the rest is read
    EXPECT_EQ(readings[0].histograms.count("e2e"), 1u);
  }
}

}  // namespace
}  // namespace vigil::scrape
