// Where this executable finds its launcher, SDK, built-in flows, web UI, smoke fixture and
// dashboards: relative to its own location (/proc/self/exe), so an installed tree can be
// moved. Only the binary in its own CMake build directory uses the source tree. Main thread.
#pragma once

#include <string>

namespace hero::cli {

struct InstallPaths {
  // True when running from an install prefix: bin/hero_logic, lib/hero_logic/hero_launcher,
  // share/hero_logic/{py,builtin_flows,web,fixtures,grafana}. False in the build directory,
  // where the launcher sits next to the binary and the rest comes from the source tree.
  bool installed = false;
  std::string launcher;        // hero_launcher
  std::string sdk_dir;         // contains hero_tracing/
  std::string flows_dir;       // built-in flows and smoke.json
  std::string web_dir;         // the built web UI (may not exist: served only if it does)
  std::string fixtures_dir;    // model_server.py + model_answers/ (`smoke --offline`)
  std::string dashboards_dir;  // Grafana dashboard JSON
};

// Computed once, on first use. $HERO_LOGIC_SDK still overrides sdk_dir.
const InstallPaths& Paths();

// "hero_logic 0.1.0 (commit 1a2b3c4)"; the commit is "unknown" outside a git checkout.
std::string VersionLine();
// "0.1.0" (the project version in CMakeLists.txt).
const char* Version();

}  // namespace hero::cli
