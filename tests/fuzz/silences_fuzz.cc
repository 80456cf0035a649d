// Silences as POST /api/v1/silences receives them (alerts/silences.cc):
// JSON body -> Silence -> the store (regex matchers compiled) -> matched
// against an alert's labels.
#include "alerts/silences.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json body = nlohmann::json::parse(data, data + size, nullptr, false);
  if (body.is_discarded()) return 0;
  const double now = 1.8e9;
  vigil::alerts::Silence s;
  if (!vigil::alerts::SilenceFromJson(body, now, &s).ok()) return 0;
  (void)vigil::alerts::SilenceToJson(s, now).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  vigil::alerts::SilenceStore store("");
  std::string id, warning;
  if (!store.Add(s, now, &id, &warning).ok()) return 0;
  (void)store.Silencing({{"alertname", "KVCacheThrashing"}, {"severity", "warning"}, {"target", "vllm-0"}}, now + 1);
  (void)store.Expire(id, now + 2);
  return 0;
}
