// Helpers shared by the tests: test data paths, temp dirs, golden tensors.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/safetensors.h"

namespace vigil::testing {

// Polls `f` every `poll_ms` until it holds; false after `ms`. A short poll
// is for conditions that do not last (a request still running).
template <typename F>
bool WaitFor(F f, int ms = 30000, int poll_ms = 20) {
  for (int i = 0; i < ms / poll_ms; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
  return false;
}

inline std::string DataPath(const std::string& rel) { return std::string(VIGIL_TEST_DATA_DIR) + "/" + rel; }
inline std::string ModelDir(const std::string& name) { return DataPath("models/" + name); }

// A fresh directory under $TMPDIR, removed with the object.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/vigil-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    path_ = mkdtemp(buf.data());
  }
  ~TempDir() { (void)std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Golden tensors written by HF transformers.
class Golden {
 public:
  explicit Golden(const std::string& model) {
    auto st = engine::SafetensorsFile::Open(ModelDir(model) + "/golden.safetensors", &file_);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  bool Has(const std::string& name) const { return file_ && file_->Has(name); }
  std::vector<int32_t> Ids(const std::string& name) const {
    engine::TensorView v;
    EXPECT_TRUE(file_->Get(name, &v).ok());
    EXPECT_EQ(v.dtype, "I64");
    const auto* p = static_cast<const int64_t*>(v.data);
    return std::vector<int32_t>(p, p + v.numel());
  }
  std::vector<float> Floats(const std::string& name) const {
    engine::TensorView v;
    EXPECT_TRUE(file_->Get(name, &v).ok());
    EXPECT_EQ(v.dtype, "F32");
    const auto* p = static_cast<const float*>(v.data);
    return std::vector<float>(p, p + v.numel());
  }

 private:
  std::unique_ptr<engine::SafetensorsFile> file_;
};

}  // namespace vigil::testing
