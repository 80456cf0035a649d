#include "bench/args.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>

namespace vigil::bench {

namespace {
const std::vector<std::string> kNone;
}

Status Args::Parse(int argc, char** argv, const std::set<std::string>& value_flags,
                   const std::set<std::string>& switches) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    auto eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (switches.count(name)) {
      if (has_value) return Status::InvalidArgument("--" + name + " takes no value");
      switches_.insert(name);
    } else if (value_flags.count(name)) {
      if (!has_value) {
        if (i + 1 >= argc) return Status::InvalidArgument("--" + name + " needs a value");
        value = argv[++i];
      }
      values_[name].push_back(value);
    } else {
      return Status::InvalidArgument("unknown option --" + name);
    }
  }
  return Status::OK();
}

std::string Args::Get(const std::string& flag, const std::string& def) const {
  auto it = values_.find(flag);
  return it == values_.end() ? def : it->second.back();
}

const std::vector<std::string>& Args::GetAll(const std::string& flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? kNone : it->second;
}

Status Args::GetInt(const std::string& flag, int64_t def, int64_t* out) const {
  if (!values_.count(flag)) {
    *out = def;
    return Status::OK();
  }
  const std::string v = Get(flag);
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0)
    return Status::InvalidArgument("--" + flag + ": expected an integer, got \"" + v + "\"");
  *out = x;
  return Status::OK();
}

Status Args::GetDouble(const std::string& flag, double def, double* out) const {
  if (!values_.count(flag)) {
    *out = def;
    return Status::OK();
  }
  const std::string v = Get(flag);
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno != 0)
    return Status::InvalidArgument("--" + flag + ": expected a number, got \"" + v + "\"");
  *out = x;
  return Status::OK();
}

}  // namespace vigil::bench
