// /proc readers. A process may vanish between readdir and open: every miss is skipped.
#include "supervisor/core/proc_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hero::core {
namespace {

bool ReadSmallFile(const char* path, char* buf, size_t cap, size_t* len) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::read(fd, buf, cap - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  *len = static_cast<size_t>(n);
  return true;
}

template <typename Fn>
void ForEachPid(Fn&& fn) {
  DIR* d = ::opendir("/proc");
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    fn(static_cast<pid_t>(pid));
  }
  ::closedir(d);
}

}  // namespace

std::vector<std::pair<pid_t, uid_t>> ListProcessUids() {
  std::vector<std::pair<pid_t, uid_t>> out;
  ForEachPid([&](pid_t pid) {
    char path[64], buf[4096];
    size_t len = 0;
    std::snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (!ReadSmallFile(path, buf, sizeof buf, &len)) return;
    const char* u = std::strstr(buf, "\nUid:");
    if (!u) return;
    out.push_back({pid, static_cast<uid_t>(std::strtoul(u + 5, nullptr, 10))});
  });
  return out;
}

std::vector<pid_t> ListZombieChildren() {
  std::vector<pid_t> out;
  pid_t self = ::getpid();
  ForEachPid([&](pid_t pid) {
    char path[64], buf[1024];
    size_t len = 0;
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (!ReadSmallFile(path, buf, sizeof buf, &len)) return;
    // comm may contain spaces and parentheses: fields resume after the last ')'.
    const char* rp = std::strrchr(buf, ')');
    if (!rp) return;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(rp + 1, " %c %d", &state, &ppid) != 2) return;
    if (state == 'Z' && ppid == self) out.push_back(pid);
  });
  return out;
}

std::string ProcessName(pid_t pid) {
  char path[64], buf[256];
  size_t len = 0;
  std::snprintf(path, sizeof path, "/proc/%d/comm", pid);
  if (!ReadSmallFile(path, buf, sizeof buf, &len)) return "";
  std::string s(buf, len);
  while (!s.empty() && (s.back() == '\n')) s.pop_back();
  return s;
}

}  // namespace hero::core
