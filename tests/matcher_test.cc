// Label matchers shared by silences and inhibition rules.
#include "common/matcher.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(MatcherTest, ParsesAlertmanagerForms) {
  Matcher m;
  ASSERT_TRUE(ParseMatcher("alertname=KVCacheThrashing", &m).ok());
  EXPECT_EQ(m.name, "alertname");
  EXPECT_EQ(m.value, "KVCacheThrashing");
  EXPECT_TRUE(m.is_equal);
  EXPECT_FALSE(m.is_regex);
  ASSERT_TRUE(ParseMatcher(R"(alertname = "Foo \"bar\"")", &m).ok());
  EXPECT_EQ(m.value, "Foo \"bar\"");
  ASSERT_TRUE(ParseMatcher("severity!=info", &m).ok());
  EXPECT_FALSE(m.is_equal);
  ASSERT_TRUE(ParseMatcher(R"(pathology=~"kv_.*")", &m).ok());
  EXPECT_TRUE(m.is_regex);
  EXPECT_EQ(m.value, "kv_.*");
  ASSERT_TRUE(ParseMatcher("job!~a|b", &m).ok());
  EXPECT_TRUE(m.is_regex);
  EXPECT_FALSE(m.is_equal);
  EXPECT_EQ(MatcherString(m), "job!~\"a|b\"");
}

TEST(MatcherTest, RejectsWhatIsNotAMatcher) {
  Matcher m;
  EXPECT_FALSE(ParseMatcher("alertname", &m).ok());
  EXPECT_FALSE(ParseMatcher("=x", &m).ok());
  Status st = ParseMatcher("1abc=x", &m);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a label name"), std::string::npos) << st.message();
  MatcherSet set;
  st = MatcherSet::Compile({{"a", "(", true, true}}, &set);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("a=~\"(\""), std::string::npos) << st.message();
}

TEST(MatcherTest, AnchoredRegexesAndAbsentLabelsAsEmpty) {
  MatcherSet set;
  ASSERT_TRUE(MatcherSet::Compile({{"alertname", "KV.*", true, true}, {"target", "", false, true}}, &set).ok());
  EXPECT_TRUE(set.Matches({{"alertname", "KVCacheNearFull"}}));
  EXPECT_FALSE(set.Matches({{"alertname", "HighKV"}})) << "anchored at the start";
  EXPECT_FALSE(set.Matches({{"alertname", "KVX"}, {"target", "a"}})) << "target must be absent or empty";
  MatcherSet none;
  ASSERT_TRUE(MatcherSet::Compile({{"severity", "critical", false, false}}, &none).ok());
  EXPECT_TRUE(none.Matches({}));
  EXPECT_FALSE(none.Matches({{"severity", "critical"}}));
}

// Found with tests/fuzz/silences_fuzz: a silence whose regex nests 100,000
// groups (a 200 KB body, under the 1 MB request limit) overflowed the stack
// in std::regex's recursive compiler and took vigild down.
TEST(MatcherTest, OverlongRegexIsAnErrorNotAStackOverflow) {
  const std::string deep = std::string(100000, '(') + "a" + std::string(100000, ')');
  MatcherSet set;
  Status st = MatcherSet::Compile({{"alertname", deep, true, true}}, &set);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("matcher alertname: regex is 200001 bytes, more than 4096"), std::string::npos)
      << st.ToString();
  const std::string ok = std::string(1000, '(') + "a" + std::string(1000, ')');
  ASSERT_TRUE(MatcherSet::Compile({{"alertname", ok, true, true}}, &set).ok());
  EXPECT_TRUE(set.Matches({{"alertname", "a"}}));
}

// Found by tests/fuzz/silences_fuzz: std::regex read {92233720368547758082,3}
// and the back reference \18446744073709551616 with signed overflow (UB).
// Numbers above RE2's 1000 are refused first.
TEST(MatcherTest, RepetitionCountsAreBounded) {
  MatcherSet set;
  for (const char* bad : {"a{1001}", "(x|y)[+0-9]{92233720368547758082,3}\\d", "a{2,5000}", "a{,99999}",
                          "(a){3}\\18446744073709551616d", "[\\99999]"}) {
    Status st = MatcherSet::Compile({{"x", bad, true, true}}, &set);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("matcher x: "), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find("is more than 1000"), std::string::npos) << st.ToString();
  }
  // Within the bound, escaped or inside a class: a regex as before.
  for (const char* ok : {"a{1000}", "a{2,1000}", "[{99999}]+", "\\{99999\\}", "[]{5000}]+", "(a)\\1", "\\d{3}"}) {
    EXPECT_TRUE(CheckRegexLimits(ok).ok()) << ok << ": " << CheckRegexLimits(ok).ToString();
  }
  ASSERT_TRUE(MatcherSet::Compile({{"x", "a{2,3}", true, true}}, &set).ok());
  EXPECT_TRUE(set.Matches({{"x", "aaa"}}));
  EXPECT_FALSE(set.Matches({{"x", "aaaa"}}));
}

}  // namespace
}  // namespace vigil
