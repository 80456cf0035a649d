// Token id lists as flags give them ("1,2,3"), for vigilctl and the benches.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil {

// "1,2,3" -> {1,2,3}: decimal, each in [0, INT32_MAX]; InvalidArgument
// naming the bad element otherwise (also an empty one, as in "1,,2").
Status ParseIdList(const std::string& text, std::vector<int32_t>* out);

}  // namespace vigil
