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

TEST(OutcomeTest, BootExitCodesMapToLimitReasons) {
  EXPECT_EQ(DecideOutcome(Exited(3)).reason, "memory limit 2 GiB exceeded");
  EXPECT_EQ(DecideOutcome(Exited(3)).status, RunStatus::kKilled);
  EXPECT_EQ(DecideOutcome(Exited(4)).reason, "file size limit 64 MiB exceeded");
  EXPECT_EQ(DecideOutcome(Exited(5)).reason, "process limit 64 reached");
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
