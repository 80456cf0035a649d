// vigilctl tokenize: a tokenizer.json applied to a text, ids as JSON.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

namespace vigil::cli {

int CmdTokenize(int argc, char** argv) {
  Args a;
  Status st = a.Parse(argc, argv, {"tokenizer", "text", "file"}, {});
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "vigilctl: %s\n", s.message().c_str());
    return 2;
  };
  if (!st.ok()) return fail(st);
  if (!a.Has("tokenizer")) return fail(Status::InvalidArgument("--tokenizer FILE is required"));
  if (a.Has("text") == a.Has("file")) return fail(Status::InvalidArgument("give exactly one of --text and --file"));
  std::string text = a.Get("text");
  if (a.Has("file")) {
    std::ifstream in(a.Get("file"), std::ios::binary);
    if (!in) return fail(Status::NotFound(a.Get("file") + ": cannot open"));
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (!(st = tokenizer::Tokenizer::Load(a.Get("tokenizer"), &tok)).ok()) return fail(st);
  std::vector<int32_t> ids;
  if (!(st = tok->Encode(text, &ids)).ok()) return fail(st);
  std::printf("%s\n", nlohmann::json(ids).dump().c_str());
  return 0;
}

}  // namespace vigil::cli
