// Fail-closed probe of what the untrusted profile needs from the host: bubblewrap (version and
// a real sandbox start), user namespaces, seccomp user notification, libseccomp API level,
// no_new_privs, merged /usr, per-run cgroups (probe only, writes nothing). Called once at
// supervisor start (it spawns bwrap and waits for it: never on the loop). Depends on base and
// libseccomp only.
#pragma once

#include <string>

#include "sandbox/cgroup.h"
#include "supervisor/base/status.h"

namespace hero::sandbox {

struct HostFeatures {
  std::string bwrap_path;
  bool bwrap_found = false;
  std::string bwrap_version;             // "0.8.0"; empty if unknown
  bool bwrap_version_ok = false;         // >= 0.8.0 (--disable-userns, --size, --perms)
  bool userns_ok = false;                // sysctls allow it and a real bwrap sandbox started
  std::string userns_error;              // why not (sysctl name, or bwrap's stderr)
  bool seccomp_notify_ok = false;        // SECCOMP_GET_NOTIF_SIZES + USER_NOTIF action available
  bool seccomp_kill_process_ok = false;  // SECCOMP_RET_KILL_PROCESS available
  unsigned libseccomp_api = 0;
  std::string libseccomp_version;
  bool libseccomp_ok = false;       // version >= 2.5 and API level >= 6
  bool seccomp_program_ok = false;  // BuildSeccompProgram succeeded
  std::string seccomp_program_error;
  bool no_new_privs_ok = false;
  bool merged_usr = false;  // /lib /lib64 /bin /sbin are symlinks into usr/
  std::string kernel_release;
  bool cgroup_v2 = false;         // informational: /sys/fs/cgroup[/unified]/cgroup.controllers
  bool cgroup_v1_memory = false;  // informational: /sys/fs/cgroup/memory
  // DetectCgroups({.setup = false}): what per-run cgroups would use (writes nothing). Core runs
  // DetectCgroups() itself (with setup) before creating RunCgroups.
  CgroupHost cgroups;
};

HostFeatures ProbeHost(const std::string& bwrap_path);

// Ok, or FailedPrecondition "untrusted profile unavailable: <first missing thing>", e.g.
// "untrusted profile unavailable: bubblewrap not found at /usr/bin/bwrap".
Status CheckUntrustedAvailable(const HostFeatures& features);

// Multi-line human report (for `hero_logic doctor`), one "name: value" line per feature.
std::string DescribeHost(const HostFeatures& features);

}  // namespace hero::sandbox
