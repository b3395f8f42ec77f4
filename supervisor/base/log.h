// Minimal leveled logging to stderr: HERO_LOG(kWarn) << "..." . Leaf: STL only.
// Log once, where an error is decided.
#pragma once

#include <sstream>

namespace hero {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

class LogLine {
 public:
  LogLine(LogLevel level, const char* file, int line);
  ~LogLine();
  template <typename T>
  LogLine& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace hero

#define HERO_LOG(level)                                                   \
  if (::hero::LogLevel::level < ::hero::GetLogLevel()) {                  \
  } else                                                                  \
    ::hero::LogLine(::hero::LogLevel::level, __FILE__, __LINE__)
