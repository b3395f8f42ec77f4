// Seccomp user-notification handling for the supervisor. Order matters in HandleNotification:
// open a pidfd first, then check the notification is still valid (the task is still blocked in
// it, so the pid cannot have been reused), then kill, then answer.
#include "sandbox/seccomp_notify.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace hero::sandbox {
namespace {

constexpr std::string_view kListenerLink = "anon_inode:seccomp notify";

bool IsSeccompListener(int fd) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  char target[128];
  ssize_t n = readlink(path, target, sizeof target);
  return n > 0 && std::string_view(target, static_cast<size_t>(n)) == kListenerLink;
}

// Thread-group id of a task id, from /proc/<tid>/status; the tid itself if unreadable.
pid_t TgidOf(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(tid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tid;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return tid;
  buf[n] = '\0';
  const char* p = std::strstr(buf, "\nTgid:");
  if (p == nullptr) return tid;
  long v = std::strtol(p + 6, nullptr, 10);
  return v > 0 ? static_cast<pid_t>(v) : tid;
}

struct NotifSizes {
  size_t notif = sizeof(seccomp_notif);
  size_t resp = sizeof(seccomp_notif_resp);
};

const NotifSizes& Sizes() {
  static const NotifSizes sizes = [] {
    NotifSizes s;
    seccomp_notif_sizes k{};
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &k) == 0) {
      if (k.seccomp_notif > s.notif) s.notif = k.seccomp_notif;
      if (k.seccomp_notif_resp > s.resp) s.resp = k.seccomp_notif_resp;
    }
    return s;
  }();
  return sizes;
}

}  // namespace

Result<UniqueFd> ReceiveListenerFd(int sock) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  std::memset(control, 0, sizeof control);
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Unavailable("no listener fd yet");
    return Status::FromErrno(errno, "recvmsg(notify socket)");
  }
  std::vector<UniqueFd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
  if (n == 0 && fds.empty()) return NotFound("notify socket closed without a listener fd");
  if (msg.msg_flags & MSG_CTRUNC) return InvalidArgument("notify socket: too many fds");
  if (fds.size() != 1) {
    return InvalidArgument("notify socket: expected 1 fd, got " + std::to_string(fds.size()));
  }
  if (!IsSeccompListener(fds[0].get())) {
    return InvalidArgument("notify socket: received fd is not a seccomp listener");
  }
  return std::move(fds[0]);
}

Result<BlockedCall> HandleNotification(int listener_fd) {
  // RECV blocks when nothing is pending, whatever O_NONBLOCK says: poll first.
  pollfd pfd{listener_fd, POLLIN, 0};
  int pr;
  do {
    pr = poll(&pfd, 1, 0);
  } while (pr < 0 && errno == EINTR);
  if (pr < 0) return Status::FromErrno(errno, "poll(seccomp listener)");
  if (pr == 0 || !(pfd.revents & POLLIN)) {
    if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) return IoError("seccomp listener closed");
    return Unavailable("no seccomp notification pending");
  }

  const NotifSizes& sizes = Sizes();
  std::vector<unsigned char> req_buf(sizes.notif, 0);  // RECV requires a zeroed struct
  std::vector<unsigned char> resp_buf(sizes.resp, 0);
  auto* req = reinterpret_cast<seccomp_notif*>(req_buf.data());
  auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf.data());
  if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
    // ENOENT: the task was interrupted (killed) between the wake-up and RECV.
    if (errno == ENOENT) return NotFound("seccomp notification vanished");
    if (errno == EINTR || errno == EAGAIN) return Unavailable("seccomp RECV interrupted");
    return Status::FromErrno(errno, "SECCOMP_IOCTL_NOTIF_RECV");
  }

  BlockedCall call;
  call.pid = static_cast<pid_t>(req->pid);
  call.syscall_nr = req->data.nr;
  if (char* name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr)) {
    call.name = name;
    std::free(name);
  } else {
    call.name = "syscall_" + std::to_string(req->data.nr);
  }

  int pidfd = -1;
  if (call.pid > 0) {
    pidfd = static_cast<int>(syscall(SYS_pidfd_open, TgidOf(call.pid), 0));
  }
  // Valid now => the task is still blocked in this notification, so the pid behind pidfd is it.
  bool valid = ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) == 0;
  if (pidfd >= 0) {
    if (valid) (void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    close(pidfd);
  }
  if (!valid) return NotFound("task died before its blocked syscall " + call.name + " was handled");
  resp->id = req->id;
  resp->error = -EPERM;
  resp->val = 0;
  resp->flags = 0;
  // ENOENT here is the expected outcome of the SIGKILL above.
  (void)ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_SEND, resp);
  return call;
}

}  // namespace hero::sandbox
