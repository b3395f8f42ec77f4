"""`cpack -G DEB` from the build directory: the package installs only under /usr (FHS: bin,
lib/hero_logic, lib/systemd/system, share/hero_logic, share/doc/hero-logic), depends on what
the binary links and runs, and carries maintainer scripts that pass `sh -n`."""
import os
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("HERO_BUILD_DIR", "build")


@unittest.skipUnless(shutil.which("cpack") and shutil.which("dpkg-deb") and shutil.which("dpkg-shlibdeps"),
                     "needs cpack, dpkg-deb and dpkg-shlibdeps (dpkg-dev)")
class DebPackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hero_deb_")
        p = subprocess.run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
                            "-B", cls.tmp], capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout + p.stderr
        debs = [f for f in os.listdir(cls.tmp) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(cls.tmp, debs[0])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, name):
        return subprocess.run(["dpkg-deb", "-f", self.deb, name], capture_output=True, text=True,
                              check=True).stdout.strip()

    def test_control_fields(self):
        self.assertEqual(self.field("Package"), "hero-logic")
        self.assertRegex(self.field("Version"), r"^\d+\.\d+\.\d+$")
        depends = [d.strip().split()[0] for d in self.field("Depends").split(",")]
        for pkg in ("libuv1", "libsqlite3-0", "libseccomp2", "bubblewrap", "python3", "libsystemd0",
                    "libtomlplusplus3"):
            self.assertIn(pkg, depends)
        self.assertTrue([d for d in depends if d.startswith("libh2o")], depends)

    def test_contents_stay_in_the_fhs(self):
        out = subprocess.run(["dpkg-deb", "-c", self.deb], capture_output=True, text=True, check=True).stdout
        paths = [line.split()[5] for line in out.splitlines()]
        allowed = ("./usr/bin/", "./usr/lib/hero_logic/", "./usr/lib/systemd/system/",
                   "./usr/share/hero_logic/", "./usr/share/doc/hero-logic/")
        for p in paths:
            if p.endswith("/") and any(a.startswith(p) for a in allowed):
                continue  # a parent directory of an allowed one
            self.assertTrue(p.startswith(allowed), p)
        for needed in ("./usr/bin/hero_logic", "./usr/lib/hero_logic/hero_launcher",
                       "./usr/lib/systemd/system/hero_logic.service",
                       "./usr/share/hero_logic/py/hero_tracing/boot.py",
                       "./usr/share/hero_logic/builtin_flows/model_call.py",
                       "./usr/share/hero_logic/config.toml.example",
                       "./usr/share/hero_logic/grafana/hero_logic.json",
                       "./usr/share/doc/hero-logic/OPERATIONS.md"):
            self.assertIn(needed, paths)
        self.assertFalse([p for p in paths if p.endswith(".pyc") or "__pycache__" in p])

    def test_unit_and_maintainer_scripts(self):
        x = os.path.join(self.tmp, "x")
        subprocess.run(["dpkg-deb", "-x", self.deb, x], check=True)
        with open(os.path.join(x, "usr/lib/systemd/system/hero_logic.service")) as f:
            self.assertIn("ExecStart=/usr/bin/hero_logic serve", f.read())
        ctl = os.path.join(self.tmp, "control")
        subprocess.run(["dpkg-deb", "-e", self.deb, ctl], check=True)
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(ctl, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            subprocess.run(["sh", "-n", path], check=True)
        with open(os.path.join(ctl, "postinst")) as f:
            self.assertIn("/usr/share/hero_logic/config.toml.example", f.read())


if __name__ == "__main__":
    unittest.main()
