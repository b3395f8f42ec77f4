// hero_launcher: the small mechanism that applies a sandbox policy (built by sandbox/policy.cc)
// to itself, then execs python (trusted), bubblewrap (untrusted) or, inside bwrap (--inner),
// python under the seccomp filter. Also the per-uid kill sweep. Single-threaded; argv encoding
// and exit codes are documented in sandbox/policy.h and sandbox/launcher_abi.h.
// Built without sanitizers: it runs under RLIMIT_AS inside the sandbox.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/launcher_abi.h"
#include "sandbox/seccomp_program.h"

namespace {

namespace abi = hero::sandbox::abi;

[[noreturn]] void Die(const char* fmt, ...) {
  char buf[1024];
  int off = snprintf(buf, sizeof buf, "hero_launcher: ");
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + off, sizeof buf - off - 1, fmt, ap);
  va_end(ap);
  size_t len = static_cast<size_t>(off) + (n < 0 ? 0 : static_cast<size_t>(n));
  if (len > sizeof buf - 2) len = sizeof buf - 2;
  buf[len++] = '\n';
  ssize_t ignored = write(2, buf, len);
  (void)ignored;
  _exit(abi::kExitLauncherFailure);
}

[[noreturn]] void DieErrno(const char* what, const char* arg = "") {
  Die("%s%s%s: %s", what, *arg ? " " : "", arg, strerror(errno));
}

enum class Mode { kNone, kTrusted, kUntrusted, kInner, kKill };

struct Rlimit {
  int resource;
  rlim_t soft;
  rlim_t hard;
};

constexpr int kMaxEnv = 64;
constexpr int kMaxRlimits = 16;
constexpr int kMaxKeep = 4;
constexpr int kMaxCgroups = 8;
constexpr int kMaxPassEnv = 16;

struct Args {
  Mode mode = Mode::kNone;
  long uid = -1;
  long gid = -1;
  Rlimit rlimits[kMaxRlimits];
  int nrlimits = 0;
  const char* workdir = nullptr;
  const char* source = nullptr;
  const char* input = nullptr;
  const char* tmpdir = nullptr;
  const char* passwd = nullptr;
  const char* group = nullptr;
  int seccomp_network = -1;
  long seccomp_fd = -1;
  char* env[kMaxEnv + 1] = {};
  int nenv = 0;
  char** cmd = nullptr;
  long kill_uid = -1;
  long signal = -1;
  long private_tmp = -1;  // tmpfs size in bytes; -1 = off
  const char* keep[kMaxKeep] = {};
  int nkeep = 0;
  const char* cgroup_procs[kMaxCgroups] = {};
  int ncgroups = 0;
  const char* pass_env[kMaxPassEnv] = {};
  int npass = 0;
};

const char* Value(const char* arg, const char* prefix) {
  size_t n = strlen(prefix);
  return strncmp(arg, prefix, n) == 0 ? arg + n : nullptr;
}

long ParseLong(const char* s, const char* what) {
  errno = 0;
  char* end = nullptr;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0) Die("bad %s: '%s'", what, s);
  return v;
}

rlim_t ParseRlimValue(const char* s, size_t len) {
  if (len == 3 && strncmp(s, "inf", 3) == 0) return RLIM_INFINITY;
  rlim_t v = 0;
  if (len == 0) Die("bad rlimit value");
  for (size_t i = 0; i < len; ++i) {
    if (s[i] < '0' || s[i] > '9') Die("bad rlimit value '%.*s'", static_cast<int>(len), s);
    v = v * 10 + static_cast<rlim_t>(s[i] - '0');
  }
  return v;
}

// NAME:SOFT:HARD
Rlimit ParseRlimit(const char* s) {
  static const struct {
    const char* name;
    int resource;
  } kNames[] = {{"AS", RLIMIT_AS},       {"CPU", RLIMIT_CPU},     {"NOFILE", RLIMIT_NOFILE},
                {"NPROC", RLIMIT_NPROC}, {"FSIZE", RLIMIT_FSIZE}, {"CORE", RLIMIT_CORE},
                {"DATA", RLIMIT_DATA},   {"STACK", RLIMIT_STACK}, {"MEMLOCK", RLIMIT_MEMLOCK}};
  const char* c1 = strchr(s, ':');
  const char* c2 = c1 ? strchr(c1 + 1, ':') : nullptr;
  if (!c1 || !c2) Die("bad --rlimit '%s' (want NAME:SOFT:HARD)", s);
  Rlimit r{-1, 0, 0};
  for (const auto& n : kNames) {
    if (strlen(n.name) == static_cast<size_t>(c1 - s) && strncmp(s, n.name, c1 - s) == 0) {
      r.resource = n.resource;
    }
  }
  if (r.resource < 0) Die("unknown rlimit in '%s'", s);
  r.soft = ParseRlimValue(c1 + 1, static_cast<size_t>(c2 - c1 - 1));
  r.hard = ParseRlimValue(c2 + 1, strlen(c2 + 1));
  if (r.hard != RLIM_INFINITY && (r.soft == RLIM_INFINITY || r.soft > r.hard)) {
    Die("rlimit soft > hard in '%s'", s);
  }
  return r;
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    const char* v;
    if (strcmp(arg, "--") == 0) {
      a.cmd = argv + i + 1;
      break;
    } else if (strcmp(arg, "--inner") == 0) {
      a.mode = Mode::kInner;
    } else if ((v = Value(arg, "--mode="))) {
      if (strcmp(v, "trusted") == 0) {
        a.mode = Mode::kTrusted;
      } else if (strcmp(v, "untrusted") == 0) {
        a.mode = Mode::kUntrusted;
      } else {
        Die("unknown mode '%s'", v);
      }
    } else if ((v = Value(arg, "--uid="))) {
      a.uid = ParseLong(v, "--uid");
    } else if ((v = Value(arg, "--gid="))) {
      a.gid = ParseLong(v, "--gid");
    } else if ((v = Value(arg, "--rlimit="))) {
      if (a.nrlimits == kMaxRlimits) Die("too many --rlimit");
      a.rlimits[a.nrlimits++] = ParseRlimit(v);
    } else if ((v = Value(arg, "--workdir="))) {
      a.workdir = v;
    } else if ((v = Value(arg, "--source="))) {
      a.source = v;
    } else if ((v = Value(arg, "--input="))) {
      a.input = v;
    } else if ((v = Value(arg, "--tmpdir="))) {
      a.tmpdir = v;
    } else if ((v = Value(arg, "--passwd="))) {
      a.passwd = v;
    } else if ((v = Value(arg, "--group="))) {
      a.group = v;
    } else if ((v = Value(arg, "--seccomp-network="))) {
      a.seccomp_network = static_cast<int>(ParseLong(v, "--seccomp-network"));
      if (a.seccomp_network > 1) Die("bad --seccomp-network");
    } else if ((v = Value(arg, "--seccomp-fd="))) {
      a.seccomp_fd = ParseLong(v, "--seccomp-fd");
    } else if ((v = Value(arg, "--env="))) {
      if (a.nenv == kMaxEnv) Die("too many --env");
      if (!strchr(v, '=')) Die("bad --env '%s'", v);
      a.env[a.nenv++] = const_cast<char*>(v);
    } else if ((v = Value(arg, "--pass-env="))) {
      if (a.npass == kMaxPassEnv) Die("too many --pass-env");
      a.pass_env[a.npass++] = v;
    } else if ((v = Value(arg, "--private-tmp="))) {
      a.private_tmp = ParseLong(v, "--private-tmp");
    } else if ((v = Value(arg, "--keep="))) {
      if (a.nkeep == kMaxKeep) Die("too many --keep");
      if (v[0] != '/') Die("--keep needs an absolute path");
      a.keep[a.nkeep++] = v;
    } else if ((v = Value(arg, "--cgroup-procs="))) {
      if (a.ncgroups == kMaxCgroups) Die("too many --cgroup-procs");
      if (v[0] != '/') Die("--cgroup-procs needs an absolute path");
      a.cgroup_procs[a.ncgroups++] = v;
    } else if ((v = Value(arg, "--kill-uid="))) {
      a.mode = Mode::kKill;
      a.kill_uid = ParseLong(v, "--kill-uid");
    } else if ((v = Value(arg, "--signal="))) {
      a.signal = ParseLong(v, "--signal");
    } else {
      Die("unknown argument '%s'", arg);
    }
  }
  // NAME=value entries of our own environment (posix_spawn's envp), used in place: getenv
  // returns the value inside the "NAME=value" string.
  for (int i = 0; i < a.npass; ++i) {
    const char* value = getenv(a.pass_env[i]);
    if (!value) Die("--pass-env %s: not in the launcher's environment", a.pass_env[i]);
    if (a.nenv == kMaxEnv) Die("too many --env");
    a.env[a.nenv++] = const_cast<char*>(value - strlen(a.pass_env[i]) - 1);
  }
  a.env[a.nenv] = nullptr;
  return a;
}

// A closed 0/1/2 would be filled by the next open(): never let that happen.
void EnsureStdio() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int n = open("/dev/null", O_RDWR);
      if (n != fd) _exit(abi::kExitLauncherFailure);
    }
  }
}

void CloseFrom(int first) {
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
  struct rlimit rl;
  long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                 ? static_cast<long>(rl.rlim_cur)
                 : 65536;
  for (long fd = first; fd < max; ++fd) close(static_cast<int>(fd));
}

void RequireFd(int fd, const char* what) {
  if (fcntl(fd, F_GETFD) < 0) Die("%s missing at fd %d", what, fd);
}

// Opens with the launcher's (supervisor's) credentials: the run dir may be root-only.
int OpenRegular(const char* path, const char* what) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) DieErrno(what, path);
  struct stat st;
  if (fstat(fd, &st) != 0) DieErrno(what, path);
  if (!S_ISREG(st.st_mode)) Die("%s %s is not a regular file", what, path);
  return fd;
}

// Moves fd to exactly `target`, inheritable across exec.
void Place(int fd, int target) {
  if (fd == target) {
    if (fcntl(fd, F_SETFD, 0) != 0) DieErrno("fcntl(F_SETFD)");
    return;
  }
  if (dup2(fd, target) != target) DieErrno("dup2");
  close(fd);
}

void WriteAllOrDie(int fd, const void* data, size_t len, const char* what) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) DieErrno("write", what);
    p += n;
    len -= static_cast<size_t>(n);
  }
}

// A sealed memfd holding `data`, at fd `target`, offset 0.
void PlaceMemfd(const void* data, size_t len, int target, const char* name) {
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) DieErrno("memfd_create", name);
  WriteAllOrDie(fd, data, len, name);
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    DieErrno("F_ADD_SEALS", name);
  }
  if (lseek(fd, 0, SEEK_SET) != 0) DieErrno("lseek", name);
  Place(fd, target);
}

void ApplyRlimits(const Args& a) {
  for (int i = 0; i < a.nrlimits; ++i) {
    struct rlimit rl {
      a.rlimits[i].soft, a.rlimits[i].hard
    };
    if (setrlimit(a.rlimits[i].resource, &rl) != 0) DieErrno("setrlimit");
  }
}

void DropPrivileges(uid_t uid, gid_t gid) {
  if (geteuid() == 0 && setgroups(0, nullptr) != 0) DieErrno("setgroups");
  if (setresgid(gid, gid, gid) != 0) DieErrno("setresgid");
  // PF_NPROC_EXCEEDED: leftovers of an earlier run of this uid make execve fail with EAGAIN;
  // the supervisor sweeps the uid before reusing it.
  if (setresuid(uid, uid, uid) != 0) DieErrno("setresuid");
  uid_t r, e, s;
  gid_t rg, eg, sg;
  if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid)
    Die("uid switch did not stick");
  if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid) {
    Die("gid switch did not stick");
  }
  if (setuid(0) == 0) Die("could regain uid 0 after dropping privileges");
}

void ResetSignals(bool ignore_sigterm) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    (void)sigaction(sig, &sa, nullptr);  // glibc-reserved RT signals fail: fine
  }
  if (ignore_sigterm) {
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGTERM, &sa, nullptr) != 0) DieErrno("sigaction(SIGTERM)");
  }
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) DieErrno("sigprocmask");
}

// Runs as the run uid: copies an fd opened as root into <cwd>/.hero/<name>.
void Stage(int src, const char* name) {
  if (mkdir(abi::kStageDirName, 0700) != 0 && errno != EEXIST)
    DieErrno("mkdir", abi::kStageDirName);
  int dir = open(abi::kStageDirName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) DieErrno("open", abi::kStageDirName);
  int out = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) DieErrno("create staged file", name);
  char buf[65536];
  for (;;) {
    ssize_t n = read(src, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) DieErrno("read", name);
    if (n == 0) break;
    WriteAllOrDie(out, buf, static_cast<size_t>(n), name);
  }
  close(out);
  close(dir);
  close(src);
}

bool IsRealDir(const char* path) {
  struct stat st;
  return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsUnder(const char* path, const char* dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && path[n] == '/';
}

void MkdirP(const char* path) {
  char buf[4096];
  if (strlen(path) >= sizeof buf) Die("path too long: %s", path);
  strcpy(buf, path);
  for (char* p = buf + 1; *p; ++p) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) DieErrno("mkdir", buf);
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) DieErrno("mkdir", buf);
}

// Trusted, as root: a private mount namespace where the host's shared world-writable dirs are
// replaced by size-limited tmpfs (E06: a trusted flow must not drop files into host /tmp).
// Paths the run needs that live below a covered dir (workdir, runtime dir) are bound back.
void PrivateTmp(const Args& a) {
  static const char* const kCovered[] = {"/tmp", "/var/tmp", "/dev/shm", "/run/lock"};
  if (unshare(CLONE_NEWNS) != 0) DieErrno("unshare(CLONE_NEWNS)");
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) DieErrno("make / private");
  // Opened inside the new namespace (a bind source must belong to it), before covering.
  int keep_fds[kMaxKeep];
  for (int i = 0; i < a.nkeep; ++i) {
    keep_fds[i] = open(a.keep[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (keep_fds[i] < 0) DieErrno("open", a.keep[i]);
  }
  char opts[64];
  snprintf(opts, sizeof opts, "size=%ld,mode=1777", a.private_tmp);
  for (const char* dir : kCovered) {
    if (!IsRealDir(dir)) continue;
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) DieErrno("mount tmpfs", dir);
    for (int i = 0; i < a.nkeep; ++i) {
      if (!IsUnder(a.keep[i], dir)) continue;
      MkdirP(a.keep[i]);
      char src[64];
      snprintf(src, sizeof src, "/proc/self/fd/%d", keep_fds[i]);
      if (mount(src, a.keep[i], nullptr, MS_BIND | MS_REC, nullptr) != 0)
        DieErrno("bind", a.keep[i]);
    }
  }
  for (int i = 0; i < a.nkeep; ++i) close(keep_fds[i]);
}

// As root, before anything else is set up: "0" moves the writer (the whole process). bwrap, the
// flow and anything it forks or daemonizes inherit the group(s); the supervisor kills and
// accounts through them.
void JoinCgroups(const Args& a) {
  for (int i = 0; i < a.ncgroups; ++i) {
    int fd = open(a.cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0) DieErrno("join cgroup: open", a.cgroup_procs[i]);
    ssize_t n;
    do {
      n = write(fd, "0", 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) DieErrno("join cgroup: write", a.cgroup_procs[i]);
    close(fd);
  }
}

[[noreturn]] void Exec(const Args& a) {
  if (a.cmd == nullptr || a.cmd[0] == nullptr) Die("no command after --");
  execve(a.cmd[0], a.cmd, a.env);
  DieErrno("execve", a.cmd[0]);
}

[[noreturn]] void RunOuter(const Args& a) {
  const bool untrusted = a.mode == Mode::kUntrusted;
  const pid_t parent = getppid();
  // Own session and process group; no controlling terminal.
  if (setsid() < 0 && getsid(0) != getpid()) DieErrno("setsid");
  if (untrusted) {
    RequireFd(abi::kNotifyFd, "notify socket");
    CloseFrom(abi::kNotifyFd + 1);
  } else {
    CloseFrom(abi::kNotifyFd);
  }

  // Never a flow as root (SPEC 5: a root child is no boundary at all).
  const bool root = geteuid() == 0 || getuid() == 0;
  if (a.uid < 0 && root) Die("refusing to run a flow as uid 0: no --uid given");
  if (a.uid == 0 || a.gid == 0) Die("refusing to run a flow as uid/gid 0");
  if ((a.uid < 0) != (a.gid < 0)) Die("--uid and --gid go together");
  JoinCgroups(a);

  int src = a.source ? OpenRegular(a.source, "open source") : -1;
  int inp = a.input ? OpenRegular(a.input, "open input") : -1;
  if (untrusted) {
    if (a.seccomp_network < 0 || !a.passwd || !a.group) {
      Die("untrusted mode needs --seccomp-network, --passwd and --group");
    }
    if (src >= 0) Place(src, abi::kSourceFd);
    if (inp >= 0) Place(inp, abi::kInputFd);
    PlaceMemfd(a.passwd, strlen(a.passwd), abi::kPasswdFd, "hero-passwd");
    PlaceMemfd(a.group, strlen(a.group), abi::kGroupFd, "hero-group");
    auto prog = hero::sandbox::BuildSeccompProgram({a.seccomp_network == 1});
    if (!prog.ok()) Die("seccomp program: %s", prog.status().message().c_str());
    PlaceMemfd(prog->data(), prog->size() * sizeof(sock_filter), abi::kSeccompFd, "hero-seccomp");
  }

  // Only root can build the mount namespace; without root there is no uid boundary either.
  if (!untrusted && a.private_tmp > 0 && geteuid() == 0) PrivateTmp(a);
  ApplyRlimits(a);
  if (a.uid > 0) DropPrivileges(static_cast<uid_t>(a.uid), static_cast<gid_t>(a.gid));
  // After the credential change (it clears the parent-death signal), then check the race.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) DieErrno("PR_SET_PDEATHSIG");
  if (getppid() != parent) Die("supervisor exited during launch");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) DieErrno("PR_SET_NO_NEW_PRIVS");

  if (untrusted) {
    if (chdir("/") != 0) DieErrno("chdir", "/");
  } else {
    if (!a.workdir) Die("trusted mode needs --workdir");
    // As the run uid: the workdir and its parents must be searchable by it.
    if (chdir(a.workdir) != 0) DieErrno("chdir to workdir (as the run uid)", a.workdir);
    if (src >= 0) Stage(src, abi::kStageFlowName);
    if (inp >= 0) Stage(inp, abi::kStageInputName);
    if (a.tmpdir && mkdir(a.tmpdir, 0700) != 0 && errno != EEXIST) DieErrno("mkdir", a.tmpdir);
  }
  // Untrusted: bwrap (the run's main pid) ignores SIGTERM so a SIGTERM sweep reaches the flow
  // instead of killing bwrap and, through --die-with-parent, the whole sandbox at once.
  ResetSignals(untrusted);
  Exec(a);
}

void SendFd(int sock, int fd) {
  char byte = 'L';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != 1) DieErrno("send seccomp listener over fd 4");
}

// Inside bwrap, as the last step before python: the filter is loaded here (not by bwrap) so
// the listener can be handed to the supervisor, and so bwrap's own setup is not filtered.
[[noreturn]] void RunInner(const Args& a) {
  static sock_filter prog[BPF_MAXINSNS];
  if (a.seccomp_fd < 0) Die("--inner needs --seccomp-fd");
  const int sfd = static_cast<int>(a.seccomp_fd);
  struct stat st;
  if (fstat(sfd, &st) != 0) DieErrno("seccomp fd");
  if (st.st_size <= 0 || st.st_size % sizeof(sock_filter) != 0 ||
      static_cast<size_t>(st.st_size) > sizeof prog) {
    Die("seccomp fd: bad program size %lld", static_cast<long long>(st.st_size));
  }
  if (pread(sfd, prog, static_cast<size_t>(st.st_size), 0) != st.st_size)
    DieErrno("read seccomp fd");
  close(sfd);
  struct stat sst;
  if (fstat(abi::kNotifyFd, &sst) != 0 || !S_ISSOCK(sst.st_mode))
    Die("notify socket missing at fd 4");
  // Whatever bwrap or the outer launcher left behind (fds 5..9) does not reach python.
  CloseFrom(abi::kNotifyFd + 1);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) DieErrno("PR_SET_NO_NEW_PRIVS");
  ResetSignals(false);
  sock_fprog fprog{static_cast<unsigned short>(st.st_size / sizeof(sock_filter)), prog};
  long listener =
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
  if (listener < 0) DieErrno("seccomp(SET_MODE_FILTER, NEW_LISTENER)");
  SendFd(abi::kNotifyFd, static_cast<int>(listener));
  // The sandbox must never hold its own listener (it could answer CONTINUE to itself).
  close(static_cast<int>(listener));
  close(abi::kNotifyFd);
  Exec(a);
}

[[noreturn]] void RunKill(const Args& a) {
  if (a.kill_uid <= 0) Die("refusing --kill-uid=%ld", a.kill_uid);
  if (a.signal <= 0 || a.signal >= NSIG) Die("bad --signal");
  const uid_t uid = static_cast<uid_t>(a.kill_uid);
  if (uid == getuid() || uid == geteuid()) Die("refusing to sweep the caller's own uid %u", uid);
  CloseFrom(3);
  // Only this uid: kill(-1) as it signals exactly the processes it may signal, i.e. its own
  // (real or saved uid match), never the supervisor. Atomic against fork in the kernel.
  DropPrivileges(uid, static_cast<gid_t>(uid));
  if (kill(-1, static_cast<int>(a.signal)) != 0 && errno != ESRCH) DieErrno("kill(-1)");
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  EnsureStdio();
  Args a = Parse(argc, argv);
  switch (a.mode) {
    case Mode::kTrusted:
    case Mode::kUntrusted:
      RunOuter(a);
    case Mode::kInner:
      RunInner(a);
    case Mode::kKill:
      RunKill(a);
    case Mode::kNone:
      break;
  }
  Die("usage: hero_launcher --mode=trusted|untrusted ... -- CMD | --inner ... -- CMD | "
      "--kill-uid=UID --signal=N");
}
