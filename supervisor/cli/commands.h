// CLI commands. Each returns the process exit code and prints its own errors. Main thread.
#pragma once

#include <string>
#include <vector>

#include "supervisor/base/ids.h"
#include "supervisor/cli/args.h"

namespace hero::cli {

using Args = std::vector<std::string>;

int RunCommand(const Args& args);     // hero_logic run FILE.py ...
int RunsCommand(const Args& args);    // hero_logic runs [filters]
int ShowCommand(const Args& args);    // hero_logic show RUN [--json]
int DoctorCommand(const Args& args);  // hero_logic doctor
int SmokeCommand(const Args& args);   // hero_logic smoke [--junit FILE] [--offline] (smoke.cc)
int MainHelp();

// Daemon and its clients (serve.cc, client_commands.cc).
int ServeCommand(const Args& args);   // hero_logic serve ...
int CancelCommand(const Args& args);  // hero_logic cancel RUN
int FlowsCommand(const Args& args);   // hero_logic flows list|add|search
// `run FILE --remote` and `show RUN --follow`, with their already parsed arguments.
int RemoteRunCommand(const ParsedArgs& a);
int ShowFollowCommand(const ParsedArgs& a, RunId run);

// Data directory: --data DIR, else $HERO_LOGIC_DATA, else ~/.local/share/hero_logic.
std::string ResolveDataDir(const std::string& flag);

}  // namespace hero::cli
