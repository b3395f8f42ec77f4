// The contract between the policy builders (policy.cc, supervisor side) and hero_launcher:
// fixed fd numbers, flag names and exit codes. Header only; no dependencies.
#pragma once

namespace hero::sandbox::abi {

// Fds the supervisor hands to the launcher (posix_spawn file actions).
inline constexpr int kStdinFd = 0;   // /dev/null
inline constexpr int kSpanFd = 3;    // child end of the span socketpair (HERO_FLOW_SPAN_FD=3)
inline constexpr int kNotifyFd = 4;  // untrusted only: child end of the seccomp-listener socketpair

// Fds the outer launcher creates for bwrap and the inner launcher (untrusted only).
inline constexpr int kSourceFd = 5;   // flow source, opened as root -> bwrap --ro-bind-data
inline constexpr int kInputFd = 6;    // input JSON, opened as root -> bwrap --ro-bind-data
inline constexpr int kSeccompFd = 7;  // sealed memfd holding the BPF program (sock_filter[])
inline constexpr int kPasswdFd = 8;   // synthesized /etc/passwd
inline constexpr int kGroupFd = 9;    // synthesized /etc/group

// Exit status of the launcher itself when it fails before exec: one line on stderr starting
// with "hero_launcher: ", then exit 126. Anything else is the flow's (or bwrap's) status.
inline constexpr int kExitLauncherFailure = 126;

// Paths inside the untrusted sandbox.
inline constexpr const char* kSandboxRuntimeDir = "/hero/rt";
inline constexpr const char* kSandboxLauncher = "/hero/rt/bin/hero_launcher";
inline constexpr const char* kSandboxSdkDir = "/hero/rt/py";
inline constexpr const char* kSandboxFlow = "/hero/flow.py";
inline constexpr const char* kSandboxInput = "/hero/input.json";
inline constexpr const char* kSandboxWork = "/work";
inline constexpr const char* kSandboxTmp = "/tmp";

// Trusted staging inside the host workdir (written by the launcher as the run uid).
inline constexpr const char* kStageDirName = ".hero";
inline constexpr const char* kStageFlowName = "flow.py";
inline constexpr const char* kStageInputName = "input.json";
inline constexpr const char* kTrustedTmpName = "tmp";

}  // namespace hero::sandbox::abi
