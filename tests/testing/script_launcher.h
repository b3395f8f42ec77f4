// ScriptLauncher: a ProcessLauncher for core tests that replaces the sandbox with
// `python3 -c SCRIPT` (span socket at fd 3, the SDK on PYTHONPATH), so the run state machine
// is tested on real processes without the launcher. Kill-sweep helpers run for real.
// Needs HERO_SDK_DIR defined by the test target.
#pragma once

#include <string>

#include "supervisor/core/process_launcher.h"

namespace hero::testing {

class ScriptLauncher final : public core::ProcessLauncher {
 public:
  std::string script;
  Result<core::SpawnedProcess> Spawn(const core::SpawnSpec& spec) override {
    for (const auto& a : spec.argv) {
      if (a.rfind("--kill-uid", 0) == 0) return real_.Spawn(spec);  // the sweep helper
    }
    if (spec.path.find("hero_launcher") == std::string::npos) return real_.Spawn(spec);
    core::SpawnSpec s;
    s.path = "/usr/bin/python3";
    s.argv = {"/usr/bin/python3", "-c", script};
    s.env = {"PATH=/usr/bin:/bin", "PYTHONPATH=" HERO_SDK_DIR, "HERO_FLOW_SPAN_FD=3",
             "PYTHONDONTWRITEBYTECODE=1"};
    s.fd_map = spec.fd_map;
    return real_.Spawn(s);
  }

 private:
  core::PosixSpawnLauncher real_;
};

}  // namespace hero::testing
