// vigilctl's subcommands. Each returns the process exit code.
#pragma once

namespace vigil::cli {

int CmdGenerate(int argc, char** argv);
int CmdLogits(int argc, char** argv);
int CmdTokenize(int argc, char** argv);
int CmdDetect(int argc, char** argv);
int CmdRules(int argc, char** argv);
int CmdStatus(int argc, char** argv);
int CmdSilence(int argc, char** argv);
int CmdCapture(int argc, char** argv);
int CmdLoad(int argc, char** argv);
int CmdScenario(int argc, char** argv);

}  // namespace vigil::cli
