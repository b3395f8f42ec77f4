// Locates the installed data files from the executable's own path. The build directory and
// the source tree are compiled in (HERO_BUILD_DIR, HERO_SOURCE_DIR) but used only when this
// binary runs from that build directory, so an installed copy never opens the checkout.
#include "supervisor/cli/install_paths.h"

#include <cstdlib>
#include <filesystem>

#include "supervisor/cli/version.h"

#ifndef HERO_SOURCE_DIR
#define HERO_SOURCE_DIR "."
#endif
#ifndef HERO_BUILD_DIR
#define HERO_BUILD_DIR "."
#endif

namespace hero::cli {
namespace {

namespace fs = std::filesystem;

InstallPaths Compute() {
  InstallPaths p;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  fs::path bin = exe.parent_path();
  // equivalent() compares inodes: a symlinked or bind-mounted build directory still counts,
  // a copy of the binary anywhere else does not.
  std::error_code eq_ec;
  bool in_build_dir = !ec && fs::equivalent(bin, fs::path(HERO_BUILD_DIR), eq_ec);
  if (in_build_dir) {
    const std::string src = HERO_SOURCE_DIR;
    p.launcher = (bin / "hero_launcher").string();
    p.sdk_dir = src + "/py";
    p.flows_dir = src + "/builtin_flows";
    p.web_dir = src + "/supervisor/web/dist";
    p.fixtures_dir = src + "/tests/fixtures";
    p.dashboards_dir = src + "/packaging/grafana";
  } else {
    p.installed = true;
    fs::path prefix = bin.parent_path();
    fs::path share = prefix / "share" / "hero_logic";
    p.launcher = (prefix / "lib" / "hero_logic" / "hero_launcher").string();
    p.sdk_dir = (share / "py").string();
    p.flows_dir = (share / "builtin_flows").string();
    p.web_dir = (share / "web").string();
    p.fixtures_dir = (share / "fixtures").string();
    p.dashboards_dir = (share / "grafana").string();
  }
  if (const char* e = std::getenv("HERO_LOGIC_SDK"); e && *e) p.sdk_dir = e;
  return p;
}

}  // namespace

const InstallPaths& Paths() {
  static const InstallPaths paths = Compute();
  return paths;
}

const char* Version() { return kVersion; }

std::string VersionLine() {
  return std::string("hero_logic ") + kVersion + " (commit " + kCommit + ")";
}

}  // namespace hero::cli
