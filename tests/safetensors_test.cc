#include "engine/safetensors.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace vigil::engine {
namespace {

using vigil::testing::TempDir;
using vigil::testing::WriteFile;

std::string Header(const std::string& json) {
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + json;
}

TEST(SafetensorsTest, RoundTripsWhatItWrites) {
  TempDir dir;
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<int64_t> b = {7, 8};
  ASSERT_TRUE(WriteSafetensors(dir.File("x.safetensors"),
                               {{"a", "F32", {2, 3}, a.data(), a.size() * 4}, {"b", "I64", {2}, b.data(), 16}})
                  .ok());
  std::unique_ptr<SafetensorsFile> f;
  ASSERT_TRUE(SafetensorsFile::Open(dir.File("x.safetensors"), &f).ok());
  TensorView v;
  ASSERT_TRUE(f->Get("a", &v).ok());
  EXPECT_EQ(v.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(static_cast<const float*>(v.data)[5], 6.0f);
  ASSERT_TRUE(f->Get("b", &v).ok());
  EXPECT_EQ(static_cast<const int64_t*>(v.data)[1], 8);
  EXPECT_EQ(f->Get("c", &v).code(), Status::Code::kNotFound);
}

TEST(SafetensorsTest, ReadsTheFixtureCheckpoints) {
  for (const char* m : {"llama", "qwen2", "opt", "gpt2"}) {
    std::unique_ptr<SafetensorsFile> f;
    Status st = SafetensorsFile::Open(vigil::testing::ModelDir(m) + "/model.safetensors", &f);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_GT(f->tensors().size(), 10u);
  }
}

struct BadCase {
  const char* name;
  std::string bytes;
  const char* expect;  // substring of the error
};

TEST(SafetensorsTest, RejectsMalformedFilesNamingTheProblem) {
  const std::string data16(16, '\0');
  std::vector<BadCase> cases = {
      {"tiny", "abc", "truncated"},
      {"header too long", Header("{}").substr(0, 8) + "{", "exceeds file size"},
      {"not json", Header("{nope"), "not valid JSON"},
      {"not object", Header("[1,2]"), "not a JSON object"},
      {"missing fields", Header(R"({"w":{"dtype":"F32"}})"), "tensor \"w\""},
      {"bad dtype", Header(R"({"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})") + data16, "unsupported dtype"},
      {"truncated data", Header(R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})") + data16,
       "tensor \"w\": data ends at byte 32"},
      {"size mismatch", Header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})") + data16,
       "tensor \"w\": 16 bytes for shape"},
      {"negative dim", Header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})") + data16, "negative"},
      {"reversed offsets", Header(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})") + data16, "begin after"},
      {"overlap",
       Header(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})") +
           data16,
       "overlaps"},
  };
  TempDir dir;
  for (const BadCase& c : cases) {
    WriteFile(dir.File("bad.safetensors"), c.bytes);
    std::unique_ptr<SafetensorsFile> f;
    Status st = SafetensorsFile::Open(dir.File("bad.safetensors"), &f);
    EXPECT_FALSE(st.ok()) << c.name;
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << c.name << ": " << st.ToString();
    EXPECT_NE(st.message().find("bad.safetensors"), std::string::npos) << c.name;
  }
}

// Found by tests/fuzz/safetensors_fuzz: a shape whose element count or byte
// size wrapped around 64 bits matched an empty data range and was accepted,
// and numel() then overflowed (or a dimension above INT64_MAX read negative).
TEST(SafetensorsTest, ShapeOverflowIsAnError) {
  const std::vector<BadCase> cases = {
      {"wrapped count", Header(R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})"),
       "element count overflows"},
      {"dim above int64", Header(R"({"w":{"dtype":"F32","shape":[0,9223372036854775808],"data_offsets":[0,0]}})"),
       "element count overflows"},
      {"count past int64 before a zero",
       Header(R"({"w":{"dtype":"U8","shape":[2147483648,4294967296,0],"data_offsets":[0,0]}})"),
       "element count overflows"},
      {"wrapped bytes", Header(R"({"w":{"dtype":"I64","shape":[2305843009213693952],"data_offsets":[0,0]}})"),
       "byte size overflows"},
  };
  TempDir dir;
  for (const BadCase& c : cases) {
    WriteFile(dir.File("big.safetensors"), c.bytes);
    std::unique_ptr<SafetensorsFile> f;
    Status st = SafetensorsFile::Open(dir.File("big.safetensors"), &f);
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << c.name;
    EXPECT_NE(st.message().find("tensor \"w\": shape's "), std::string::npos) << c.name << ": " << st.ToString();
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << c.name << ": " << st.ToString();
  }
}

TEST(SafetensorsTest, MissingFileIsAnIOError) {
  std::unique_ptr<SafetensorsFile> f;
  EXPECT_EQ(SafetensorsFile::Open("/nonexistent/x.safetensors", &f).code(), Status::Code::kIOError);
}

}  // namespace
}  // namespace vigil::engine
