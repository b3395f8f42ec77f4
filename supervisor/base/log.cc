// Logging implementation: one write(2) per line so concurrent lines do not interleave, and
// one line per event (embedded newlines escaped) so journald and log shippers keep events
// whole. Under systemd (stderr is the journal stream named by $JOURNAL_STREAM) each line starts
// with its syslog priority, "<3>" for an error (sd-daemon(3)), which journald strips and keeps.
#include "supervisor/base/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace hero {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarn)};

// $JOURNAL_STREAM is "DEV:INODE" of the journal socket systemd gave us as stdout/stderr.
bool StderrIsJournal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  return ::fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

LogLine::LogLine(LogLevel level, const char* file, int line) : level_(level) {
  static const char* kNames[] = {"D", "I", "W", "E"};
  static const char* kPriorities[] = {"<7>", "<6>", "<4>", "<3>"};  // debug info warning err
  const char* base = std::strrchr(file, '/');
  // Checked per line (a getenv and an fstat): stderr can be redirected at run time.
  if (StderrIsJournal()) stream_ << kPriorities[static_cast<int>(level)];
  stream_ << "hero_logic " << kNames[static_cast<int>(level)] << " " << (base ? base + 1 : file)
          << ":" << line << "] ";
}

LogLine::~LogLine() {
  std::string s = stream_.str();
  for (size_t i = 0; (i = s.find('\n', i)) != std::string::npos; i += 2) s.replace(i, 1, "\\n");
  s += '\n';
  ssize_t ignored = ::write(STDERR_FILENO, s.data(), s.size());
  (void)ignored;
  (void)level_;
}

}  // namespace hero
