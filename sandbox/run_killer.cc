// Process-group kill and /proc scan; the uid sweep itself runs in hero_launcher --kill-uid.
#include "sandbox/run_killer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hero::sandbox {

std::vector<std::string> BuildKillArgv(std::string_view launcher_path, uid_t uid, int signal) {
  return {std::string(launcher_path), "--kill-uid=" + std::to_string(uid),
          "--signal=" + std::to_string(signal)};
}

Status KillProcessGroup(pid_t pgid, int sig) {
  if (pgid <= 1) return InvalidArgument("KillProcessGroup: bad pgid " + std::to_string(pgid));
  if (kill(-pgid, sig) == 0) return Status::Ok();
  if (errno == ESRCH) return NotFound("process group " + std::to_string(pgid) + " is empty");
  return Status::FromErrno(errno, "kill(-" + std::to_string(pgid) + ")");
}

std::vector<pid_t> ListProcessesOfUid(uid_t uid) {
  std::vector<pid_t> out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || end == nullptr || *end != '\0') continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/status", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    const char* p = std::strstr(buf, "\nUid:");
    if (p == nullptr) continue;
    unsigned long real = 0, effective = 0;
    if (std::sscanf(p + 5, "%lu %lu", &real, &effective) != 2) continue;
    if (real == uid || effective == uid) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(dir);
  return out;
}

}  // namespace hero::sandbox
