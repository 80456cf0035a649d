#include "common/id_list.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(IdListTest, ParsesDecimalIds) {
  std::vector<int32_t> ids;
  ASSERT_TRUE(ParseIdList("1,22,2147483647", &ids).ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 22, 2147483647}));
  ASSERT_TRUE(ParseIdList("0", &ids).ok());
  EXPECT_EQ(ids, std::vector<int32_t>{0});
}

TEST(IdListTest, NamesTheBadElement) {
  std::vector<int32_t> ids;
  for (const char* bad : {"", "1,,2", "1,x", "1,-3", "2147483648", "1,2,", "0x10"}) {
    const Status st = ParseIdList(bad, &ids);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("is not a token id"), std::string::npos) << bad << ": " << st.message();
  }
  EXPECT_NE(ParseIdList("1,x,3", &ids).message().find("\"x\" in \"1,x,3\""), std::string::npos);
}

}  // namespace
}  // namespace vigil
