// Integration tests of the untrusted sandbox itself: filesystem, network, seccomp tripwires
// (the test plays the supervisor: it receives the listener and handles notifications), and
// the argument filters.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "sandbox/policy.h"
#include "sandbox/seccomp_notify.h"
#include "supervisor/base/unique_fd.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace hero::sandbox::testing {
namespace {

bool HasLine(const std::string& s, const std::string& line) {
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

constexpr const char* kSyscallPrelude =
    "import ctypes, errno, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.syscall.restype = ctypes.c_long\n"
    "def sc(nr, *a):\n"
    "    ctypes.set_errno(0)\n"
    "    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(x) for x in a])\n"
    "    return r, ctypes.get_errno()\n"
    "def res(label, r, e):\n"
    "    print(label, 'OK' if r != -1 else errno.errorcode.get(e, str(e)), flush=True)\n"
    "def probe(label, nr, *a):\n"
    "    pid = os.fork()\n"
    "    if pid == 0:\n"
    "        r, e = sc(nr, *a)\n"
    "        os._exit(0 if r != -1 else 100 + min(e, 99))\n"
    "    _, st = os.waitpid(pid, 0)\n"
    "    if os.WIFSIGNALED(st): print(label, 'SIG', os.WTERMSIG(st), flush=True)\n"
    "    else: print(label, 'EXIT', os.WEXITSTATUS(st), flush=True)\n";

class UntrustedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "needs root: the launcher switches to uid " << kRunUid;
    std::string why = UntrustedUnavailableReason();
    if (!why.empty()) GTEST_SKIP() << why;
    SweepRunUid(scratch_.launcher());
  }
  void TearDown() override { SweepRunUid(scratch_.launcher()); }

  RunOutput Launch(const Policy& p) {
    auto argv = BuildLauncherArgv(p, scratch_.launcher());
    EXPECT_TRUE(argv.ok()) << argv.status().ToString();
    if (!argv.ok()) return {};
    return RunLauncher(*argv, true);
  }
  Policy MakePolicy(const std::string& script) const {
    return scratch_.MakePolicy(Profile::kUntrusted, script);
  }

  Scratch scratch_;
};

TEST_F(UntrustedTest, FilesystemIsMinimalAndReadOnly) {
  Policy p = MakePolicy(
      "import os, errno\n"
      "def t(name, fn):\n"
      "    try: fn(); print(name, 'OK')\n"
      "    except OSError as e: print(name, errno.errorcode.get(e.errno, e.errno))\n"
      "t('shadow', lambda: open('/etc/shadow').read())\n"
      "for d in ['/root', '/home', '/var', '/run', '/etc/ssl/private', '/sys', '/boot', '/opt',\n"
      "          '/srv', '/mnt', '/etc/sudoers', '/etc/hostname']:\n"
      "    print('exists', d, os.path.exists(d))\n"
      "for path in ['/x', '/usr/x', '/etc/x', '/dev/x', '/hero/x', '/hero/rt/x', '/proc/x',\n"
      "             '/hero/flow.py', '/etc/passwd']:\n"
      "    t('write ' + path, lambda: open(path, 'a').write('x'))\n"
      "for path in ['/work/a', '/tmp/a', '/dev/shm/a']:\n"
      "    t('write ' + path, lambda: open(path, 'w').write('x'))\n"
      "def fill(path):\n"
      "    with open(path, 'wb') as f:\n"
      "        for i in range(48): f.write(b'\\0' * (1 << 20)); f.flush()\n"
      "t('fill /work', lambda: fill('/work/big'))\n"
      "t('fill /tmp', lambda: fill('/tmp/big'))\n"
      "t('fill /dev/shm', lambda: fill('/dev/shm/big'))\n"
      "print('passwd', open('/etc/passwd').read().count('\\n'))\n"
      "print('cwd', os.getcwd())\n");
  p.work_size_bytes = 16 * kMiB;
  p.tmp_size_bytes = 16 * kMiB;
  p.shm_size_bytes = 8 * kMiB;
  RunOutput r = Launch(p);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "shadow ENOENT")) << r.Describe();
  for (const char* d : {"/root", "/home", "/var", "/run", "/etc/ssl/private", "/sys", "/boot",
                        "/opt", "/srv", "/mnt", "/etc/sudoers", "/etc/hostname"}) {
    EXPECT_TRUE(HasLine(r.out, std::string("exists ") + d + " False")) << d << r.Describe();
  }
  for (const char* path : {"/x", "/usr/x", "/etc/x", "/dev/x", "/hero/x", "/hero/rt/x"}) {
    EXPECT_TRUE(HasLine(r.out, std::string("write ") + path + " EROFS")) << path << r.Describe();
  }
  EXPECT_FALSE(HasLine(r.out, "write /hero/flow.py OK")) << r.Describe();
  EXPECT_FALSE(HasLine(r.out, "write /etc/passwd OK")) << r.Describe();
  EXPECT_FALSE(HasLine(r.out, "write /proc/x OK")) << r.Describe();
  for (const char* path : {"/work/a", "/tmp/a", "/dev/shm/a"}) {
    EXPECT_TRUE(HasLine(r.out, std::string("write ") + path + " OK")) << path << r.Describe();
  }
  EXPECT_TRUE(HasLine(r.out, "fill /work ENOSPC")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "fill /tmp ENOSPC")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "fill /dev/shm ENOSPC")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "passwd 3")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "cwd /work")) << r.Describe();
}

TEST_F(UntrustedTest, NoNetworkAndOnlyUnixSockets) {
  RunOutput r = Launch(
      MakePolicy("import socket, errno\n"
                 "for name in ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET', 'AF_UNIX']:\n"
                 "    try: socket.socket(getattr(socket, name), socket.SOCK_DGRAM).close(); "
                 "print(name, 'OK')\n"
                 "    except OSError as e: print(name, errno.errorcode.get(e.errno, e.errno))\n"
                 "a, b = socket.socketpair(); a.sendall(b'x'); print('pair', b.recv(1))\n"
                 "import os; print('ifaces', sorted(os.listdir('/proc/self/net/dev_snmp6')) "
                 "if os.path.exists('/proc/self/net/dev_snmp6') else "
                 "open('/proc/self/net/dev').read().count(':'))\n"));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  for (const char* fam : {"AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"}) {
    EXPECT_TRUE(HasLine(r.out, std::string(fam) + " EAFNOSUPPORT")) << fam << r.Describe();
  }
  EXPECT_TRUE(HasLine(r.out, "AF_UNIX OK")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "pair b'x'")) << r.Describe();
}

TEST_F(UntrustedTest, NetworkOptInAllowsInetSockets) {
  Policy p = MakePolicy(
      "import socket, errno\n"
      "for name in ['AF_INET', 'AF_INET6', 'AF_NETLINK']:\n"
      "    try: socket.socket(getattr(socket, name), socket.SOCK_DGRAM).close(); print(name, "
      "'OK')\n"
      "    except OSError as e: print(name, errno.errorcode.get(e.errno, e.errno))\n");
  p.network = true;
  RunOutput r = Launch(p);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "AF_INET OK")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "AF_NETLINK EAFNOSUPPORT")) << r.Describe();
}

TEST_F(UntrustedTest, TripwiresKillTheCallerAndNameTheSyscall) {
  std::string script = std::string(kSyscallPrelude) +
                       "probe('ptrace', 101, 0x4206, 1, 0, 0)\n"
                       "probe('unshare', 272, 0x10000000)\n"
                       "probe('mount', 165, 0, 0, 0, 0, 0)\n"
                       "probe('io_uring_setup', 425, 8, 0)\n"
                       "probe('bpf', 321, 0, 0, 0)\n"
                       "probe('keyctl', 250, 0, 0, 0, 0, 0)\n"
                       "probe('process_vm_readv', 310, 1, 0, 0, 0, 0, 0)\n"
                       "probe('open_by_handle_at', 304, -100, 0, 0)\n"
                       "probe('setns', 308, 0, 0)\n"
                       "probe('perf_event_open', 298, 0, 0, -1, -1, 0)\n"
                       "probe('userfaultfd', 323, 0)\n"
                       "probe('x32_getpid', 0x40000000 | 39)\n"
                       "print('SURVIVED', flush=True)\n";
  RunOutput r = Launch(MakePolicy(script));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(r.listener_received) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "SURVIVED")) << r.Describe();
  std::set<std::string> names;
  for (const auto& b : r.blocked) {
    names.insert(b.name);
    EXPECT_EQ(b.Reason(), "blocked syscall " + b.name);
    EXPECT_GT(b.pid, 0);
  }
  for (const char* n :
       {"ptrace", "unshare", "mount", "io_uring_setup", "bpf", "keyctl", "process_vm_readv",
        "open_by_handle_at", "setns", "perf_event_open", "userfaultfd"}) {
    EXPECT_EQ(names.count(n), 1u) << n << r.Describe();
    EXPECT_TRUE(HasLine(r.out, std::string(n) + " SIG 9")) << n << r.Describe();
  }
  // x32: KILL_PROCESS by the filter itself (not nameable through the listener).
  EXPECT_TRUE(HasLine(r.out, "x32_getpid SIG 31")) << r.Describe();
  EXPECT_EQ(r.blocked.size(), 11u) << r.Describe();
}

TEST_F(UntrustedTest, MainProcessTripwireEndsTheRunWithAName) {
  RunOutput r =
      Launch(MakePolicy(std::string(kSyscallPrelude) + "print('ATTEMPT: ptrace', flush=True)\n"
                                                       "sc(101, 0x4206, 1, 0, 0)\n"
                                                       "print('STILL ALIVE')\n"));
  ASSERT_EQ(r.blocked.size(), 1u) << r.Describe();
  EXPECT_EQ(r.blocked[0].Reason(), "blocked syscall ptrace");
  EXPECT_EQ(r.out.find("STILL ALIVE"), std::string::npos) << r.Describe();
  // bwrap reports the flow's death by SIGKILL as 128 + 9.
  EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.Describe();
}

TEST_F(UntrustedTest, ArgumentFiltersFailCleanly) {
  std::string script =
      std::string(kSyscallPrelude) +
      "buf = ctypes.create_string_buffer(b'x')\n"
      "res('clone_newuser', *sc(56, 0x10000000 | 17, 0, 0, 0, 0))\n"
      "res('clone_newnet', *sc(56, 0x40000000 | 17, 0, 0, 0, 0))\n"
      "res('tiocsti', *sc(16, 0, 0x5412, ctypes.addressof(buf)))\n"
      "res('tiocsti_high', *sc(16, 0, (1 << 32) | 0x5412, ctypes.addressof(buf)))\n"
      "res('tioclinux', *sc(16, 0, 0x541C, ctypes.addressof(buf)))\n"
      "r, w = os.pipe(); n = ctypes.c_int(0)\n"
      "res('fionread', *sc(16, r, 0x541B, ctypes.addressof(n)))\n"
      "res('clone3', *sc(435, 0, 0))\n"
      "res('personality_norandom', *sc(135, 0x0040000))\n"
      "res('setuid0', *sc(105, 0))\n"
      "import threading; t = threading.Thread(target=lambda: print('thread ran', flush=True));"
      " t.start(); t.join()\n"
      "pid = os.fork()\n"
      "if pid == 0: os._exit(7)\n"
      "print('fork', os.waitpid(pid, 0)[1] >> 8)\n";
  RunOutput r = Launch(MakePolicy(script));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "clone_newuser EPERM")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "clone_newnet EPERM")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "tiocsti EPERM")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "tiocsti_high EPERM")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "tioclinux EPERM")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "fionread OK")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "clone3 ENOSYS")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "personality_norandom ENOSYS")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "setuid0 EPERM")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "thread ran")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "fork 7")) << r.Describe();
  EXPECT_TRUE(r.blocked.empty()) << r.Describe();
}

TEST_F(UntrustedTest, SetuidBinariesDoNotElevate) {
  // E18: NoNewPrivs + nosuid: even a setuid binary, if bound, cannot give uid 0.
  RunOutput r = Launch(
      MakePolicy("import subprocess, os\n"
                 "for b in ['/usr/bin/su', '/usr/bin/sudo', '/usr/bin/passwd', '/usr/bin/mount']:\n"
                 "    if os.path.exists(b):\n"
                 "        p = subprocess.run([b, '--help'], capture_output=True)\n"
                 "print('EUID', os.geteuid())\n"
                 "print(subprocess.run(['/usr/bin/id', '-u'], capture_output=True, "
                 "text=True).stdout.strip())\n"));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, std::to_string(kRunUid))) << r.Describe();
}

TEST(SeccompNotifyTest, ReceiveListenerFdValidatesWhatArrives) {
  auto pair = MakeSocketPair();
  ASSERT_TRUE(pair.ok());
  ASSERT_TRUE(SetNonBlocking(pair->first.get(), true).ok());
  auto r = ReceiveListenerFd(pair->first.get());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);

  // A pipe is not a seccomp listener.
  auto pipe = MakePipe();
  ASSERT_TRUE(pipe.ok());
  char byte = 'L';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 2)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int));
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int fd = pipe->first.get();
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ASSERT_EQ(sendmsg(pair->second.get(), &msg, 0), 1);
  r = ReceiveListenerFd(pair->first.get());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();

  // Two fds at once.
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * 2);
  c->cmsg_len = CMSG_LEN(sizeof(int) * 2);
  int fds[2] = {pipe->first.get(), pipe->second.get()};
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  ASSERT_EQ(sendmsg(pair->second.get(), &msg, 0), 1);
  r = ReceiveListenerFd(pair->first.get());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();

  // No fd at all, then EOF.
  ASSERT_EQ(write(pair->second.get(), "x", 1), 1);
  r = ReceiveListenerFd(pair->first.get());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  pair->second.Reset();
  r = ReceiveListenerFd(pair->first.get());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(SeccompNotifyTest, HandleNotificationDoesNotBlockWhenIdle) {
  auto pipe = MakePipe();
  ASSERT_TRUE(pipe.ok());
  auto r = HandleNotification(pipe->first.get());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace hero::sandbox::testing
