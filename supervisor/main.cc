// hero_logic's composition root: dispatches to a command. No logic here.
#include <cstdio>
#include <string>
#include <vector>

#include "supervisor/cli/commands.h"
#include "supervisor/cli/install_paths.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help")
    return hero::cli::MainHelp();
  if (args[0] == "--version" || args[0] == "version") {
    std::printf("%s\n", hero::cli::VersionLine().c_str());
    return 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "run") return hero::cli::RunCommand(args);
  if (cmd == "runs") return hero::cli::RunsCommand(args);
  if (cmd == "show") return hero::cli::ShowCommand(args);
  if (cmd == "serve") return hero::cli::ServeCommand(args);
  if (cmd == "cancel") return hero::cli::CancelCommand(args);
  if (cmd == "flows") return hero::cli::FlowsCommand(args);
  if (cmd == "doctor") return hero::cli::DoctorCommand(args);
  if (cmd == "smoke") return hero::cli::SmokeCommand(args);
  std::fprintf(stderr, "hero_logic: unknown command '%s' (see hero_logic --help)\n", cmd.c_str());
  return 2;
}
