// CLI commands. Each returns the process exit code and prints its own errors. Main thread.
#pragma once

#include <string>
#include <vector>

namespace hero::cli {

using Args = std::vector<std::string>;

int RunCommand(const Args& args);     // hero_logic run FILE.py ...
int RunsCommand(const Args& args);    // hero_logic runs [filters]
int ShowCommand(const Args& args);    // hero_logic show RUN [--json]
int DoctorCommand(const Args& args);  // hero_logic doctor
int MainHelp();

// Data directory: --data DIR, else $HERO_LOGIC_DATA, else ~/.local/share/hero_logic.
std::string ResolveDataDir(const std::string& flag);
// The hero_launcher next to this executable; the SDK from $HERO_LOGIC_SDK or the checkout.
std::string DefaultLauncherPath();
std::string DefaultSdkDir();

}  // namespace hero::cli
