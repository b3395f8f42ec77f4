#include "supervisor/core/outcome.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace hero::core {
namespace {

RunFacts Exited(int code) {
  RunFacts f;
  f.exit.code = code;
  return f;
}

TEST(OutcomeTest, ExitZeroIsOk) {
  Outcome o = DecideOutcome(Exited(0));
  EXPECT_EQ(o.status, RunStatus::kOk);
  EXPECT_EQ(o.reason, "ok");
}

TEST(OutcomeTest, FailureNamesStepExceptionAndMessage) {
  RunFacts f = Exited(1);
  f.failure = FailedSpan{"parse", false, "ValueError", "bad number"};
  Outcome o = DecideOutcome(f);
  EXPECT_EQ(o.status, RunStatus::kFailed);
  EXPECT_EQ(o.reason, "exit code 1: ValueError in step 'parse': bad number");
}

TEST(OutcomeTest, FlowFailedReasonHasNoExceptionType) {
  RunFacts f = Exited(1);
  f.failure = FailedSpan{"hello", true, "Failed", "no data"};
  EXPECT_EQ(DecideOutcome(f).reason, "exit code 1: failed in flow 'hello': no data");
}

TEST(OutcomeTest, LimitEventMapsToLimitReasons) {
  for (auto [limit, reason] : {std::pair{"memory", "memory limit 2 GiB exceeded"},
                               std::pair{"file_size", "file size limit 64 MiB exceeded"},
                               std::pair{"processes", "process limit 64 reached"}}) {
    RunFacts f = Exited(3);
    f.limit_event = limit;
    f.failure = FailedSpan{"load", false, "MemoryError", ""};
    Outcome o = DecideOutcome(f);
    EXPECT_EQ(o.status, RunStatus::kKilled) << limit;
    EXPECT_EQ(o.reason, reason);
  }
}

// Regression: os._exit(3) in a step was reported "killed: memory limit 2 GiB exceeded" (and 4
// "file size limit", 5 "process limit") because exit codes alone decided limits.
TEST(OutcomeTest, ScriptOwnExitCodesThreeToFiveAreNotLimits) {
  for (int code : {3, 4, 5}) {
    RunFacts f = Exited(code);
    f.root_open_at_exit = true;
    Outcome o = DecideOutcome(f);
    EXPECT_EQ(o.status, RunStatus::kFailed) << code;
    EXPECT_EQ(o.reason, "the script exited with code " + std::to_string(code));
  }
  // Without a root either (the process died before the boot module started one).
  EXPECT_EQ(DecideOutcome(Exited(3)).status, RunStatus::kFailed);
  EXPECT_EQ(DecideOutcome(Exited(3)).reason, "exit code 3");
}

TEST(OutcomeTest, UnknownLimitNameIsNotAKill) {
  RunFacts f = Exited(1);
  f.limit_event = "bogus";
  EXPECT_EQ(DecideOutcome(f).status, RunStatus::kFailed);
}

TEST(OutcomeTest, SyntaxErrorNamesTheLine) {
  RunFacts f = Exited(2);
  f.boot_error = "/hero/flow.py:13: SyntaxError: '(' was never closed";
  f.failure = FailedSpan{"job.py", true, "SyntaxError", f.boot_error};
  EXPECT_EQ(DecideOutcome(f).reason, "syntax error at line 13: '(' was never closed");
}

TEST(OutcomeTest, ScriptExitTwoIsNotAnInvalidFlow) {
  RunFacts f = Exited(2);
  f.root_open_at_exit = true;
  EXPECT_EQ(DecideOutcome(f).reason, "the script exited with code 2");
}

TEST(OutcomeTest, SysExitInAStepIsTheScriptsExit) {
  RunFacts f = Exited(1);
  f.failure = FailedSpan{"save", false, "SystemExit", "exit code 7"};
  EXPECT_EQ(DecideOutcome(f).reason, "the script exited with code 7");
}

// Every exit code 0-255 x signal (none, each of 1-64) x limit event (none, each name) x
// root open or not x bwrap main: exactly one terminal status; a kill always has evidence
// (a limit event, a limit signal, the cgroup OOM counter or the seccomp listener); a
// normal exit of the script itself is never `killed`.
TEST(OutcomeTest, TableIsTotalAndKillsOnlyOnEvidence) {
  const char* limits[] = {"", "memory", "file_size", "processes"};
  int checked = 0;
  for (int bwrap = 0; bwrap < 2; ++bwrap) {
    for (int sig = 0; sig <= 64; ++sig) {
      for (int code = 0; code <= 255; ++code) {
        if (sig != 0 && code != 0) continue;  // a signal death has no exit code
        for (const char* limit : limits) {
          for (int root_open = 0; root_open < 2; ++root_open) {
            RunFacts f;
            f.bwrap_main = bwrap != 0;
            f.exit.signaled = sig != 0;
            f.exit.signal = sig;
            f.exit.code = code;
            f.limit_event = limit;
            f.root_open_at_exit = root_open != 0;
            Outcome o = DecideOutcome(f);
            ++checked;
            ASSERT_TRUE(IsTerminal(o.status));
            ASSERT_FALSE(o.reason.empty());
            int effective_sig = sig;
            if (bwrap && sig == 0 && code > 128 && code < 128 + 65) effective_sig = code - 128;
            if (effective_sig == 0 && code == 0) {
              ASSERT_EQ(o.status, RunStatus::kOk) << code;
              continue;
            }
            if (effective_sig == 0) {
              // A normal non-zero exit: killed only with a limit event.
              ASSERT_EQ(o.status == RunStatus::kKilled, *limit != '\0')
                  << "code " << code << " limit " << limit;
              if (*limit == '\0' && root_open) {
                ASSERT_EQ(o.reason, "the script exited with code " + std::to_string(code));
              }
              continue;
            }
            // A signal: killed only for the limit signals and SIGKILL (a kill from outside
            // the process); a crash is failed.
            bool limit_signal = effective_sig == SIGXCPU || effective_sig == SIGXFSZ ||
                                effective_sig == SIGSYS || effective_sig == SIGKILL;
            ASSERT_EQ(o.status == RunStatus::kKilled, limit_signal) << "signal " << effective_sig;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 2 * 4 * 2 * (256 + 64));
}

TEST(OutcomeTest, CgroupOomIsAKillOnAnyExit) {
  RunFacts f = Exited(1);
  f.memory_cgroup_oom = true;
  EXPECT_EQ(DecideOutcome(f).reason, "memory limit 2 GiB exceeded");
}

TEST(OutcomeTest, InvalidFlowQuotesBootMessage) {
  RunFacts f = Exited(2);
  f.boot_error = "no @flow entry named 'x'";
  Outcome o = DecideOutcome(f);
  EXPECT_EQ(o.status, RunStatus::kFailed);
  EXPECT_EQ(o.reason, "invalid flow or input: no @flow entry named 'x'");
}

TEST(OutcomeTest, TimeoutWinsOverTheSignalWeSent) {
  RunFacts f;
  f.exit.signaled = true;
  f.exit.signal = SIGKILL;
  f.timed_out = true;
  f.limits.timeout = std::chrono::seconds(30);
  Outcome o = DecideOutcome(f);
  EXPECT_EQ(o.status, RunStatus::kTimedOut);
  EXPECT_EQ(o.reason, "wall-clock timeout 30 s");
}

TEST(OutcomeTest, CancelWinsOverTimeout) {
  RunFacts f = Exited(0);
  f.cancelled = true;
  f.timed_out = true;
  EXPECT_EQ(DecideOutcome(f).status, RunStatus::kCancelled);
}

TEST(OutcomeTest, BlockedSyscallNamedWhenMainKilled) {
  RunFacts f;
  f.exit.signaled = true;
  f.exit.signal = SIGKILL;
  f.blocked_syscall = "ptrace";
  Outcome o = DecideOutcome(f);
  EXPECT_EQ(o.status, RunStatus::kKilled);
  EXPECT_EQ(o.reason, "blocked syscall ptrace");
}

TEST(OutcomeTest, BlockedSyscallInChildIsNotedOnOkRun) {
  RunFacts f = Exited(0);
  f.blocked_syscall = "unshare";
  f.blocked_count = 3;
  Outcome o = DecideOutcome(f);
  EXPECT_EQ(o.status, RunStatus::kOk);
  EXPECT_EQ(o.reason, "ok (blocked syscall unshare in a child process, 3 blocked calls)");
}

TEST(OutcomeTest, BwrapExitCodeAbove128IsTheFlowsSignal) {
  RunFacts f = Exited(128 + SIGXCPU);
  f.bwrap_main = true;
  f.limits.cpu_seconds = 120;
  Outcome o = DecideOutcome(f);
  EXPECT_EQ(o.status, RunStatus::kKilled);
  EXPECT_EQ(o.reason, "CPU limit 120 s exceeded");
  RunFacts g = Exited(128 + SIGXCPU);  // not bwrap: a plain exit code
  EXPECT_EQ(DecideOutcome(g).status, RunStatus::kFailed);
}

TEST(OutcomeTest, CrashSignalIsFailedWithSignalName) {
  RunFacts f;
  f.exit.signaled = true;
  f.exit.signal = SIGSEGV;
  Outcome o = DecideOutcome(f);
  EXPECT_EQ(o.status, RunStatus::kFailed);
  EXPECT_EQ(o.reason, "terminated by SIGSEGV");
}

TEST(OutcomeTest, LauncherFailureIsExplained) {
  RunFacts f = Exited(126);
  f.launcher_error = "refusing to run a flow as uid 0";
  EXPECT_EQ(DecideOutcome(f).reason, "sandbox launcher failed: refusing to run a flow as uid 0");
}

TEST(OutcomeTest, PlainScriptExitCodeIsReportedAsItself) {
  RunFacts f = Exited(1);
  f.failure = FailedSpan{"job.py", true, "SystemExit", "exit code 42"};
  EXPECT_EQ(DecideOutcome(f).reason, "the script exited with code 42");
}

TEST(OutcomeTest, FormatsSizesAndDurations) {
  EXPECT_EQ(FormatBytes(512LL << 20), "512 MiB");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(10), "10 bytes");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(1500)), "1.5 s");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(250)), "250 ms");
}

}  // namespace
}  // namespace hero::core
