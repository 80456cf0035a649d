// vigilctl detect as users run it: CSV in, CSV out, on a synthetic
// operational series (seasonal, drifting, spikes, a level shift) with
// known anomaly positions (tests/data/series/), the default detector on the
// labelled faults of tests/data/detection/, and the corpus harness
// (--corpus/--results/--score) on a small NAB-shaped corpus.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "test_util.h"

namespace vigil {
namespace {

struct Row {
  double score;
  int anomaly;
};

int Detect(const std::string& args, std::vector<Row>* rows) {
  vigil::testing::TempDir dir;
  const std::string out = dir.File("out.csv");
  int rc = std::system((std::string(VIGILCTL_PATH) + " detect " + args + " --output " + out + " 2>/dev/null").c_str());
  rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  if (rc == 0) { EXPECT_EQ(line, "timestamp,value,score,anomaly"); }
  while (std::getline(in, line)) {
    size_t c3 = line.rfind(','), c2 = line.rfind(',', c3 - 1);
    rows->push_back({std::stod(line.substr(c2 + 1, c3 - c2 - 1)), std::stoi(line.substr(c3 + 1))});
  }
  return rc;
}

std::pair<double, double> RecallPrecision(const std::vector<Row>& rows) {
  std::set<int> labels;
  std::istringstream in(vigil::testing::ReadFile(vigil::testing::DataPath("series/synthetic_ops.labels")));
  for (int l; in >> l;) labels.insert(l);
  int hit = 0, true_flags = 0, flags = 0;
  for (int l : labels) {
    for (int i = l; i <= l + 5 && i < static_cast<int>(rows.size()); ++i)
      if (rows[i].anomaly) {
        ++hit;
        break;
      }
  }
  for (int i = 0; i < static_cast<int>(rows.size()); ++i) {
    if (!rows[i].anomaly) continue;
    ++flags;
    for (int l : labels) true_flags += (i >= l && i <= l + 5) ? 1 : 0;
  }
  return {double(hit) / labels.size(), flags ? double(true_flags) / flags : 0};
}

TEST(VigilctlDetectTest, RobustBeatsThePlainZScoreOnOperationalData) {
  const std::string input = "--input " + vigil::testing::DataPath("series/synthetic_ops.csv");
  std::vector<Row> robust, zscore;
  ASSERT_EQ(Detect(input + " --detector robust", &robust), 0);
  ASSERT_EQ(Detect(input + " --detector zscore", &zscore), 0);
  ASSERT_EQ(robust.size(), 5000u);
  auto [rr, rp] = RecallPrecision(robust);
  auto [zr, zp] = RecallPrecision(zscore);
  std::printf("robust: recall %.2f precision %.2f; zscore: recall %.2f precision %.2f\n", rr, rp, zr, zp);
  EXPECT_GE(rr, zr);
  EXPECT_GT(rp, zp);
  EXPECT_GE(rr, 0.95);
}

TEST(VigilctlDetectTest, ScoresAreInUnitRangeAndAgreeWithTheFlag) {
  std::vector<Row> rows;
  ASSERT_EQ(Detect("--input " + vigil::testing::DataPath("series/synthetic_ops.csv") + " --detector zscore", &rows), 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_GE(rows[i].score, 0);
    ASSERT_LE(rows[i].score, 1);
    EXPECT_EQ(rows[i].anomaly == 1, rows[i].score > 0.5) << i;  // 0.5 is the threshold
    if (i < 20) { EXPECT_EQ(rows[i].score, 0) << "scored before min_samples"; }
  }
}

// The default: one alarm per episode, at its start, scored with its
// likelihood; silent on the healthy series.
TEST(VigilctlDetectTest, NoveltyDefaultAlarmsOncePerFault) {
  struct Case {
    const char* file;
    std::vector<int> starts;  // where an alarm must come (within 3 rows)
  };
  for (const Case& c : {Case{"steady.csv", {}}, Case{"seasonal.csv", {}}, Case{"spike.csv", {700, 1100}},
                        Case{"level_shift.csv", {800}}, Case{"stall.csv", {900}}}) {
    std::vector<Row> rows;
    ASSERT_EQ(Detect("--input " + vigil::testing::DataPath(std::string("detection/") + c.file), &rows), 0) << c.file;
    ASSERT_EQ(rows.size(), 1500u);
    std::vector<int> alarms;
    for (int i = 0; i < static_cast<int>(rows.size()); ++i) {
      ASSERT_GE(rows[i].score, 0);
      ASSERT_LE(rows[i].score, 1);
      EXPECT_EQ(rows[i].anomaly == 1, rows[i].score > 0) << c.file << " " << i;
      if (rows[i].anomaly) alarms.push_back(i);
    }
    ASSERT_EQ(alarms.size(), c.starts.size()) << c.file;
    for (size_t k = 0; k < alarms.size(); ++k) {
      EXPECT_GE(alarms[k], c.starts[k]) << c.file;
      EXPECT_LE(alarms[k], c.starts[k] + 3) << c.file;
    }
  }
}

// The corpus harness on a two-file NAB-shaped corpus: results mirror data/,
// one row per input row, and --score prints NAB's three profiles.
TEST(VigilctlDetectTest, CorpusHarnessWritesNabResultsAndScoresThem) {
  vigil::testing::TempDir dir;
  const std::string corpus = dir.File("nab"), results = dir.File("results");
  std::filesystem::create_directories(corpus + "/data/faults");
  std::filesystem::create_directories(corpus + "/labels");
  std::filesystem::create_directories(corpus + "/config");
  for (const char* f : {"spike.csv", "steady.csv"})
    std::filesystem::copy_file(vigil::testing::DataPath(std::string("detection/") + f), corpus + "/data/faults/" + f);
  // spike.csv rows 700 and 1100 are 2026-12-01 00:11:40 and 00:18:20.
  vigil::testing::WriteFile(corpus + "/labels/combined_windows.json",
                            R"({"faults/spike.csv": [["2026-12-01 00:11:00.000000", "2026-12-01 00:12:20.000000"],
                                                     ["2026-12-01 00:17:40.000000", "2026-12-01 00:19:00.000000"]],
                                "faults/steady.csv": []})");
  vigil::testing::WriteFile(corpus + "/config/profiles.json",
                            R"({"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}},
                                "reward_low_FP_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22}},
                                "reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11}}})");
  const std::string out = dir.File("stdout");
  const std::string cmd = std::string(VIGILCTL_PATH) + " detect --corpus " + corpus + " --results " + results +
                          " --score > " + out + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  for (const char* f : {"spike.csv", "steady.csv"}) {
    std::istringstream in(vigil::testing::ReadFile(results + "/faults/" + f));
    std::string line;
    size_t n = 0;
    std::getline(in, line);
    EXPECT_EQ(line, "timestamp,value,score,anomaly");
    while (std::getline(in, line)) ++n;
    EXPECT_EQ(n, 1500u) << f;
  }
  // Both spikes found at their middle, no false alarm: each window scores
  // about 0.87 of a perfect detection.
  const std::string text = vigil::testing::ReadFile(out);
  double standard = -1, low_fp = -1, low_fn = -1;
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) {
    double v;
    if (std::sscanf(l.c_str(), "NAB standard score %lf", &v) == 1) standard = v;
    if (std::sscanf(l.c_str(), "NAB reward_low_FP_rate score %lf", &v) == 1) low_fp = v;
    if (std::sscanf(l.c_str(), "NAB reward_low_FN_rate score %lf", &v) == 1) low_fn = v;
  }
  EXPECT_GT(standard, 85) << text;
  EXPECT_LT(standard, 100) << text;
  EXPECT_GT(low_fp, 85) << text;
  EXPECT_GT(low_fn, 85) << text;
  // Without a corpus' labels, --score is a clear error.
  EXPECT_NE(std::system((std::string(VIGILCTL_PATH) + " detect --corpus " + corpus + "/data --results " + results +
                         " --score >/dev/null 2>&1")
                            .c_str()),
            0);
}

TEST(VigilctlDetectTest, BadInputIsAClearError) {
  vigil::testing::TempDir dir;
  std::vector<Row> rows;
  vigil::testing::WriteFile(dir.File("a.csv"), "time,val\n2026-01-01 00:00:00,1\n");
  EXPECT_EQ(Detect("--input " + dir.File("a.csv"), &rows), 2);
  vigil::testing::WriteFile(dir.File("b.csv"), "timestamp,value\nyesterday,1\n");
  EXPECT_EQ(Detect("--input " + dir.File("b.csv"), &rows), 2);
  vigil::testing::WriteFile(dir.File("c.csv"), "timestamp,value\n2026-01-01T00:00:00Z,abc\n");
  EXPECT_EQ(Detect("--input " + dir.File("c.csv"), &rows), 2);
  EXPECT_EQ(Detect("--input /nonexistent.csv", &rows), 2);
  EXPECT_EQ(Detect("--input " + dir.File("c.csv") + " --detector magic", &rows), 2);
  vigil::testing::WriteFile(dir.File("d.csv"), "timestamp,value\n2026-01-01T00:00:00Z,1\n");
  EXPECT_EQ(Detect("--input " + dir.File("d.csv") + " --window 10", &rows), 2);  // novelty takes no z-score flags
  EXPECT_EQ(Detect("--input " + dir.File("d.csv") + " --window 10 --detector zscore", &rows), 0);
  EXPECT_EQ(Detect("--corpus " + dir.File("nowhere"), &rows), 2);
}

}  // namespace
}  // namespace vigil
