// vigilctl detect as users run it: CSV in, CSV out, on a synthetic
// operational series (seasonal, drifting, spikes, a level shift) with
// known anomaly positions (tests/data/series/).
#include <gtest/gtest.h>

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
  if (rc == 0) {
    EXPECT_EQ(line, "timestamp,value,score,anomaly");
  }
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

TEST(VigilctlDetectTest, RobustDefaultBeatsThePlainZScoreOnOperationalData) {
  const std::string input = "--input " + vigil::testing::DataPath("series/synthetic_ops.csv");
  std::vector<Row> robust, zscore;
  ASSERT_EQ(Detect(input, &robust), 0);
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
    if (i < 20) {
      EXPECT_EQ(rows[i].score, 0) << "scored before min_samples";
    }
  }
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
}

}  // namespace
}  // namespace vigil
