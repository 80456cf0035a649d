// Chrome-trace files and the summary: a trace with known content adds up to
// its window by category; the byte budget cuts cleanly; foreign (PyTorch /
// vLLM-style) traces, gzip or plain, are read and summarized too.
#include <gtest/gtest.h>
#include <zlib.h>

#include "capture/summary.h"
#include "capture/trace.h"
#include "test_util.h"

namespace vigil::capture {
namespace {

using json = nlohmann::json;
using vigil::testing::TempDir;
using vigil::testing::WriteFile;

Event V(const std::string& name, double ts, double dur, json args = nullptr) {
  return {name, "vigil", ts, dur, 0, 1, args};
}
Event Op(const std::string& name, double ts, double dur) { return {name, "cpu_op", ts, dur, 0, 1, nullptr}; }

std::vector<Event> Known() {
  return {V("step", 0, 400, {{"prefill_tokens", 8}, {"decode_seqs", 0}}),
          V("schedule", 0, 20),
          V("forward", 20, 280),
          Op("aten::linear", 20, 100),
          V("attention_core", 120, 80),
          Op("aten::bmm", 130, 40),
          V("norm", 200, 30),
          Op("aten::mul", 205, 10),
          V("activation", 230, 20),
          Op("aten::index_select", 250, 40),
          V("sample", 300, 80),
          Op("aten::argmax", 310, 40),
          V("update", 380, 20),
          V("step", 600, 300, {{"prefill_tokens", 0}, {"decode_seqs", 4}}),
          V("forward", 600, 300),
          Op("aten::mm", 600, 300),
          // On the GPU: counted apart, not in the host categories.
          {"gemm_kernel", "kernel", 610, 200, 1, 7, nullptr}};
}

TEST(CaptureSummaryTest, CategoriesOfAKnownTraceAddUpToTheWindow) {
  TempDir dir;
  WriteResult wr;
  ASSERT_TRUE(WriteTrace(dir.File("t.pt.trace.json.gz"), Known(), {{"id", "x"}}, 1 << 20, &wr).ok());
  EXPECT_FALSE(wr.truncated);
  std::vector<Event> back;
  json meta;
  ASSERT_TRUE(ReadTrace(dir.File("t.pt.trace.json.gz"), &back, &meta).ok());
  EXPECT_EQ(meta["id"], "x");
  EXPECT_EQ(back.size(), Known().size());
  const json s = Summarize(back, 0, 1000);
  const json& c = s["categories"];
  EXPECT_NEAR(c["attention"], 0.08, 1e-9);
  EXPECT_NEAR(c["matmul"], 0.40, 1e-9);
  EXPECT_NEAR(c["normalization"], 0.03, 1e-9);
  EXPECT_NEAR(c["activation"], 0.02, 1e-9);
  EXPECT_NEAR(c["sampling"], 0.08, 1e-9);
  EXPECT_NEAR(c["host_overhead"], 0.05, 1e-9);
  EXPECT_NEAR(c["other_ops"], 0.04, 1e-9);
  EXPECT_NEAR(c["idle"], 0.30, 1e-9);
  EXPECT_NEAR(s["categories_sum"], 1.0, 0.05);
  EXPECT_EQ(s["steps"], 2);
  EXPECT_NEAR(s["step_time_ms"]["p50"], 0.35, 1e-9);
  EXPECT_EQ(s["prefill_decode"]["prefill"]["steps"], 1);
  EXPECT_EQ(s["prefill_decode"]["decode"]["steps"], 1);
  EXPECT_NEAR(s["prefill_decode"]["decode"]["fraction_of_step_time"], 300.0 / 700, 1e-9);
  EXPECT_EQ(s["top_ops"][0]["name"], "aten::mm");
  EXPECT_NEAR(s["top_ops"][0]["self_ms"], 0.3, 1e-9);
  EXPECT_EQ(s["gpu"]["kernels"], 1);
  EXPECT_NEAR(s["gpu"]["busy_fraction"], 0.2, 1e-9);
}

TEST(CaptureSummaryTest, TheByteBudgetCutsCleanly) {
  std::vector<Event> many;
  for (int i = 0; i < 20000; ++i) many.push_back(Op("aten::add", i * 10.0, 5));
  TempDir dir;
  WriteResult wr;
  ASSERT_TRUE(WriteTrace(dir.File("big.gz"), many, {{"id", "big"}}, 100000, &wr).ok());
  EXPECT_TRUE(wr.truncated);
  EXPECT_LE(wr.bytes, 100000);
  EXPECT_GT(wr.events_written, 100);
  EXPECT_EQ(wr.events_written + wr.events_dropped, 20000);
  std::vector<Event> back;
  json meta;
  ASSERT_TRUE(ReadTrace(dir.File("big.gz"), &back, &meta).ok());  // still valid JSON
  EXPECT_EQ(static_cast<int64_t>(back.size()), wr.events_written);
  EXPECT_EQ(meta["truncated"], true);
  EXPECT_EQ(back.back().ts, (wr.events_written - 1) * 10.0);  // the earliest events were kept
}

TEST(CaptureSummaryTest, ReadsPyTorchStyleTracesGzipOrPlain) {
  // JSON object form with B/E pairs and Kineto categories, and string pids.
  json t = {
      {"traceEvents",
       {{{"ph", "X"},
         {"cat", "cpu_op"},
         {"name", "aten::addmm"},
         {"pid", "host"},
         {"tid", 3},
         {"ts", 100},
         {"dur", 50}},
        {{"ph", "B"}, {"cat", "cpu_op"}, {"name", "aten::softmax"}, {"pid", "host"}, {"tid", 3}, {"ts", 160}},
        {{"ph", "E"}, {"pid", "host"}, {"tid", 3}, {"ts", 180}},
        {{"ph", "X"}, {"cat", "kernel"}, {"name", "ampere_sgemm"}, {"pid", 0}, {"tid", 7}, {"ts", 110}, {"dur", 30}},
        {{"ph", "M"}, {"name", "process_name"}, {"pid", 0}}}}};
  TempDir dir;
  WriteFile(dir.File("plain.json"), t.dump());
  gzFile gz = gzopen(dir.File("t.json.gz").c_str(), "wb");
  const std::string s = t.dump();
  gzwrite(gz, s.data(), static_cast<unsigned>(s.size()));
  gzclose(gz);
  for (const char* f : {"plain.json", "t.json.gz"}) {
    std::vector<Event> ev;
    ASSERT_TRUE(ReadTrace(dir.File(f), &ev, nullptr).ok()) << f;
    ASSERT_EQ(ev.size(), 3u);
    const json sum = Summarize(ev);
    EXPECT_NEAR(sum["wall_time_s"], 80e-6, 1e-12);
    EXPECT_NEAR(sum["categories"]["matmul"], 50.0 / 80, 1e-9);
    EXPECT_NEAR(sum["categories"]["attention"], 20.0 / 80, 1e-9);
    EXPECT_NEAR(sum["categories"]["idle"], 10.0 / 80, 1e-9);
    EXPECT_EQ(sum["gpu"]["kernels"], 1);
    EXPECT_EQ(sum["steps"], 0);
  }
  WriteFile(dir.File("bad.json"), "{\"not\": \"a trace\"}");
  std::vector<Event> ev;
  EXPECT_EQ(ReadTrace(dir.File("bad.json"), &ev, nullptr).code(), Status::Code::kCorruption);
  EXPECT_EQ(ReadTrace(dir.File("missing.json"), &ev, nullptr).code(), Status::Code::kNotFound);
}

// Found by tests/fuzz/trace_fuzz: a non-string "name" threw from json::value()
// out of ReadTrace, which would end vigild reading a target's trace.
TEST(CaptureSummaryTest, ANonStringNameIsNoName) {
  TempDir dir;
  WriteFile(dir.File("odd.json"), R"([{"ph":"X","name":1,"ts":1,"dur":2},{"ph":"X","name":"step","ts":3,"dur":1}])");
  std::vector<Event> ev;
  ASSERT_TRUE(ReadTrace(dir.File("odd.json"), &ev, nullptr).ok());
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].name, "");
  EXPECT_EQ(ev[1].name, "step");
}

// Found by tests/fuzz/trace_fuzz: a pid or tid beyond int64 (read as a
// double) was cast to int64, which is undefined; such ids read as 0.
TEST(CaptureSummaryTest, IdsBeyondInt64ReadAsZero) {
  TempDir dir;
  WriteFile(
      dir.File("ids.json"),
      R"([{"ph":"X","name":"a","tid":92233720368547758087,"pid":-1e300},{"ph":"X","name":"b","pid":2.5,"tid":7}])");
  std::vector<Event> ev;
  ASSERT_TRUE(ReadTrace(dir.File("ids.json"), &ev, nullptr).ok());
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].tid, 0);
  EXPECT_EQ(ev[0].pid, 0);
  EXPECT_EQ(ev[1].pid, 2);
  EXPECT_EQ(ev[1].tid, 7);
}

TEST(CaptureSummaryTest, CategoriesByName) {
  EXPECT_EQ(Category("aten::addmm", false), "matmul");
  EXPECT_EQ(Category("aten::linear", false), "matmul");
  EXPECT_EQ(Category("sm90_xmma_gemm_bf16", false), "matmul");
  EXPECT_EQ(Category("flash_fwd_kernel", false), "attention");
  EXPECT_EQ(Category("aten::layer_norm", false), "normalization");
  EXPECT_EQ(Category("_C::rms_norm", false), "normalization");
  EXPECT_EQ(Category("_C::silu_and_mul", false), "activation");
  EXPECT_EQ(Category("aten::argmax", false), "sampling");
  EXPECT_EQ(Category("aten::index_select", false), "other_ops");
  EXPECT_EQ(Category("forward", true), "");
  EXPECT_EQ(Category("schedule", true), "host_overhead");
}

}  // namespace
}  // namespace vigil::capture
