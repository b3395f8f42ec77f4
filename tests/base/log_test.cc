// HERO_LOG output: one line per event, and a syslog priority prefix only when stderr is the
// journal stream named by $JOURNAL_STREAM.
#include "supervisor/base/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace hero {
namespace {

// Runs `body` with stderr sent to a temporary file; returns what was written.
template <typename F>
std::string CaptureStderr(F body, bool as_journal) {
  char path[] = "/tmp/hero_log_test_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  struct stat st {};
  fstat(fd, &st);
  std::string js = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  if (as_journal) {
    setenv("JOURNAL_STREAM", js.c_str(), 1);
  } else {
    unsetenv("JOURNAL_STREAM");
  }
  body();
  unsetenv("JOURNAL_STREAM");
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  unlink(path);
  return ss.str();
}

TEST(LogTest, MultiLineMessageIsOneLine) {
  std::string out =
      CaptureStderr([] { HERO_LOG(kError) << "first\nsecond\nthird"; }, /*as_journal=*/false);
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_NE(out.find("first\\nsecond\\nthird"), std::string::npos) << out;
  EXPECT_EQ(out.rfind("hero_logic E ", 0), 0u) << out;
}

TEST(LogTest, JournalStreamGetsSyslogPriorities) {
  std::string out = CaptureStderr(
      [] {
        HERO_LOG(kError) << "bad";
        HERO_LOG(kWarn) << "odd";
      },
      /*as_journal=*/true);
  EXPECT_EQ(out.rfind("<3>hero_logic E ", 0), 0u) << out;
  EXPECT_NE(out.find("\n<4>hero_logic W "), std::string::npos) << out;
}

TEST(LogTest, AnotherFileIsNotTheJournal) {
  setenv("JOURNAL_STREAM", "1:2", 1);  // names some other inode
  std::string out = CaptureStderr([] { HERO_LOG(kError) << "x"; }, /*as_journal=*/false);
  EXPECT_EQ(out.rfind("hero_logic E ", 0), 0u) << out;
}

}  // namespace
}  // namespace hero
