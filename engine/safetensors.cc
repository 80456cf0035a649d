#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

namespace vigil::engine {

using json = nlohmann::json;

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t DtypeSize(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr && map_ != MAP_FAILED) munmap(map_, map_size_);
}

Status SafetensorsFile::Open(const std::string& path, std::unique_ptr<SafetensorsFile>* out) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(path + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Status::IOError(path + ": " + std::strerror(e));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return Status::Corruption(path + ": truncated: " + std::to_string(size) + " bytes, no header length");
  }
  f->map_size_ = size;
  f->map_ = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (f->map_ == MAP_FAILED) return Status::IOError(path + ": mmap: " + std::strerror(errno));

  const auto* base = static_cast<const uint8_t*>(f->map_);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | base[i];
  if (header_len > size - 8) {
    return Status::Corruption(path + ": header length " + std::to_string(header_len) + " exceeds file size " +
                              std::to_string(size));
  }
  json header;
  try {
    header = json::parse(reinterpret_cast<const char*>(base + 8), reinterpret_cast<const char*>(base + 8 + header_len));
  } catch (const std::exception& e) { return Status::Corruption(path + ": header is not valid JSON: " + e.what()); }
  if (!header.is_object()) return Status::Corruption(path + ": header is not a JSON object");

  const size_t data_size = size - 8 - header_len;
  const uint8_t* data = base + 8 + header_len;
  std::vector<std::pair<size_t, size_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (it->is_object())
        for (auto m = it->begin(); m != it->end(); ++m)
          if (m->is_string()) f->metadata_[m.key()] = m->get<std::string>();
      continue;
    }
    const std::string where = path + ": tensor \"" + name + "\"";
    const json& t = *it;
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets") ||
        !t["dtype"].is_string() || !t["shape"].is_array() || !t["data_offsets"].is_array() ||
        t["data_offsets"].size() != 2) {
      return Status::Corruption(where + ": entry needs dtype, shape and two data_offsets");
    }
    TensorView v;
    v.dtype = t["dtype"].get<std::string>();
    const size_t elem = DtypeSize(v.dtype);
    if (elem == 0) return Status::Unimplemented(where + ": unsupported dtype " + v.dtype);
    // Checked in int64 (what TensorView::numel() computes in) at every step:
    // a wrapped product could otherwise match a tiny byte range.
    int64_t numel = 1;
    for (const json& d : t["shape"]) {
      if (!d.is_number_unsigned()) return Status::Corruption(where + ": shape has a non-integer or negative dimension");
      if (d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          __builtin_mul_overflow(numel, d.get<int64_t>(), &numel))
        return Status::Corruption(where + ": shape's element count overflows 64 bits");
      v.shape.push_back(d.get<int64_t>());
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(numel), elem, &nbytes))
      return Status::Corruption(where + ": shape's byte size overflows 64 bits");
    const json& off = t["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return Status::Corruption(where + ": data_offsets must be non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) return Status::Corruption(where + ": data_offsets begin after they end");
    if (end > data_size) {
      return Status::Corruption(where + ": data ends at byte " + std::to_string(end) + " but the file holds " +
                                std::to_string(data_size) + " data bytes (truncated?)");
    }
    if (end - begin != nbytes) {
      return Status::Corruption(where + ": " + std::to_string(end - begin) + " bytes for shape of " +
                                std::to_string(numel) + " " + v.dtype + " elements (" + std::to_string(nbytes) +
                                " bytes expected)");
    }
    v.data = data + begin;
    v.nbytes = end - begin;
    ranges.emplace_back(begin, end);
    f->tensors_.emplace(name, std::move(v));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) {
      for (const auto& kv : f->tensors_) {
        if (static_cast<const uint8_t*>(kv.second.data) - data == static_cast<ptrdiff_t>(ranges[i].first))
          return Status::Corruption(path + ": tensor \"" + kv.first + "\" overlaps another tensor's data");
      }
    }
  }
  *out = std::move(f);
  return Status::OK();
}

Status SafetensorsFile::Get(const std::string& name, TensorView* out) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return Status::NotFound("tensor \"" + name + "\" not in " + path_);
  *out = it->second;
  return Status::OK();
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors) {
  json header = json::object();
  size_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h.push_back(' ');  // align the data, as the reference writer does
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IOError(path + ": cannot open for writing: " + std::strerror(errno));
  uint8_t len[8];
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& t : tensors) out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(t.nbytes));
  out.flush();
  if (!out) return Status::IOError(path + ": write failed: " + std::strerror(errno));
  return Status::OK();
}

}  // namespace vigil::engine
