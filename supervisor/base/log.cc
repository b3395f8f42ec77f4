// Logging implementation: one write(2) per line so concurrent lines do not interleave.
#include "supervisor/base/log.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

namespace hero {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarn)};
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

LogLine::LogLine(LogLevel level, const char* file, int line) : level_(level) {
  static const char* kNames[] = {"D", "I", "W", "E"};
  const char* base = std::strrchr(file, '/');
  stream_ << "hero_logic " << kNames[static_cast<int>(level)] << " " << (base ? base + 1 : file)
          << ":" << line << "] ";
}

LogLine::~LogLine() {
  stream_ << '\n';
  std::string s = stream_.str();
  ssize_t ignored = ::write(STDERR_FILENO, s.data(), s.size());
  (void)ignored;
  (void)level_;
}

}  // namespace hero
