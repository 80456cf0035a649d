// vigilctl completion bash: a bash completion script generated from the
// same CLI11 tree as --help, so it never lags the flags.
//   source <(vigilctl completion bash)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flags.h"

namespace vigil::cli {

namespace {

std::vector<CLI::App*> Subcommands(CLI::App* app) {
  return app->get_subcommands([](CLI::App* a) { return a->get_name() != "completion"; });
}

// One case arm per command path: its subcommands, else its flags.
void Arms(CLI::App* app, const std::string& path, std::string* paths, std::string* words) {
  std::string w;
  const auto subs = Subcommands(app);
  for (CLI::App* sub : subs) w += (w.empty() ? "" : " ") + sub->get_name();
  if (subs.empty())
    for (const CLI::Option* o : app->get_options())
      for (const std::string& name : o->get_lnames()) w += (w.empty() ? "" : " ") + ("--" + name);
  *words += "    \"" + path + "\") words=\"" + w + "\" ;;\n";
  for (CLI::App* sub : subs) {
    const std::string p = path + " " + sub->get_name();
    *paths += (paths->empty() ? "\"" : "|\"") + p + "\"";
    Arms(sub, p, paths, words);
  }
}

int Bash(CLI::App* root) {
  std::string paths, words;
  Arms(root, "", &paths, &words);
  std::printf(
      "# bash completion for vigilctl: source <(vigilctl completion bash)\n"
      "_vigilctl() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" words=\"\" i\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case \"$path ${COMP_WORDS[i]}\" in\n"
      "    %s) path=\"$path ${COMP_WORDS[i]}\" ;;\n"
      "    esac\n"
      "  done\n"
      "  case \"$path\" in\n"
      "%s"
      "  esac\n"
      "  # A leaf's flags when the word starts with -, else files (-o default).\n"
      "  if [[ \"$words\" == --* && \"$cur\" != -* ]]; then return; fi\n"
      "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      "}\n"
      "complete -o default -F _vigilctl vigilctl\n",
      paths.c_str(), words.c_str());
  return 0;
}

}  // namespace

void AddCompletion(CLI::App* app, int* rc) {
  CLI::App* c =
      app->add_subcommand("completion", "Print a shell completion script: source <(vigilctl completion bash).");
  c->require_subcommand(1);
  AddCommand(c, "bash", "The bash completion script.", rc, [app] { return Bash(app); });
}

}  // namespace vigil::cli
