// OpenAI request bodies (daemon/openai.cc) as /v1/completions and
// /v1/chat/completions receive them, with GPT-2's tokenizer.
#include <cstdlib>

#include "daemon/openai.h"

using vigil::tokenizer::Tokenizer;

static const Tokenizer* Gpt2() {
  static Tokenizer* tok = [] {
    std::unique_ptr<Tokenizer> t;
    if (!Tokenizer::Load(VIGIL_GPT2_TOKENIZER, &t).ok()) std::abort();
    return t.release();
  }();
  return tok;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const vigil::daemon::ChatTemplate tmpl;
  for (bool chat : {false, true}) {
    vigil::daemon::GenerationRequest req;
    if (auto err = vigil::daemon::ParseGenerationRequest(body, chat, "m", *Gpt2(), tmpl, &req)) {
      // As SendError writes it (invalid UTF-8 from the body replaced).
      (void)err->ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      continue;
    }
    // What streaming does with the parsed stop strings.
    const std::string text = "Hello, world. The end.\n" + body.substr(0, 64);
    (void)vigil::daemon::FindStop(text, req.stop);
    (void)vigil::daemon::StopHoldback(text, req.stop);
  }
  return 0;
}
