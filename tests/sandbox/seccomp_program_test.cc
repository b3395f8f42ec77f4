// Unit tests for the seccomp program: it builds, and a small classic-BPF interpreter checks
// the decisions (arch, x32, tripwires, argument filters) without loading anything.
#include "sandbox/seccomp_program.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>
#include <random>

namespace hero::sandbox {
namespace {

struct Call {
  uint32_t arch = AUDIT_ARCH_X86_64;
  int nr = 0;
  uint64_t args[6] = {};
};

// Interprets the subset of classic BPF that libseccomp emits. Fails the test on anything else.
uint32_t Eval(const std::vector<sock_filter>& prog, const Call& c) {
  seccomp_data d{};
  d.nr = c.nr;
  d.arch = c.arch;
  for (int i = 0; i < 6; ++i) d.args[i] = c.args[i];
  unsigned char bytes[sizeof d];
  std::memcpy(bytes, &d, sizeof d);
  uint32_t A = 0, X = 0, mem[BPF_MEMWORDS] = {};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        EXPECT_LE(f.k + 4, sizeof d);
        std::memcpy(&A, bytes + f.k, 4);
        break;
      case BPF_LD | BPF_MEM:
        A = mem[f.k];
        break;
      case BPF_LDX | BPF_MEM:
        X = mem[f.k];
        break;
      case BPF_ST:
        mem[f.k] = A;
        break;
      case BPF_STX:
        mem[f.k] = X;
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        A &= f.k;
        break;
      case BPF_ALU | BPF_OR | BPF_K:
        A |= f.k;
        break;
      case BPF_MISC | BPF_TAX:
        X = A;
        break;
      case BPF_MISC | BPF_TXA:
        A = X;
        break;
      case BPF_JMP | BPF_JA:
        pc += f.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += (A == f.k) ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += (A > f.k) ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += (A >= f.k) ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (A & f.k) ? f.jt : f.jf;
        break;
      case BPF_RET | BPF_K:
        return f.k;
      case BPF_RET | BPF_A:
        return A;
      default:
        ADD_FAILURE() << "unsupported BPF opcode 0x" << std::hex << f.code;
        return 0;
    }
  }
  ADD_FAILURE() << "fell off the end of the program";
  return 0;
}

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kNotify = SECCOMP_RET_USER_NOTIF;
constexpr uint32_t kKillProcess = SECCOMP_RET_KILL_PROCESS;
uint32_t Errno(int e) { return SECCOMP_RET_ERRNO | static_cast<uint32_t>(e); }

std::vector<sock_filter> Program(bool network) {
  auto p = BuildSeccompProgram(SeccompPolicy{network});
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : std::vector<sock_filter>{};
}

Call Sys(const char* name, std::initializer_list<uint64_t> args = {}) {
  Call c;
  c.nr = seccomp_syscall_resolve_name(name);
  EXPECT_GE(c.nr, 0) << name;
  int i = 0;
  for (uint64_t a : args) c.args[i++] = a;
  return c;
}

TEST(SeccompProgramTest, BuildsForBothNetworkSettings) {
  auto off = Program(false);
  auto on = Program(true);
  ASSERT_FALSE(off.empty());
  ASSERT_FALSE(on.empty());
  EXPECT_NE(off.size(), on.size());
}

TEST(SeccompProgramTest, ForeignArchAndX32AreKilled) {
  auto prog = Program(false);
  Call c = Sys("getpid");
  c.arch = AUDIT_ARCH_I386;
  EXPECT_EQ(Eval(prog, c), kKillProcess);
  c.arch = AUDIT_ARCH_X86_64;
  c.nr = 0x40000000 | 39;  // x32 getpid
  EXPECT_EQ(Eval(prog, c), kKillProcess);
  c.nr = 0x40000000 | 101;  // x32 ptrace
  EXPECT_EQ(Eval(prog, c), kKillProcess);
}

TEST(SeccompProgramTest, OrdinarySyscallsAreAllowedAndUnknownAreEnosys) {
  auto prog = Program(false);
  for (const char* name : {"read", "write", "openat", "mmap", "futex", "execve", "wait4",
                           "epoll_wait", "getrandom", "rt_sigaction", "pipe2", "statx"}) {
    EXPECT_EQ(Eval(prog, Sys(name)), kAllow) << name;
  }
  EXPECT_EQ(Eval(prog, Sys("clone3")), Errno(ENOSYS));
  EXPECT_EQ(Eval(prog, Sys("vmsplice")), Errno(ENOSYS));
  Call c;
  c.nr = 440;  // process_madvise neighbourhood: anything unlisted
  c.nr = 999;
  EXPECT_EQ(Eval(prog, c), Errno(ENOSYS));
  EXPECT_EQ(Eval(prog, Sys("setuid", {0})), Errno(EPERM));
}

TEST(SeccompProgramTest, EveryTripwireNotifies) {
  auto prog = Program(false);
  int known = 0;
  for (std::string_view name : TripwireSyscalls()) {
    int nr = seccomp_syscall_resolve_name(std::string(name).c_str());
    if (nr < 0) continue;  // not an x86_64 syscall for this libseccomp
    ++known;
    Call c;
    c.nr = nr;
    EXPECT_EQ(Eval(prog, c), kNotify) << name;
  }
  EXPECT_GE(known, 40);
  for (const char* must : {"ptrace", "process_vm_readv", "mount", "unshare", "setns", "keyctl",
                           "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
                           "open_by_handle_at", "kexec_load", "init_module", "fsopen"}) {
    EXPECT_EQ(Eval(prog, Sys(must)), kNotify) << must;
  }
}

TEST(SeccompProgramTest, CloneWithNamespaceFlagsIsEperm) {
  auto prog = Program(false);
  const uint64_t thread_flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                                CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
                                CLONE_CHILD_CLEARTID;
  EXPECT_EQ(Eval(prog, Sys("clone", {thread_flags})), kAllow);
  EXPECT_EQ(Eval(prog, Sys("clone", {SIGCHLD})), kAllow);
  for (uint64_t f : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS,
                     CLONE_NEWIPC, CLONE_NEWCGROUP}) {
    EXPECT_EQ(Eval(prog, Sys("clone", {SIGCHLD | f})), Errno(EPERM)) << std::hex << f;
    EXPECT_EQ(Eval(prog, Sys("clone", {(1ull << 40) | f})), Errno(EPERM)) << std::hex << f;
  }
}

TEST(SeccompProgramTest, IoctlDeniesTiocstiOnLow32BitsOnly) {
  auto prog = Program(false);
  for (uint64_t high : {0ull, 1ull << 32, 0xdeadbeefull << 32, 0xffffffffull << 32}) {
    EXPECT_EQ(Eval(prog, Sys("ioctl", {0, high | TIOCSTI})), Errno(EPERM)) << std::hex << high;
    EXPECT_EQ(Eval(prog, Sys("ioctl", {0, high | TIOCLINUX})), Errno(EPERM)) << std::hex << high;
  }
  for (uint64_t cmd : std::initializer_list<uint64_t>{TCGETS, FIONREAD, FIOCLEX, TIOCGWINSZ,
                                                      TIOCSTI + 1, TIOCSTI - 1, 0, 0xffffffffull}) {
    EXPECT_EQ(Eval(prog, Sys("ioctl", {0, cmd})), kAllow) << std::hex << cmd;
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    uint64_t cmd = rng();
    uint32_t low = static_cast<uint32_t>(cmd);
    uint32_t want = (low == TIOCSTI || low == TIOCLINUX) ? Errno(EPERM) : kAllow;
    ASSERT_EQ(Eval(prog, Sys("ioctl", {3, cmd})), want) << std::hex << cmd;
  }
}

TEST(SeccompProgramTest, SocketFamiliesFollowTheNetworkSetting) {
  auto off = Program(false);
  auto on = Program(true);
  EXPECT_EQ(Eval(off, Sys("socket", {AF_UNIX, SOCK_STREAM})), kAllow);
  EXPECT_EQ(Eval(on, Sys("socket", {AF_UNIX, SOCK_STREAM})), kAllow);
  for (uint64_t fam : std::initializer_list<uint64_t>{AF_INET, AF_INET6}) {
    EXPECT_EQ(Eval(off, Sys("socket", {fam, SOCK_STREAM})), Errno(EAFNOSUPPORT));
    EXPECT_EQ(Eval(on, Sys("socket", {fam, SOCK_STREAM})), kAllow);
  }
  for (uint64_t fam :
       std::initializer_list<uint64_t>{0, 3, 9, AF_NETLINK, AF_PACKET, AF_VSOCK,
                                       (1ull << 32) | AF_UNIX, (1ull << 32) | AF_INET}) {
    EXPECT_EQ(Eval(off, Sys("socket", {fam})), Errno(EAFNOSUPPORT)) << fam;
    EXPECT_EQ(Eval(on, Sys("socket", {fam})), Errno(EAFNOSUPPORT)) << fam;
  }
  EXPECT_EQ(Eval(on, Sys("socketpair", {AF_UNIX})), kAllow);
  EXPECT_EQ(Eval(on, Sys("socketpair", {AF_INET})), Errno(EAFNOSUPPORT));
}

TEST(SeccompProgramTest, PersonalityOnlyLinux) {
  auto prog = Program(false);
  EXPECT_EQ(Eval(prog, Sys("personality", {0})), kAllow);
  EXPECT_EQ(Eval(prog, Sys("personality", {0xffffffff})), kAllow);
  EXPECT_EQ(Eval(prog, Sys("personality", {0x0040000})), Errno(ENOSYS));  // ADDR_NO_RANDOMIZE
}

TEST(SeccompProgramTest, DescriptionMentionsTripwires) {
  auto text = DescribeSeccompProgram(SeccompPolicy{});
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("ptrace"), std::string::npos);
  EXPECT_NE(text->find("io_uring_setup"), std::string::npos);
}

}  // namespace
}  // namespace hero::sandbox
