// The benchmarks' small command-line parser: --flag VALUE, --flag=VALUE,
// repeatable flags, and boolean switches. Not CLI11 (vigilctl's): the GPU
// machine, where engine_bench runs, has no Debian packages.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/id_list.h"  // ParseIdList, for the benches' --prompt-ids
#include "common/status.h"

namespace vigil::bench {

class Args {
 public:
  // `value_flags` take a value; `switches` do not. Anything else is an error.
  Status Parse(int argc, char** argv, const std::set<std::string>& value_flags, const std::set<std::string>& switches);
  bool Has(const std::string& flag) const { return values_.count(flag) > 0 || switches_.count(flag) > 0; }
  std::string Get(const std::string& flag, const std::string& def = "") const;
  const std::vector<std::string>& GetAll(const std::string& flag) const;
  Status GetInt(const std::string& flag, int64_t def, int64_t* out) const;
  Status GetDouble(const std::string& flag, double def, double* out) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> switches_;
  std::vector<std::string> positional_;
};

// The q-quantile by nearest rank (with 20 samples p99 is the max); 0 when empty.
inline double Pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace vigil::bench
