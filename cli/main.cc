// vigilctl: Vigil's command-line tool. The subcommands register themselves
// on one CLI11 app (commands.h); every one has --help, and usage errors
// name the flag and exit 2.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "common/logging.h"

namespace {

// The deepest chosen subcommand, and its path ("vigilctl rules export").
CLI::App* Deepest(CLI::App* app, std::string* path) {
  *path = app->get_name();
  for (auto subs = app->get_subcommands(); !subs.empty(); subs = app->get_subcommands()) {
    app = subs[0];
    *path += " " + app->get_name();
  }
  return app;
}

std::string SubcommandNames(CLI::App* app) {
  std::string s;
  for (const CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; }))
    s += (s.empty() ? "" : ", ") + sub->get_name();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  vigil::InitLogging("warn");
  CLI::App app("vigilctl: the engine offline, rules and detectors, the daemon's admin API, load and scenarios.",
               "vigilctl");
  // A flag given twice keeps its last value, as it always has.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.require_subcommand(1);
  app.get_formatter()->column_width(40);
  int rc = 0;
  vigil::cli::RememberCommandLine(argc, argv);
  vigil::cli::AddGenerate(&app, &rc);
#ifdef VIGIL_HAVE_TOKENIZER
  vigil::cli::AddTokenize(&app, &rc);
#endif
#ifdef VIGIL_HAVE_DETECTORS
  vigil::cli::AddDetect(&app, &rc);
#endif
#ifdef VIGIL_HAVE_RULES
  vigil::cli::AddRules(&app, &rc);
#endif
#ifdef VIGIL_HAVE_STATUS
  vigil::cli::AddStatus(&app, &rc);
  vigil::cli::AddSilence(&app, &rc);
  vigil::cli::AddCapture(&app, &rc);
  vigil::cli::AddLoad(&app, &rc);
  vigil::cli::AddScenario(&app, &rc);
#endif
  vigil::cli::AddCompletion(&app, &rc);                                // last: it lists the commands above
  app.footer("Run 'vigilctl COMMAND --help' for a command's flags.");  // after the commands: not theirs
  if (argc < 2) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::string path;
    CLI::App* at = Deepest(&app, &path);
    std::string msg = e.what();
    if (at->get_require_subcommand_min() > 0 && at->get_subcommands().empty()) {
      // CLI11 says "A subcommand is required"; name what was given instead.
      int depth = 0;
      for (char c : path) depth += c == ' ';
      const std::string next = depth + 1 < argc ? argv[depth + 1] : "";
      msg = next.empty()              ? "expected a command"
            : next.rfind("-", 0) == 0 ? "unknown flag " + next
                                      : "unknown command \"" + next + "\"";
      msg += " (" + SubcommandNames(at) + ")";
    } else if (const auto extra = app.remaining(true); !extra.empty()) {
      // CLI11 checks required flags before unknown ones; the unknown flag is
      // the mistake to name ("generate --promt-ids 1": not "--prompt-ids is required").
      msg = CLI::ExtrasError(extra).what();
    }
    std::fprintf(stderr, "%s: %s\nRun '%s --help' for its usage.\n", path.c_str(), msg.c_str(), path.c_str());
    return 2;
  }
  return rc;
}
