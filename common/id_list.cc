#include "common/id_list.h"

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace vigil {

Status ParseIdList(const std::string& text, std::vector<int32_t>* out) {
  out->clear();
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno != 0 || v < 0 || v > INT32_MAX)
      return Status::InvalidArgument("\"" + item + "\" in \"" + text + "\" is not a token id");
    out->push_back(static_cast<int32_t>(v));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return Status::OK();
}

}  // namespace vigil
