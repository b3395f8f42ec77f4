// Unit tests for sandbox/cgroup: parsers on fixture strings, and the v1/v2 detection and
// per-run group logic against an in-memory cgroupfs fake (this host cannot mount a pure v2).
#include "sandbox/cgroup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "sandbox/policy.h"

namespace hero::sandbox {
namespace {

// ---- parsers ----------------------------------------------------------------------------

constexpr const char* kHybridMountInfo =
    "23 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

constexpr const char* kHybridProcCgroup =
    "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";

TEST(CgroupParseTest, MountInfoFieldsAndOptionalFields) {
  auto m = ParseMountInfo(
      std::string(kHybridMountInfo) +
      "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n"
      "50 23 0:40 /sub /mnt/with\\040space rw shared:9 master:2 - tmpfs none rw\n"
      "garbage line\n");
  ASSERT_EQ(m.size(), 10u);
  EXPECT_EQ(m[4].mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(m[4].fstype, "cgroup");
  EXPECT_EQ(m[4].super_options, "rw,memory");
  EXPECT_EQ(m[4].root, "/");
  EXPECT_EQ(m[8].fstype, "cgroup2");
  EXPECT_EQ(m[8].super_options, "rw,nsdelegate,memory_recursiveprot");
  EXPECT_EQ(m[9].mount_point, "/mnt/with space");
  EXPECT_EQ(m[9].root, "/sub");
}

TEST(CgroupParseTest, ProcCgroupLines) {
  auto e = ParseProcCgroup(std::string(kHybridProcCgroup) + "3:cpu,cpuacct:/a b\n");
  ASSERT_EQ(e.size(), 7u);
  EXPECT_EQ(e[0].controllers, std::vector<std::string>{"name=systemd"});
  EXPECT_EQ(e[2].hierarchy_id, 4);
  EXPECT_EQ(e[2].path, "/process_api/abc");
  EXPECT_EQ(e[5].hierarchy_id, 0);
  EXPECT_TRUE(e[5].controllers.empty());
  EXPECT_EQ(e[5].path, "/");
  EXPECT_EQ(e[6].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(e[6].path, "/a b");
}

TEST(CgroupParseTest, FlatKeyedFiles) {
  const char* events = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n";
  EXPECT_EQ(FlatKeyedValue(events, "oom_kill"), 1u);
  EXPECT_EQ(FlatKeyedValue(events, "oom"), 2u);  // not confused with oom_kill
  EXPECT_EQ(FlatKeyedValue(events, "max"), 17u);
  EXPECT_EQ(FlatKeyedValue(events, "missing"), std::nullopt);
  const char* cpu = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\nnr_periods 0\n";
  EXPECT_EQ(FlatKeyedValue(cpu, "usage_usec"), 123456u);
  EXPECT_EQ(FlatKeyedValue(cpu, "system_usec"), 23456u);
  EXPECT_EQ(FlatKeyedValue("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), 3u);
  EXPECT_EQ(SingleValue("67108864\n"), 67108864u);
  EXPECT_EQ(SingleValue("max\n"), std::nullopt);
  EXPECT_EQ(SingleValue(""), std::nullopt);
  EXPECT_TRUE(HasWord("cpuset cpu io memory pids\n", "pids"));
  EXPECT_FALSE(HasWord("cpuset cpu io memory_x\n", "memory"));
}

// ---- fake cgroupfs ----------------------------------------------------------------------

// Directories and files in memory. Directories under a v2 mount get the interface files the
// kernel would create (memory.* / pids.* only when the parent enabled the controller), and
// enforce the no-internal-process rule; v1 mounts get a fixed file set per hierarchy.
class FakeCgroupFs : public CgroupFs {
 public:
  void AddV2Mount(const std::string& dir, const std::string& controllers) {
    v2_mount_ = dir;
    dirs_.insert(dir);
    PopulateV2(dir, controllers);
  }
  void AddV1Mount(const std::string& dir, std::vector<std::string> files) {
    v1_files_[dir] = std::move(files);
    dirs_.insert(dir);
    PopulateV1(dir);
  }
  void AddDir(const std::string& dir) {  // an existing (v2: child) group
    dirs_.insert(dir);
    if (!v2_mount_.empty() && dir.rfind(v2_mount_, 0) == 0) {
      PopulateV2(dir, files_[Parent(dir) + "/cgroup.subtree_control"]);
    } else {
      PopulateV1(dir);
    }
  }
  void Set(const std::string& path, const std::string& v) { files_[path] = v; }
  std::string Get(const std::string& path) const {
    auto it = files_.find(path);
    return it == files_.end() ? "<missing>" : it->second;
  }
  bool HasDir(const std::string& d) const { return dirs_.count(d) > 0; }
  void Remove(const std::string& path) { files_.erase(path); }

  std::vector<std::string> writes;  // "path=value"
  std::set<pid_t> alive;
  std::vector<pid_t> killed;
  std::set<std::string> read_only;
  bool sticky = false;  // killed processes take their time to leave

  Result<std::string> ReadFile(const std::string& path) override {
    auto it = files_.find(path);
    if (it == files_.end()) return NotFound("no " + path);
    return it->second;
  }
  Status WriteFile(const std::string& path, std::string_view data) override {
    auto it = files_.find(path);
    if (it == files_.end()) return NotFound("no " + path);
    writes.push_back(path + "=" + std::string(data));
    const std::string dir = Parent(path);
    const std::string name = path.substr(dir.size() + 1);
    if (name == "cgroup.subtree_control") {
      std::string enabled = it->second;
      for (std::string_view w : Words(data)) {
        std::string c(w.substr(1));
        if (!HasWord(files_[dir + "/cgroup.controllers"], c)) return InvalidArgument("no " + c);
        if (dir != v2_mount_ && !files_[dir + "/cgroup.procs"].empty()) {
          return Unavailable("EBUSY: internal processes in " + dir);
        }
        if (!HasWord(enabled, c)) enabled += (enabled.empty() ? "" : " ") + c;
      }
      it->second = enabled;
    } else if (name == "cgroup.procs") {
      std::string pid(data);
      for (auto& [p, v] : files_) {
        if (p.size() > 13 && p.substr(p.size() - 13) == "/cgroup.procs") v = RemoveLine(v, pid);
      }
      it->second += pid + "\n";
    } else if (name == "cgroup.kill") {
      for (pid_t pid : Pids(files_[dir + "/cgroup.procs"])) killed.push_back(pid);
      files_[dir + "/cgroup.procs"] = "";
    } else {
      it->second = std::string(data);
    }
    return Status::Ok();
  }
  bool Exists(const std::string& path) override {
    return files_.count(path) > 0 || dirs_.count(path) > 0;
  }
  bool Writable(const std::string& dir) override {
    return dirs_.count(dir) > 0 && read_only.count(dir) == 0;
  }
  Status MakeDir(const std::string& path) override {
    if (dirs_.count(path)) return Status(StatusCode::kAlreadyExists, "exists " + path);
    if (!dirs_.count(Parent(path))) return NotFound("no parent of " + path);
    AddDir(path);
    return Status::Ok();
  }
  Status RemoveDir(const std::string& path) override {
    if (!dirs_.count(path)) return NotFound("no " + path);
    if (!ListDirs(path).empty() || !files_[path + "/cgroup.procs"].empty()) {
      return Unavailable("EBUSY " + path);
    }
    dirs_.erase(path);
    for (auto it = files_.begin(); it != files_.end();) {
      it = Parent(it->first) == path ? files_.erase(it) : std::next(it);
    }
    return Status::Ok();
  }
  std::vector<std::string> ListDirs(const std::string& path) override {
    std::vector<std::string> out;
    for (const auto& d : dirs_) {
      if (Parent(d) == path) out.push_back(d.substr(path.size() + 1));
    }
    return out;
  }
  Result<size_t> KillListed(const std::string& procs_path) override {
    auto pids = Pids(files_[procs_path]);
    for (pid_t p : pids) killed.push_back(p);
    if (!sticky) files_[procs_path] = "";
    return pids.size();
  }
  bool ProcessAlive(pid_t pid) override { return alive.count(pid) > 0 || pid == getpid(); }
  void Sleep(std::chrono::milliseconds) override { ++sleeps; }
  int sleeps = 0;

 private:
  static std::string Parent(const std::string& p) { return p.substr(0, p.rfind('/')); }
  static std::vector<std::string_view> Words(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
      size_t j = s.find(' ', i);
      if (j == std::string_view::npos) j = s.size();
      if (j > i) out.push_back(s.substr(i, j - i));
      i = j + 1;
    }
    return out;
  }
  static std::vector<pid_t> Pids(const std::string& text) {
    std::vector<pid_t> out;
    size_t i = 0;
    while (i < text.size()) {
      size_t j = text.find('\n', i);
      if (j == std::string::npos) j = text.size();
      if (j > i) out.push_back(static_cast<pid_t>(std::stol(text.substr(i, j - i))));
      i = j + 1;
    }
    return out;
  }
  static std::string RemoveLine(const std::string& text, const std::string& line) {
    std::string out;
    for (pid_t p : Pids(text)) {
      if (std::to_string(p) != line) out += std::to_string(p) + "\n";
    }
    return out;
  }
  void PopulateV2(const std::string& dir, const std::string& controllers) {
    for (const char* f :
         {"cgroup.procs", "cgroup.subtree_control", "cgroup.kill", "cgroup.freeze"}) {
      files_.emplace(dir + "/" + f, "");
    }
    files_.emplace(dir + "/cgroup.controllers", controllers);
    files_.emplace(dir + "/cgroup.events", "populated 0\nfrozen 0\n");
    files_.emplace(dir + "/cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    if (HasWord(controllers, "memory")) {
      files_.emplace(dir + "/memory.max", "max\n");
      files_.emplace(dir + "/memory.swap.max", "max\n");
      files_.emplace(dir + "/memory.current", "0\n");
      files_.emplace(dir + "/memory.peak", "0\n");
      files_.emplace(dir + "/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    }
    if (HasWord(controllers, "pids")) {
      files_.emplace(dir + "/pids.max", "max\n");
      files_.emplace(dir + "/pids.events", "max 0\n");
    }
  }
  void PopulateV1(const std::string& dir) {
    for (const auto& [mount, files] : v1_files_) {
      if (dir != mount && dir.rfind(mount + "/", 0) != 0) continue;
      files_.emplace(dir + "/cgroup.procs", "");
      for (const auto& f : files) files_.emplace(dir + "/" + f, "0\n");
    }
  }

  std::string v2_mount_;
  std::map<std::string, std::vector<std::string>> v1_files_;
  std::set<std::string> dirs_;
  std::map<std::string, std::string> files_;
};

// A pure cgroup v2 host (stock Debian 12): cgroup2 at <root>, the supervisor in a systemd
// service cgroup whose parent hands down memory and pids.
class CgroupV2FakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.AddV2Mount(kMount, "cpuset cpu io memory hugetlb pids");
    fs_.Set(std::string(kMount) + "/cgroup.subtree_control", "cpu io memory pids");
    fs_.AddDir(std::string(kMount) + "/system.slice");
    fs_.Set(std::string(kMount) + "/system.slice/cgroup.subtree_control", "memory pids");
    fs_.AddDir(service_);
    fs_.Set(service_ + "/cgroup.procs", self_ + "\n");
    fs_.Set("/proc/mountinfo",
            "30 24 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n");
    fs_.Set("/proc/cgroup", "0::/system.slice/hero.service\n");
  }
  CgroupDetectOptions Options(bool setup = true) {
    CgroupDetectOptions o;
    o.setup = setup;
    o.mountinfo_path = "/proc/mountinfo";
    o.proc_cgroup_path = "/proc/cgroup";
    o.fs = &fs_;
    return o;
  }

  static constexpr const char* kMount = "/sys/fs/cgroup";
  const std::string service_ = std::string(kMount) + "/system.slice/hero.service";
  const std::string self_ = std::to_string(getpid());
  const std::string parent_ = service_ + "/hero_logic-" + self_;
  FakeCgroupFs fs_;
};

TEST_F(CgroupV2FakeTest, DetectMovesItselfIntoALeafAndEnablesControllers) {
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV2) << host.why_none;
  EXPECT_EQ(host.unified_root, parent_);
  EXPECT_TRUE(host.memory_root.empty());
  // The service cgroup had the supervisor in it: it now lives in a leaf, so the service
  // cgroup can hand memory and pids to the per-run sub-tree.
  EXPECT_EQ(fs_.Get(service_ + "/hero_logic-" + self_ + ".self/cgroup.procs"), self_ + "\n");
  EXPECT_EQ(fs_.Get(service_ + "/cgroup.procs"), "");
  EXPECT_TRUE(HasWord(fs_.Get(service_ + "/cgroup.subtree_control"), "memory"));
  EXPECT_TRUE(HasWord(fs_.Get(parent_ + "/cgroup.subtree_control"), "pids"));
  ASSERT_EQ(host.notes.size(), 1u);
  EXPECT_NE(host.notes[0].find("moved the supervisor into"), std::string::npos);
  EXPECT_EQ(DescribeCgroups(host),
            "cgroups: v2 (memory, pids; " + parent_ + ") — per-run memory and pids limits");
}

TEST_F(CgroupV2FakeTest, ProbeOnlyWritesNothing) {
  CgroupHost host = DetectCgroups(Options(/*setup=*/false));
  EXPECT_EQ(host.kind, CgroupHost::kV2) << host.why_none;
  EXPECT_TRUE(fs_.writes.empty());
  EXPECT_FALSE(fs_.HasDir(parent_));
  ASSERT_EQ(host.notes.size(), 1u);
  EXPECT_NE(host.notes[0].find("setup would move"), std::string::npos);
}

TEST_F(CgroupV2FakeTest, OtherProcessesInOurCgroupMeanNone) {
  fs_.Set(service_ + "/cgroup.procs", self_ + "\n1\n");
  CgroupHost host = DetectCgroups(Options());
  EXPECT_EQ(host.kind, CgroupHost::kNone);
  EXPECT_NE(host.why_none.find("1 other process(es)"), std::string::npos) << host.why_none;
  EXPECT_NE(DescribeCgroups(host).find("cgroups: none writable — limits by rlimits only"),
            std::string::npos);
}

TEST_F(CgroupV2FakeTest, ControllersHeldElsewhereMeanNone) {
  fs_.Set(service_ + "/cgroup.controllers", "cpu io");
  CgroupHost host = DetectCgroups(Options());
  EXPECT_EQ(host.kind, CgroupHost::kNone);
  EXPECT_NE(host.why_none.find("memory/pids controllers not available"), std::string::npos)
      << host.why_none;
}

TEST_F(CgroupV2FakeTest, RootCgroupNeedsNoLeaf) {
  fs_.Set("/proc/cgroup", "0::/\n");
  fs_.Set(std::string(kMount) + "/cgroup.subtree_control", "cpu io");
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV2) << host.why_none;
  EXPECT_EQ(host.unified_root, std::string(kMount) + "/hero_logic-" + self_);
  EXPECT_TRUE(host.notes.empty());
  EXPECT_TRUE(HasWord(fs_.Get(std::string(kMount) + "/cgroup.subtree_control"), "memory"));
}

TEST_F(CgroupV2FakeTest, StaleParentsOfDeadSupervisorsAreRemoved) {
  fs_.AddDir(service_ + "/hero_logic-999999");
  fs_.AddDir(service_ + "/hero_logic-999999/run-old");
  fs_.AddDir(service_ + "/hero_logic-999998.self");
  fs_.AddDir(service_ + "/unrelated");
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV2) << host.why_none;
  EXPECT_FALSE(fs_.HasDir(service_ + "/hero_logic-999999"));
  EXPECT_FALSE(fs_.HasDir(service_ + "/hero_logic-999998.self"));
  EXPECT_TRUE(fs_.HasDir(service_ + "/unrelated"));
}

TEST_F(CgroupV2FakeTest, RunGroupLimitsKillStatsAndRemoval) {
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV2) << host.why_none;
  const std::string run = parent_ + "/run-7";
  {
    auto cg = RunCgroup::Create(host, "run-7", {64 * kMiB, 16}, &fs_);
    ASSERT_TRUE(cg.ok()) << cg.status().ToString();
    EXPECT_EQ(cg->procs_files(), std::vector<std::string>{run + "/cgroup.procs"});
    EXPECT_EQ(fs_.Get(run + "/memory.max"), "67108864");
    EXPECT_EQ(fs_.Get(run + "/memory.swap.max"), "0");
    EXPECT_EQ(fs_.Get(run + "/pids.max"), "16");
    ASSERT_TRUE(fs_.WriteFile(run + "/cgroup.procs", "4242").ok());  // the launcher joins
    EXPECT_EQ(cg->Pids(), std::vector<pid_t>{4242});

    fs_.Set(run + "/memory.peak", "70000000\n");
    fs_.Set(run + "/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n");
    fs_.Set(run + "/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
    fs_.Set(run + "/pids.events", "max 3\n");
    auto st = cg->ReadStats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->memory_peak_bytes, 70000000u);
    EXPECT_EQ(st->oom_kills, 1u);
    EXPECT_EQ(st->memory_limit_hits, 12u);
    EXPECT_EQ(st->pids_limit_hits, 3u);
    EXPECT_EQ(st->pids_peak, std::nullopt);  // no pids.peak in this fake kernel
    EXPECT_EQ(st->cpu_usage_usec, 1500u);
    EXPECT_EQ(st->cpu_system_usec, 500u);

    // Busy: the destructor would have to leave it; KillAll empties it via cgroup.kill.
    EXPECT_TRUE(cg->KillAll().ok());
    EXPECT_EQ(fs_.killed, std::vector<pid_t>{4242});
    EXPECT_NE(std::find(fs_.writes.begin(), fs_.writes.end(), run + "/cgroup.kill=1"),
              fs_.writes.end());
    EXPECT_TRUE(cg->Pids().empty());
  }
  EXPECT_FALSE(fs_.HasDir(run));
  EXPECT_TRUE(RemoveCgroupParents(host, &fs_).ok());
  EXPECT_FALSE(fs_.HasDir(parent_));
}

TEST_F(CgroupV2FakeTest, KillAllWithoutCgroupKillFreezesKillsAndThaws) {
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV2) << host.why_none;
  auto cg = RunCgroup::Create(host, "old-kernel", {}, &fs_);
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  const std::string run = parent_ + "/old-kernel";
  fs_.Remove(run + "/cgroup.kill");  // kernel < 5.14
  fs_.Remove(run + "/memory.peak");  // kernel < 5.19
  ASSERT_TRUE(fs_.WriteFile(run + "/cgroup.procs", "11").ok());
  ASSERT_TRUE(fs_.WriteFile(run + "/cgroup.procs", "12").ok());
  EXPECT_TRUE(cg->KillAll().ok());
  EXPECT_EQ(fs_.killed, (std::vector<pid_t>{11, 12}));
  auto freeze1 = std::find(fs_.writes.begin(), fs_.writes.end(), run + "/cgroup.freeze=1");
  auto freeze0 = std::find(fs_.writes.begin(), fs_.writes.end(), run + "/cgroup.freeze=0");
  EXPECT_NE(freeze1, fs_.writes.end());
  EXPECT_NE(freeze0, fs_.writes.end());
  EXPECT_LT(freeze1, freeze0);
  // No limits asked: none written. Peak falls back to the sampled memory.current.
  EXPECT_EQ(fs_.Get(run + "/memory.max"), "max\n");
  fs_.Set(run + "/memory.current", "5000\n");
  cg->SampleMemory();
  fs_.Set(run + "/memory.current", "3000\n");
  auto st = cg->ReadStats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->memory_current_bytes, 3000u);
  EXPECT_EQ(st->memory_peak_bytes, 5000u);
}

TEST_F(CgroupV2FakeTest, CreateRejectsBadNamesAndBusyLeftovers) {
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV2) << host.why_none;
  for (const char* bad : {"", ".", "..", "a/b", "x y", "../../escape"}) {
    EXPECT_EQ(RunCgroup::Create(host, bad, {}, &fs_).status().code(), StatusCode::kInvalidArgument)
        << bad;
  }
  // A stale empty group of the same name is replaced; a busy one is refused.
  fs_.AddDir(parent_ + "/stale");
  EXPECT_TRUE(RunCgroup::Create(host, "stale", {}, &fs_).ok());
  fs_.AddDir(parent_ + "/busy");
  fs_.Set(parent_ + "/busy/cgroup.procs", "77\n");
  EXPECT_EQ(RunCgroup::Create(host, "busy", {}, &fs_).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(RunCgroup::Create(CgroupHost{}, "x", {}, &fs_).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(CgroupV2FakeTest, FailedCreateLeavesNothing) {
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV2) << host.why_none;
  // The parent stopped handing down pids: pids.max does not exist in the new group.
  fs_.Set(parent_ + "/cgroup.subtree_control", "memory");
  auto cg = RunCgroup::Create(host, "r", {64 * kMiB, 16}, &fs_);
  EXPECT_FALSE(cg.ok());
  EXPECT_NE(cg.status().message().find("pids.max"), std::string::npos) << cg.status().ToString();
  EXPECT_FALSE(fs_.HasDir(parent_ + "/r"));
}

TEST_F(CgroupV2FakeTest, MoveKeepsOwnershipAndDestroysOnce) {
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV2) << host.why_none;
  auto a = RunCgroup::Create(host, "a", {}, &fs_);
  ASSERT_TRUE(a.ok());
  RunCgroup moved = std::move(a).value();
  EXPECT_TRUE(fs_.HasDir(parent_ + "/a"));
  auto b = RunCgroup::Create(host, "b", {}, &fs_);
  ASSERT_TRUE(b.ok());
  moved = std::move(b).value();  // "a" is removed, "b" now owned by `moved`
  EXPECT_FALSE(fs_.HasDir(parent_ + "/a"));
  EXPECT_TRUE(fs_.HasDir(parent_ + "/b"));
  EXPECT_EQ(moved.procs_files(), std::vector<std::string>{parent_ + "/b/cgroup.procs"});
}

// This development machine: cgroup v1 hierarchies plus a cgroup2 without memory/pids.
class CgroupV1FakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.AddV2Mount("/sys/fs/cgroup/unified", "hugetlb");
    fs_.AddV1Mount("/sys/fs/cgroup/memory", {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                                             "memory.max_usage_in_bytes", "memory.usage_in_bytes",
                                             "memory.oom_control", "memory.failcnt"});
    fs_.AddV1Mount("/sys/fs/cgroup/pids", {"pids.max", "pids.peak", "pids.events"});
    fs_.AddV1Mount("/sys/fs/cgroup/cpuacct",
                   {"cpuacct.usage", "cpuacct.usage_user", "cpuacct.usage_sys"});
    fs_.AddDir("/sys/fs/cgroup/memory/process_api");
    fs_.AddDir("/sys/fs/cgroup/memory/process_api/abc");
    fs_.Set("/proc/mountinfo", kHybridMountInfo);
    fs_.Set("/proc/cgroup", kHybridProcCgroup);
  }
  CgroupDetectOptions Options() {
    CgroupDetectOptions o;
    o.mountinfo_path = "/proc/mountinfo";
    o.proc_cgroup_path = "/proc/cgroup";
    o.fs = &fs_;
    o.parent_name = "hero_logic-test";
    return o;
  }
  FakeCgroupFs fs_;
};

TEST_F(CgroupV1FakeTest, DetectNestsUnderOwnCgroupPerHierarchy) {
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV1) << host.why_none;
  EXPECT_EQ(host.memory_root, "/sys/fs/cgroup/memory/process_api/abc/hero_logic-test");
  EXPECT_EQ(host.pids_root, "/sys/fs/cgroup/pids/hero_logic-test");
  EXPECT_EQ(host.cpu_root, "/sys/fs/cgroup/cpuacct/hero_logic-test");
  EXPECT_TRUE(host.unified_root.empty());
  EXPECT_EQ(DescribeCgroups(host),
            "cgroups: v1 (memory, pids, cpuacct) — per-run memory and pids limits");
}

TEST_F(CgroupV1FakeTest, ReadOnlyPidsHierarchyMeansNone) {
  fs_.read_only.insert("/sys/fs/cgroup/pids");
  CgroupHost host = DetectCgroups(Options());
  EXPECT_EQ(host.kind, CgroupHost::kNone);
  EXPECT_NE(host.why_none.find("/sys/fs/cgroup/pids is not writable"), std::string::npos)
      << host.why_none;
  EXPECT_NE(host.why_none.find("memory/pids controllers not available"), std::string::npos)
      << host.why_none;
}

TEST_F(CgroupV1FakeTest, RunGroupWritesLimitsInEveryHierarchy) {
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV1) << host.why_none;
  const std::string mem = host.memory_root + "/r1", pids = host.pids_root + "/r1",
                    cpu = host.cpu_root + "/r1";
  {
    auto cg = RunCgroup::Create(host, "r1", {64 * kMiB, 16}, &fs_);
    ASSERT_TRUE(cg.ok()) << cg.status().ToString();
    EXPECT_EQ(cg->procs_files(),
              (std::vector<std::string>{mem + "/cgroup.procs", pids + "/cgroup.procs",
                                        cpu + "/cgroup.procs"}));
    EXPECT_EQ(fs_.Get(mem + "/memory.limit_in_bytes"), "67108864");
    EXPECT_EQ(fs_.Get(mem + "/memory.memsw.limit_in_bytes"), "67108864");
    EXPECT_EQ(fs_.Get(pids + "/pids.max"), "16");
    fs_.Set(mem + "/memory.max_usage_in_bytes", "66000000\n");
    fs_.Set(mem + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    fs_.Set(pids + "/pids.peak", "16\n");
    fs_.Set(pids + "/pids.events", "max 5\n");
    fs_.Set(cpu + "/cpuacct.usage", "2500000\n");
    auto st = cg->ReadStats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->memory_peak_bytes, 66000000u);
    EXPECT_EQ(st->oom_kills, 2u);
    EXPECT_EQ(st->pids_peak, 16u);
    EXPECT_EQ(st->pids_limit_hits, 5u);
    EXPECT_EQ(st->cpu_usage_usec, 2500u);
    ASSERT_TRUE(fs_.WriteFile(pids + "/cgroup.procs", "900").ok());
    ASSERT_TRUE(fs_.WriteFile(mem + "/cgroup.procs", "901").ok());
    EXPECT_EQ(cg->Pids(), (std::vector<pid_t>{900, 901}));
    EXPECT_TRUE(cg->KillAll().ok());
    std::sort(fs_.killed.begin(), fs_.killed.end());
    EXPECT_EQ(fs_.killed, (std::vector<pid_t>{900, 901}));
  }
  EXPECT_FALSE(fs_.HasDir(mem));
  EXPECT_FALSE(fs_.HasDir(pids));
  EXPECT_FALSE(fs_.HasDir(cpu));
}

TEST_F(CgroupV1FakeTest, KillAllWaitIsBounded) {
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV1) << host.why_none;
  auto cg = RunCgroup::Create(host, "slow", {}, &fs_);
  ASSERT_TRUE(cg.ok());
  ASSERT_TRUE(fs_.WriteFile(host.pids_root + "/slow/cgroup.procs", "66").ok());
  fs_.sticky = true;
  EXPECT_EQ(cg->KillAll(std::chrono::milliseconds(0)).code(), StatusCode::kUnavailable);
  EXPECT_EQ(fs_.sleeps, 0);  // loop-friendly: signals sent, nothing waited for
  EXPECT_EQ(cg->KillAll(std::chrono::milliseconds(50)).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(fs_.sleeps, 5);
  fs_.sticky = false;
  EXPECT_TRUE(cg->KillAll().ok());
  EXPECT_EQ(fs_.killed, (std::vector<pid_t>(1 + 6 + 1, 66)));  // one pass, 1 + 5 rounds, one
}

TEST_F(CgroupV1FakeTest, DestructorLeavesABusyGroupAndDoesNotBlockLong) {
  CgroupHost host = DetectCgroups(Options());
  ASSERT_EQ(host.kind, CgroupHost::kV1) << host.why_none;
  {
    auto cg = RunCgroup::Create(host, "stuck", {}, &fs_);
    ASSERT_TRUE(cg.ok());
    ASSERT_TRUE(fs_.WriteFile(host.pids_root + "/stuck/cgroup.procs", "55").ok());
  }
  EXPECT_TRUE(fs_.HasDir(host.pids_root + "/stuck"));     // left, logged
  EXPECT_FALSE(fs_.HasDir(host.memory_root + "/stuck"));  // the empty ones are gone
  EXPECT_LE(fs_.sleeps, 5);
}

// ---- policy / launcher argv ------------------------------------------------------------

TEST(CgroupPolicyTest, LauncherArgvCarriesCgroupProcsBeforeTheCommand) {
  Policy p;
  p.profile = Profile::kTrusted;
  p.uid = p.gid = 200001;
  p.workdir = "/w";
  p.runtime_dir = "/rt";
  p.python_args = {"-c", "pass"};
  p.cgroup_procs = {"/sys/fs/cgroup/memory/h/r/cgroup.procs",
                    "/sys/fs/cgroup/pids/h/r/cgroup.procs"};
  auto argv = BuildLauncherArgv(p, "/rt/bin/hero_launcher");
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  auto dashdash = std::find(argv->begin(), argv->end(), "--");
  auto m = std::find(argv->begin(), argv->end(), "--cgroup-procs=" + p.cgroup_procs[0]);
  auto q = std::find(argv->begin(), argv->end(), "--cgroup-procs=" + p.cgroup_procs[1]);
  EXPECT_LT(m, dashdash);
  EXPECT_LT(q, dashdash);
  p.profile = Profile::kUntrusted;
  argv = BuildLauncherArgv(p, "/rt/bin/hero_launcher");
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  EXPECT_LT(std::find(argv->begin(), argv->end(), "--cgroup-procs=" + p.cgroup_procs[0]),
            std::find(argv->begin(), argv->end(), "--"));
  p.cgroup_procs = {"relative/cgroup.procs"};
  EXPECT_EQ(BuildLauncherArgv(p, "/rt/bin/hero_launcher").status().code(),
            StatusCode::kInvalidArgument);
  p.cgroup_procs.assign(9, "/x/cgroup.procs");
  EXPECT_EQ(BuildLauncherArgv(p, "/rt/bin/hero_launcher").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hero::sandbox
