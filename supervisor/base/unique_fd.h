// UniqueFd: owns one file descriptor, closes it on destruction. Leaf: libc only.
// Every fd the supervisor creates is born O_CLOEXEC; use the helpers below.
#pragma once

#include <unistd.h>

#include <utility>

#include "supervisor/base/result.h"

namespace hero {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct FdPair {
  UniqueFd first;
  UniqueFd second;
};

// pipe2(O_CLOEXEC). first = read end, second = write end.
Result<FdPair> MakePipe();
// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC).
Result<FdPair> MakeSocketPair();
// open(path, flags | O_CLOEXEC, mode).
Result<UniqueFd> OpenFile(const char* path, int flags, int mode = 0600);
// Writes all of data, retrying on EINTR/short writes (blocking fds only).
Status WriteAll(int fd, const void* data, size_t len);
// Sets or clears O_NONBLOCK.
Status SetNonBlocking(int fd, bool on);

}  // namespace hero
