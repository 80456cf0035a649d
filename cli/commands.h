// vigilctl's subcommands. Each Add* registers its subcommand (its flags,
// their help, nested subcommands) on the top-level CLI11 app; the chosen
// one runs after parsing and stores the process exit code in *rc.
#pragma once

namespace CLI {
class App;
}

namespace vigil::cli {

// generate and logits; they execute vigilctl-engine with the command line
// main() passed to RememberCommandLine.
void AddGenerate(CLI::App* app, int* rc);
void RememberCommandLine(int argc, char** argv);
void AddTokenize(CLI::App* app, int* rc);
void AddDetect(CLI::App* app, int* rc);
void AddRules(CLI::App* app, int* rc);  // rules check|test|export
void AddStatus(CLI::App* app, int* rc);
void AddSilence(CLI::App* app, int* rc);  // silence add|list|expire
void AddCapture(CLI::App* app, int* rc);  // capture start|list|get|summary
void AddLoad(CLI::App* app, int* rc);
void AddScenario(CLI::App* app, int* rc);    // scenario run
void AddCompletion(CLI::App* app, int* rc);  // completion bash, from the commands added before

}  // namespace vigil::cli
