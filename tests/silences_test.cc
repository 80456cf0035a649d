// Silences: matcher semantics, validation with field names, persistence
// across a reopen, expiry.
#include "alerts/silences.h"

#include <gtest/gtest.h>

#include "common/time_util.h"
#include "test_util.h"

namespace vigil::alerts {
namespace {

using json = nlohmann::json;
using vigil::testing::TempDir;

Silence Make(std::vector<std::string> matchers, double start, double end) {
  Silence s;
  for (const auto& m : matchers) {
    Matcher x;
    EXPECT_TRUE(ParseMatcher(m, &x).ok()) << m;
    s.matchers.push_back(x);
  }
  s.starts_at = start;
  s.ends_at = end;
  s.comment = "maintenance";
  return s;
}

TEST(SilencesTest, MatchersFollowAlertmanagerSemantics) {
  SilenceStore store("");
  std::string id, warn;
  ASSERT_TRUE(store.Add(Make({"pathology=~kv_.*", "severity!=info"}, 100, 200), 100, &id, &warn).ok());
  EXPECT_EQ(warn, "");  // memory-only store: nothing to persist, nothing failed
  EXPECT_EQ(store.Silencing({{"pathology", "kv_thrashing"}, {"severity", "critical"}}, 150),
            std::vector<std::string>{id});
  EXPECT_TRUE(store.Silencing({{"pathology", "kv_thrashing"}, {"severity", "info"}}, 150).empty());
  EXPECT_TRUE(store.Silencing({{"pathology", "memory_leak"}}, 150).empty());
  EXPECT_TRUE(store.Silencing({{"pathology", "kv_thrashing"}}, 99).empty());   // pending
  EXPECT_TRUE(store.Silencing({{"pathology", "kv_thrashing"}}, 200).empty());  // expired
  ASSERT_TRUE(store.Add(Make({"job!~a|b"}, 0, 1000), 1, &id, &warn).ok());
  EXPECT_FALSE(store.Silencing({{"job", "c"}}, 5).empty());
  EXPECT_TRUE(store.Silencing({{"job", "a"}}, 5).empty());
}

TEST(SilencesTest, PersistsAcrossReopenAndExpires) {
  TempDir dir;
  std::string id, warn;
  {
    SilenceStore store(dir.File("s.db"));
    EXPECT_EQ(store.fault(), "");
    ASSERT_TRUE(store.Add(Make({"alertname=KVCacheThrashing"}, 100, 1000), 100, &id, &warn).ok());
    EXPECT_EQ(warn, "");
  }
  SilenceStore store(dir.File("s.db"));
  ASSERT_EQ(store.List().size(), 1u);
  EXPECT_EQ(store.List()[0].comment, "maintenance");
  EXPECT_FALSE(store.Silencing({{"alertname", "KVCacheThrashing"}}, 500).empty());
  ASSERT_TRUE(store.Expire(id, 500).ok());
  EXPECT_TRUE(store.Silencing({{"alertname", "KVCacheThrashing"}}, 501).empty());
  EXPECT_EQ(store.List()[0].State(501), "expired");
  EXPECT_EQ(store.Expire("no-such-id", 1).code(), Status::Code::kNotFound);
  EXPECT_EQ(store.Expire("../etc", 1).code(), Status::Code::kInvalidArgument);
  SilenceStore again(dir.File("s.db"));
  EXPECT_EQ(again.List()[0].State(501), "expired");
}

TEST(SilencesTest, JsonValidationNamesTheField) {
  Silence s;
  auto err = [&](const std::string& body) { return SilenceFromJson(json::parse(body), 100, &s).message(); };
  EXPECT_NE(err(R"({"endsAt":"2030-01-01T00:00:00Z"})").find("matchers"), std::string::npos);
  EXPECT_NE(err(R"({"matchers":[{"name":"a"}],"endsAt":"2030-01-01T00:00:00Z"})").find("matchers[0]"),
            std::string::npos);
  EXPECT_NE(err(R"({"matchers":[{"name":"a","value":"b"}]})").find("endsAt"), std::string::npos);
  EXPECT_NE(err(R"({"matchers":[{"name":"a","value":"b"}],"endsAt":"tomorrow"})").find("RFC 3339"), std::string::npos);
  EXPECT_NE(
      err(R"({"matchers":[{"name":"a","value":"b"}],"startsAt":"2030-01-02T00:00:00Z","endsAt":"2030-01-01T00:00:00Z"})")
          .find("after startsAt"),
      std::string::npos);
  ASSERT_TRUE(SilenceFromJson(json::parse(R"({"matchers":[{"name":"a","value":"b.*","isRegex":true}],
      "endsAt":"2030-01-01T00:00:00Z","createdBy":"sre","comment":"deploy"})"),
                              100, &s)
                  .ok());
  EXPECT_EQ(s.starts_at, 100);  // defaults to now
  EXPECT_TRUE(s.matchers[0].is_regex);
  SilenceStore store("");
  std::string id, warn;
  Silence bad = s;
  bad.matchers[0].value = "(";
  EXPECT_NE(store.Add(bad, 100, &id, &warn).message().find("matchers[0].value"), std::string::npos);
  Matcher m;
  EXPECT_FALSE(ParseMatcher("novalue", &m).ok());
  ASSERT_TRUE(ParseMatcher("severity=\"critical\"", &m).ok());
  EXPECT_EQ(m.value, "critical");
}

}  // namespace
// Found by tests/fuzz/silences_fuzz (UBSan): seconds of 9.2e20 parsed as
// an RFC 3339 time, and formatting it back cast the double to time_t out of
// range. Out-of-range fields are now not a time.
TEST(SilencesTest, OutOfRangeTimeFieldsAreNotTimes) {
  double t = 0;
  EXPECT_FALSE(ParseRfc3339("4062-06-30T23:59:922337203685477580859.999Z", &t));
  EXPECT_FALSE(ParseRfc3339("2030-13-01T00:00:00Z", &t));
  EXPECT_FALSE(ParseRfc3339("2030-01-01T24:00:00Z", &t));
  EXPECT_FALSE(ParseRfc3339("2030-01-01T00:00:-1Z", &t));
  EXPECT_TRUE(ParseRfc3339("2030-01-01T23:59:60.5Z", &t));  // a leap second
  Silence s;
  Status st = SilenceFromJson(
      nlohmann::json::parse(
          R"({"matchers":[{"name":"a","value":"b"}],"endsAt":"4062-06-30T23:59:922337203685477580859.999Z"})"),
      100, &s);
  EXPECT_NE(st.message().find("endsAt: expected an RFC 3339 time"), std::string::npos) << st.ToString();
}

}  // namespace vigil::alerts
