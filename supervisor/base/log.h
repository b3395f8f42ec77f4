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

// A for-statement (not if/else) so `if (x) HERO_LOG(kWarn) << ...;` has no dangling else.
#define HERO_LOG(level)                                                                    \
  for (bool hero_log_on_ = ::hero::LogLevel::level >= ::hero::GetLogLevel(); hero_log_on_; \
       hero_log_on_ = false)                                                               \
  ::hero::LogLine(::hero::LogLevel::level, __FILE__, __LINE__)
