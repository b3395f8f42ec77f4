// UniqueFd helpers: every fd is created with CLOEXEC so no child inherits it by accident.
#include "supervisor/base/unique_fd.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

namespace hero {

Result<FdPair> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe2");
  return FdPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<FdPair> MakeSocketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return Status::FromErrno(errno, "socketpair");
  }
  return FdPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<UniqueFd> OpenFile(const char* path, int flags, int mode) {
  int fd = ::open(path, flags | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno(errno, std::string("open ") + path);
  return UniqueFd(fd);
}

Status WriteAll(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "write");
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SetNonBlocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return Status::FromErrno(errno, "fcntl(F_GETFL)");
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (::fcntl(fd, F_SETFL, flags) < 0) return Status::FromErrno(errno, "fcntl(F_SETFL)");
  return Status::Ok();
}

}  // namespace hero
