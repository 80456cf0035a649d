// vigilctl generate / logits: registered here with their flags, so help,
// completion and usage errors need no engine; once the line parses, vigilctl
// executes vigilctl-engine (cli/engine_tool.cc) with the same arguments, the
// one binary that loads libtorch.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/engine_flags.h"

namespace vigil::cli {

namespace {

std::vector<std::string>& CommandLine() {
  static std::vector<std::string> args;
  return args;
}

// Beside vigilctl in the build tree; in lib/vigil/ beside bin/ once installed.
std::vector<std::string> EngineToolPaths() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return {};
  std::string dir(self, static_cast<size_t>(n));
  dir.resize(dir.rfind('/'));
  return {dir + "/vigilctl-engine", dir + "/../lib/vigil/vigilctl-engine"};
}

int ExecEngineTool() {
  std::vector<char*> argv;
  for (std::string& a : CommandLine()) argv.push_back(a.data());
  argv.push_back(nullptr);
  const auto paths = EngineToolPaths();
  for (const std::string& path : paths) {
    if (access(path.c_str(), X_OK) != 0) continue;
    std::fflush(nullptr);
    execv(path.c_str(), argv.data());
    std::fprintf(stderr, "vigilctl: cannot run %s: %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "vigilctl: this command runs the engine through vigilctl-engine, which is not installed (%s)\n",
               paths.empty() ? "cannot read /proc/self/exe" : ("looked for " + paths[0] + " and " + paths[1]).c_str());
  return 1;
}

}  // namespace

void RememberCommandLine(int argc, char** argv) { CommandLine().assign(argv, argv + argc); }

void AddGenerate(CLI::App* app, int* rc) {
  AddEngineCommands(
      app, rc,
      {[](const GenerateFlags&) { return ExecEngineTool(); }, [](const LogitsFlags&) { return ExecEngineTool(); }});
}

}  // namespace vigil::cli
