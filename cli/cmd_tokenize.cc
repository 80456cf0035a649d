// vigilctl tokenize: a tokenizer.json applied to a text, ids as JSON.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "tokenizer/tokenizer.h"

namespace vigil::cli {

namespace {

struct TokenizeFlags {
  std::string tokenizer, text, file;
  CLI::Option *text_opt = nullptr, *file_opt = nullptr;
};

int Tokenize(const TokenizeFlags& f) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "vigilctl: %s\n", s.message().c_str());
    return 2;
  };
  if (!f.text_opt->count() && !f.file_opt->count())
    return fail(Status::InvalidArgument("give exactly one of --text and --file"));
  std::string text = f.text;
  if (f.file_opt->count()) {
    std::ifstream in(f.file, std::ios::binary);
    if (!in) return fail(Status::NotFound(f.file + ": cannot open"));
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  Status st;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (!(st = tokenizer::Tokenizer::Load(f.tokenizer, &tok)).ok()) return fail(st);
  std::vector<int32_t> ids;
  if (!(st = tok->Encode(text, &ids)).ok()) return fail(st);
  std::printf("%s\n", nlohmann::json(ids).dump().c_str());
  return 0;
}

}  // namespace

void AddTokenize(CLI::App* app, int* rc) {
  auto f = std::make_shared<TokenizeFlags>();
  CLI::App* t = AddCommand(app, "tokenize", "Print the token ids of a text as JSON.", rc, [f] { return Tokenize(*f); });
  t->add_option("--tokenizer", f->tokenizer, "a HuggingFace tokenizer.json")->required();
  f->text_opt = t->add_option("--text", f->text, "the text to tokenize");
  f->file_opt = t->add_option("--file", f->file, "... or a file holding it")->excludes(f->text_opt);
}

}  // namespace vigil::cli
