"""The systemd side: the installed unit passes `systemd-analyze verify`; the daemon speaks
sd_notify (READY=1 once it serves, WATCHDOG=1 from its loop, STOPPING=1 on SIGTERM); logs are
one line per event with a syslog priority when stderr is the journal (tests/base/log_test.cc);
and trusted and
untrusted flows run under the unit's filesystem hardening (ProtectSystem=strict with its
ReadWritePaths, PrivateTmp, ProtectHome, NoNewPrivileges), replayed here with a private mount
namespace and setpriv because CI has no systemd as PID 1."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("HERO_LOGIC_BIN", "build/hero_logic")
BUILD = os.environ.get("HERO_BUILD_DIR", "build")
FLOW = """from hero_tracing import flow

@flow
def hardened():
    with flow.step("step"):
        print("ran")
    return {"ok": True}
"""


def unit_directives(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")) and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


# What the unit hides from the daemon (PrivateTmp=yes, ProtectHome=yes).
HIDDEN = ("/tmp", "/var/tmp", "/home", "/root")


class UnitFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Not under a path the hardening replay hides (PrivateTmp, ProtectHome): the build dir
        # of a checkout under /tmp or /root would be gone inside it, so use /opt then.
        base = os.path.abspath(BUILD)
        if any(base == m or base.startswith(m + "/") for m in HIDDEN) and os.access("/opt", os.W_OK):
            base = "/opt"
        cls.tmp = tempfile.mkdtemp(prefix="hero_unit_", dir=base)
        p = subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.tmp], capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        cls.unit = os.path.join(cls.tmp, "lib", "systemd", "system", "hero_logic.service")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_systemd_analyze_verify_is_clean(self):
        p = subprocess.run(["systemd-analyze", "verify", self.unit], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.strip(), "", "verify warnings")

    def test_unit_runs_the_installed_binary_with_the_agreed_shape(self):
        d = unit_directives(self.unit)
        self.assertEqual(d["ExecStart"][0].split()[0], os.path.join(self.tmp, "bin", "hero_logic"))
        for key, value in (("Type", "notify"), ("Restart", "on-failure"), ("KillMode", "mixed"),
                           ("StateDirectory", "hero_logic"), ("RuntimeDirectory", "hero_logic"),
                           ("ProtectSystem", "strict"), ("PrivateTmp", "yes"), ("ProtectHome", "yes"),
                           ("NoNewPrivileges", "yes"), ("Delegate", "yes")):
            self.assertEqual(d.get(key), [value], key)
        # Options known to break bubblewrap or per-run uids/cgroups stay out.
        for key in ("RestrictNamespaces", "PrivateUsers", "ProtectControlGroups", "ProtectHostname",
                    "SystemCallFilter", "DynamicUser", "User"):
            self.assertNotIn(key, d)
        # The stop timeout leaves room for the daemon's default 10 s shutdown grace.
        self.assertGreater(int(d["TimeoutStopSec"][0]), 10)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare") and shutil.which("setpriv"),
                         "needs root, unshare and setpriv to replay the hardening")
    def test_flows_run_under_the_units_filesystem_hardening(self):
        d = unit_directives(self.unit)
        rw = d["ReadWritePaths"][0].split()
        for path in rw:
            os.makedirs(path, exist_ok=True)
        src = os.path.join(self.tmp, "flow.py")
        with open(src, "w") as f:
            f.write(FLOW)
        data = os.path.join(rw[0], "hardening-test-%d" % os.getpid())
        binds = " && ".join('mount --bind "%s" "%s"' % (p, p) for p in rw)
        script = (binds + " && mount -o remount,bind,ro / && mount -t tmpfs tmpfs /tmp"
                  " && mount -t tmpfs tmpfs /var/tmp"
                  " && mount -t tmpfs -o ro,mode=000 tmpfs /home && mount -t tmpfs -o ro,mode=000 tmpfs /root"
                  ' && cd / && exec setpriv --no-new-privs "$@"')
        try:
            for profile in ("trusted", "untrusted"):
                p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                                    os.path.join(self.tmp, "bin", "hero_logic"), "run", src, "--profile", profile,
                                    "--json", "--quiet", "--data", data],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                doc = json.loads(p.stdout)
                self.assertEqual(doc["run"]["status"], "ok", doc["run"])
                self.assertEqual(doc["tree"]["children"][0]["logs"][0]["text"], "ran\n")
            # The replay really is read-only outside ReadWritePaths.
            p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                                "touch", "/usr/hero_hardening_probe"], capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("Read-only file system", p.stderr)
        finally:
            shutil.rmtree(data, ignore_errors=True)


class NotifyTest(unittest.TestCase):
    def test_ready_watchdog_and_stopping_reach_the_notify_socket(self):
        tmp = tempfile.mkdtemp(prefix="hero_notify_")
        try:
            path = os.path.join(tmp, "notify.sock")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(path)
            sock.settimeout(30)
            data = os.path.join(tmp, "data")
            env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_")}
            env.update(NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
            proc = subprocess.Popen([BIN, "serve", "--data", data, "--port", "0", "--pool", "0",
                                     "--flows-dir", os.path.join(tmp, "none")],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            try:
                serving = proc.stdout.readline()
                self.assertIn("hero_logic: serving on", serving)
                messages = []
                deadline = time.time() + 10
                while time.time() < deadline and sum("WATCHDOG=1" in m for m in messages) < 2:
                    messages.append(sock.recv(4096).decode())
                self.assertTrue(messages[0].startswith("READY=1\n"), messages)
                self.assertIn("STATUS=serving on", messages[0])
                self.assertGreaterEqual(sum("WATCHDOG=1" in m for m in messages), 2, messages)
                proc.send_signal(signal.SIGTERM)
                while True:
                    m = sock.recv(4096).decode()
                    if "STOPPING=1" in m:
                        break
                self.assertEqual(proc.wait(timeout=30), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
                proc.stderr.close()
                sock.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
