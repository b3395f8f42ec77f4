// Builds the untrusted seccomp filter with libseccomp and exports it as raw BPF. The filter is
// loaded later by the inner launcher (with SECCOMP_FILTER_FLAG_NEW_LISTENER), not here.
#include "sandbox/seccomp_program.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>

#include "supervisor/base/unique_fd.h"

namespace hero::sandbox {
namespace {

// RAII for scmp_filter_ctx.
class SeccompFilter {
 public:
  SeccompFilter() : ctx_(seccomp_init(SCMP_ACT_ERRNO(ENOSYS))) {}
  ~SeccompFilter() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  SeccompFilter(const SeccompFilter&) = delete;
  SeccompFilter& operator=(const SeccompFilter&) = delete;
  scmp_filter_ctx get() const { return ctx_; }

 private:
  scmp_filter_ctx ctx_;
};

constexpr const char* kAllowed[] = {
    // files and descriptors
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "lseek",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "truncate",
    "ftruncate",
    "fallocate",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "umask",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "mknod",
    "mknodat",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "flock",
    "pipe",
    "pipe2",
    "sendfile",
    "splice",
    "tee",
    "copy_file_range",
    "readahead",
    "fadvise64",
    "memfd_create",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    // memory
    "brk",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "msync",
    "mincore",
    "mlock",
    "munlock",
    "mlock2",
    "mlockall",
    "munlockall",
    "membarrier",
    // processes and threads (clone is argument-filtered below)
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "kill",
    "tgkill",
    "tkill",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "getpid",
    "getppid",
    "gettid",
    "getpgid",
    "setpgid",
    "getpgrp",
    "getsid",
    "setsid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getgroups",
    "getresuid",
    "getresgid",
    "capget",
    "prctl",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "futex",
    "futex_waitv",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "getcpu",
    "getrlimit",
    "setrlimit",
    "prlimit64",
    "getpriority",
    "setpriority",
    "getrusage",
    "times",
    "pidfd_open",
    "pidfd_send_signal",
    "restart_syscall",
    // signals and time
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigpending",
    "rt_sigtimedwait",
    "sigaltstack",
    "pause",
    "alarm",
    "setitimer",
    "getitimer",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    // polling
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    // sockets (socket/socketpair are argument-filtered below)
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "getsockname",
    "getpeername",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "setsockopt",
    "getsockopt",
    // SysV IPC (private IPC namespace)
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    // misc
    "uname",
    "sysinfo",
    "getrandom",
};

// Refused with EPERM: changes of identity, host, clock or global state. Programs handle EPERM.
constexpr const char* kPermissionDenied[] = {
    "setuid",        "setgid",        "setreuid",      "setregid",   "setresuid",   "setresgid",
    "setgroups",     "setfsuid",      "setfsgid",      "capset",     "sethostname", "setdomainname",
    "settimeofday",  "clock_settime", "clock_adjtime", "adjtimex",   "syslog",      "vhangup",
    "sync",          "syncfs",        "kcmp",          "ioprio_set", "mbind",       "set_mempolicy",
    "migrate_pages", "move_pages",    "seccomp",
};

constexpr uint64_t kCloneNewFlags[] = {
    CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
    CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET,
};

Status RuleError(int rc, std::string_view what) {
  return Internal("seccomp rule " + std::string(what) + ": " + std::strerror(-rc));
}

Status AddRule(scmp_filter_ctx ctx, uint32_t action, int nr, std::string_view what,
               std::initializer_list<scmp_arg_cmp> cmps = {}) {
  int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(cmps.size()),
                                  cmps.size() ? cmps.begin() : nullptr);
  if (rc != 0) return RuleError(rc, what);
  return Status::Ok();
}

// libseccomp drops conditional rules when the same syscall also has an unconditional one, and
// has no "low 32 bits not equal" comparison. So "allow unless (arg & 0xffffffff) is in S" is
// written as a union of masked-equality rules that together match exactly the complement of S:
// one rule per bit on which all of S agree (the argument differs there), plus every pattern of
// the few bits on which S members differ that is not the pattern of a member.
Status AddLow32NotInRules(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned arg,
                          std::initializer_list<uint32_t> values, std::string_view what) {
  const uint32_t first = *values.begin();
  uint32_t agree = 0xffffffffu;
  for (uint32_t v : values) agree &= ~(v ^ first);
  for (int b = 0; b < 32; ++b) {
    uint32_t bit = 1u << b;
    if (!(agree & bit)) continue;
    HERO_RETURN_IF_ERROR(
        AddRule(ctx, action, nr, what, {SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, bit, (~first) & bit)}));
  }
  uint32_t differ = ~agree;
  int bits[32];
  int nbits = 0;
  for (int b = 0; b < 32; ++b) {
    if (differ & (1u << b)) bits[nbits++] = b;
  }
  if (nbits > 8) return Internal("seccomp rule " + std::string(what) + ": value set too wide");
  for (uint32_t pattern = 0; pattern < (1u << nbits); ++pattern) {
    uint32_t value = 0;
    for (int i = 0; i < nbits; ++i) {
      if (pattern & (1u << i)) value |= 1u << bits[i];
    }
    bool member = false;
    for (uint32_t v : values) member |= (v & differ) == value;
    if (member) continue;
    HERO_RETURN_IF_ERROR(
        AddRule(ctx, action, nr, what, {SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, differ, value)}));
  }
  return Status::Ok();
}

Status AddNamed(scmp_filter_ctx ctx, uint32_t action, const char* name) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return Status::Ok();  // unknown to this libseccomp: stays ENOSYS
  return AddRule(ctx, action, nr, name);
}

Result<std::unique_ptr<SeccompFilter>> BuildFilter(const SeccompPolicy& policy) {
  auto filter = std::make_unique<SeccompFilter>();
  scmp_filter_ctx ctx = filter->get();
  if (ctx == nullptr) return Internal("seccomp_init failed");
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc != 0) return RuleError(rc, "ACT_BADARCH");
  // Binary-tree dispatch: the allowlist is long.
  (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

  for (const char* name : kAllowed) HERO_RETURN_IF_ERROR(AddNamed(ctx, SCMP_ACT_ALLOW, name));
  for (const char* name : kPermissionDenied) {
    HERO_RETURN_IF_ERROR(AddNamed(ctx, SCMP_ACT_ERRNO(EPERM), name));
  }
  for (std::string_view name : TripwireSyscalls()) {
    HERO_RETURN_IF_ERROR(AddNamed(ctx, SCMP_ACT_NOTIFY, std::string(name).c_str()));
  }

  // clone3 passes its flags in a struct seccomp cannot read: it is left at the ENOSYS default
  // (libseccomp refuses a rule equal to the default action), so glibc falls back to clone.
  // clone: the kernel uses the low 32 bits of the flags; CLONE_NEW* all live there.
  uint64_t new_mask = 0;
  for (uint64_t f : kCloneNewFlags) new_mask |= f;
  HERO_RETURN_IF_ERROR(AddRule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), "clone",
                               {SCMP_A0(SCMP_CMP_MASKED_EQ, new_mask, 0)}));
  for (uint64_t f : kCloneNewFlags) {
    HERO_RETURN_IF_ERROR(AddRule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), "clone NEW*",
                                 {SCMP_A0(SCMP_CMP_MASKED_EQ, f, f)}));
  }

  // ioctl: the command is an unsigned int; compare the low 32 bits only (TIOCSTI | 1 << 32 is
  // TIOCSTI to the kernel, CVE-2019-10063).
  const uint32_t tiocsti = TIOCSTI, tioclinux = TIOCLINUX;
  for (uint32_t cmd : {tiocsti, tioclinux}) {
    HERO_RETURN_IF_ERROR(AddRule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), "ioctl deny",
                                 {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, cmd)}));
  }
  HERO_RETURN_IF_ERROR(
      AddLow32NotInRules(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, {tiocsti, tioclinux}, "ioctl"));

  // socket: exact 64-bit comparisons; anything not allowed (including garbage in the upper
  // half) gets EAFNOSUPPORT.
  const uint32_t eafnosupport = SCMP_ACT_ERRNO(EAFNOSUPPORT);
  HERO_RETURN_IF_ERROR(AddRule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket AF_UNIX",
                               {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)}));
  if (!policy.network) {
    HERO_RETURN_IF_ERROR(AddRule(ctx, eafnosupport, SCMP_SYS(socket), "socket other",
                                 {SCMP_A0(SCMP_CMP_NE, AF_UNIX)}));
  } else {
    static_assert(AF_UNIX == 1 && AF_INET == 2 && AF_INET6 == 10);
    for (uint64_t fam : {AF_INET, AF_INET6}) {
      HERO_RETURN_IF_ERROR(AddRule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket inet",
                                   {SCMP_A0(SCMP_CMP_EQ, fam)}));
    }
    for (uint64_t fam : {0, 3, 4, 5, 6, 7, 8, 9}) {
      HERO_RETURN_IF_ERROR(AddRule(ctx, eafnosupport, SCMP_SYS(socket), "socket other",
                                   {SCMP_A0(SCMP_CMP_EQ, fam)}));
    }
    HERO_RETURN_IF_ERROR(AddRule(ctx, eafnosupport, SCMP_SYS(socket), "socket other",
                                 {SCMP_A0(SCMP_CMP_GT, AF_INET6)}));
  }
  HERO_RETURN_IF_ERROR(AddRule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), "socketpair",
                               {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)}));
  HERO_RETURN_IF_ERROR(AddRule(ctx, eafnosupport, SCMP_SYS(socketpair), "socketpair other",
                               {SCMP_A0(SCMP_CMP_NE, AF_UNIX)}));

  // personality: PER_LINUX, PER_LINUX32 and the query; anything else (ADDR_NO_RANDOMIZE, ...)
  // stays at ENOSYS.
  for (uint64_t v : {0x0ull, 0x8ull, 0xffffffffull}) {
    HERO_RETURN_IF_ERROR(AddRule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), "personality",
                                 {SCMP_A0(SCMP_CMP_EQ, v)}));
  }
  return filter;
}

}  // namespace

const std::vector<std::string_view>& TripwireSyscalls() {
  static const std::vector<std::string_view> kList = {
      "ptrace",
      "process_vm_readv",
      "process_vm_writev",
      "process_madvise",
      "pidfd_getfd",
      "mount",
      "umount2",
      "pivot_root",
      "chroot",
      "move_mount",
      "open_tree",
      "fsopen",
      "fsconfig",
      "fsmount",
      "fspick",
      "mount_setattr",
      "unshare",
      "setns",
      "keyctl",
      "add_key",
      "request_key",
      "bpf",
      "perf_event_open",
      "userfaultfd",
      "io_uring_setup",
      "io_uring_enter",
      "io_uring_register",
      "kexec_load",
      "kexec_file_load",
      "init_module",
      "finit_module",
      "delete_module",
      "create_module",
      "open_by_handle_at",
      "name_to_handle_at",
      "swapon",
      "swapoff",
      "reboot",
      "acct",
      "quotactl",
      "quotactl_fd",
      "lookup_dcookie",
      "iopl",
      "ioperm",
      "modify_ldt",
      "uselib",
      "nfsservctl",
      "_sysctl",
  };
  return kList;
}

Result<std::vector<sock_filter>> BuildSeccompProgram(const SeccompPolicy& policy) {
  HERO_ASSIGN_OR_RETURN(auto filter, BuildFilter(policy));
  int raw = memfd_create("hero-seccomp-export", MFD_CLOEXEC);
  if (raw < 0) return Status::FromErrno(errno, "memfd_create");
  UniqueFd fd(raw);
  int rc = seccomp_export_bpf(filter->get(), fd.get());
  if (rc != 0) return Internal(std::string("seccomp_export_bpf: ") + std::strerror(-rc));
  off_t size = lseek(fd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) return Internal("seccomp export: bad size");
  std::vector<sock_filter> prog(static_cast<size_t>(size) / sizeof(sock_filter));
  ssize_t n = pread(fd.get(), prog.data(), static_cast<size_t>(size), 0);
  if (n != size) return Internal("seccomp export: short read");
  if (prog.size() > BPF_MAXINSNS) return Internal("seccomp program too long");
  return prog;
}

Result<std::string> DescribeSeccompProgram(const SeccompPolicy& policy) {
  HERO_ASSIGN_OR_RETURN(auto filter, BuildFilter(policy));
  int raw = memfd_create("hero-seccomp-pfc", MFD_CLOEXEC);
  if (raw < 0) return Status::FromErrno(errno, "memfd_create");
  UniqueFd fd(raw);
  int rc = seccomp_export_pfc(filter->get(), fd.get());
  if (rc != 0) return Internal(std::string("seccomp_export_pfc: ") + std::strerror(-rc));
  off_t size = lseek(fd.get(), 0, SEEK_END);
  std::string text(static_cast<size_t>(size > 0 ? size : 0), '\0');
  if (size > 0 && pread(fd.get(), text.data(), text.size(), 0) != size) {
    return Internal("seccomp pfc: short read");
  }
  return text;
}

}  // namespace hero::sandbox
