"""config.toml for `hero_logic serve`: every key round-trips through `serve --check-config`,
command-line flags override the file, and a bad file (syntax, unknown key, wrong type, out of
range, secrets readable by others) stops the daemon with the file, line and key."""
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
import unittest

BIN = os.environ.get("HERO_LOGIC_BIN", "build/hero_logic")

# Every serve option's key with a value different from its default.
EVERY_KEY = {
    "data": "/var/lib/hero_test", "socket": "/run/hero_test/api.sock", "host": "127.0.0.2",
    "port": 9123, "concurrency": 7, "per_flow_limit": 3, "static": "/srv/ui",
    "flows_dir": "/srv/flows", "shutdown_grace": 25, "pool": 4, "pool_idle": 120,
    "retain_days": 0.5, "retain_mb": 512, "retain_interval": 60, "node": "node-a",
}


def toml_text(d):
    out = []
    for k, v in d.items():
        out.append('%s = %s' % (k, '"%s"' % v if isinstance(v, str) else repr(v)))
    return "\n".join(out) + "\n"


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hero_config_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, text, name="config.toml", mode=0o600):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def serve(self, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_")}
        return subprocess.run([BIN, "serve", *args], capture_output=True, text=True, timeout=60, env=env)

    def check(self, *args):
        p = self.serve(*args, "--check-config")
        self.assertEqual(p.returncode, 0, p.stderr)
        return tomllib.loads(p.stdout)

    def test_every_key_round_trips(self):
        keys = dict(EVERY_KEY, secrets_dir=os.path.join(self.tmp, "secrets"))
        os.mkdir(keys["secrets_dir"], 0o700)
        path = self.write(toml_text(keys))
        got = self.check("--config", path)
        for k, v in keys.items():
            self.assertEqual(got[k], v, k)
        # The printed settings are themselves a valid config that means the same thing.
        again = self.write(toml_text({k: got[k] for k in keys}), name="again.toml")
        self.assertEqual(self.check("--config", again), got)

    def test_every_key_is_a_serve_option(self):
        help_text = self.serve("--help").stdout
        for k in list(EVERY_KEY) + ["secrets_dir"]:
            self.assertIn("--" + k.replace("_", "-") + " ", help_text, k)

    def test_flags_override_the_file(self):
        path = self.write(toml_text({"port": 9001, "pool": 3, "node": "from-file"}))
        got = self.check("--config", path, "--port", "9002", "--node=from-flag")
        self.assertEqual((got["port"], got["pool"], got["node"]), (9002, 3, "from-flag"))

    def assert_refused(self, text, pattern, mode=0o600, extra=()):
        path = self.write(text, mode=mode)
        data = os.path.join(self.tmp, "data")
        # Not --check-config: the daemon itself must refuse to start.
        p = self.serve("--config", path, "--data", data, *extra)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertRegex(p.stderr, pattern.replace("FILE", re.escape(path)))
        self.assertFalse(os.path.exists(os.path.join(data, "hero_logic.sock")))

    def test_bad_values_name_the_key_and_line(self):
        cases = [
            ('host = "127.0.0.1"\nport = 70000\n', r"FILE:2: key 'port': must be 0\.\.65535"),
            ('port = "8000"\n', r"FILE:1: key 'port': must be a number"),
            ('\n\nconcurrency = 0\n', r"FILE:3: key 'concurrency': must be a number >= 1"),
            ('retain_days = -1.5\n', r"FILE:1: key 'retain_days': must be a number of days >= 0"),
            ('pool = 2.5\n', r"FILE:1: key 'pool': must be a number 0\.\.64"),
            ('data = 5\n', r"FILE:1: key 'data': must be a string"),
            ('port = 8000\nprot = 1\n', r"FILE:2: key 'prot': unknown key"),
            ('per-flow-limit = 1\n', r"FILE:1: key 'per-flow-limit': unknown key"),
            ('[server]\nport = 1\n', r"FILE:1: key 'server': unknown key"),
            ('port = [\n', r"FILE:1: "),
            ('port = 1\nport = 2\n', r"FILE:2: "),
            ('[secrets]\n"BAD-NAME" = "0123456789"\n', r"FILE:2: key 'secrets.BAD-NAME': .*environment variable name"),
            ('[secrets]\nSHORT = "abc"\n', r"FILE:2: key 'secrets.SHORT': must be at least 8 bytes"),
            ('script_run_secrets = ["NOPE"]\n', r"FILE: key 'script_run_secrets': no secret named NOPE"),
            ('[otel]\nendpoint = "http://c:4318"\n', r"FILE:2: key 'otel.endpoint': unknown key"),
            ('[otel]\nexporter_otlp_endpoint = 1.5\n',
             r"FILE:2: key 'otel.exporter_otlp_endpoint': must be a string or an integer"),
        ]
        for text, pattern in cases:
            with self.subTest(text=text):
                self.assert_refused(text, pattern)

    def test_otel_table_is_read(self):
        path = self.write('[otel]\nexporter_otlp_endpoint = "http://collector:4318"\n'
                          'service_name = "hero-prod"\nbsp_schedule_delay = 200\n'
                          'exporter_otlp_headers = "x-api-key=abcdefgh"\n')
        p = self.serve("--config", path, "--check-config")
        self.assertEqual(p.returncode, 0, p.stderr)
        got = tomllib.loads(p.stdout)["otel"]
        self.assertEqual(got, {"exporter_otlp_endpoint": "http://collector:4318",
                               "service_name": "hero-prod", "bsp_schedule_delay": "200"})
        self.assertNotIn("abcdefgh", p.stdout, "header values (API keys) are not printed")

    def test_secrets_in_a_world_readable_file_are_refused(self):
        self.assert_refused('[secrets]\nHERO_AIBROKER_KEY = "sk-0123456789"\n',
                            r"config FILE: holds \[secrets\] but other users can read it \(mode 0644\)",
                            mode=0o644)

    def test_secrets_dir_files_must_be_private(self):
        d = os.path.join(self.tmp, "secrets")
        os.mkdir(d)
        with open(os.path.join(d, "API_TOKEN"), "w") as f:
            f.write("tok-0123456789\n")
        os.chmod(os.path.join(d, "API_TOKEN"), 0o644)
        self.assert_refused("", r"secret .*/API_TOKEN: others can read it \(mode 0644\)",
                            extra=("--secrets-dir", d))
        os.chmod(os.path.join(d, "API_TOKEN"), 0o600)
        path = self.write('script_run_secrets = ["API_TOKEN"]\n', name="ok.toml")
        got = self.check("--config", path, "--secrets-dir", d)
        self.assertEqual(got["script_run_secrets"], ["API_TOKEN"])
        p = self.serve("--config", path, "--secrets-dir", d, "--check-config")
        self.assertIn("API_TOKEN", p.stdout)
        self.assertNotIn("tok-0123456789", p.stdout + p.stderr)

    def test_missing_config_file_is_an_error(self):
        p = self.serve("--config", os.path.join(self.tmp, "nope.toml"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("nope.toml: cannot read it", p.stderr)


if __name__ == "__main__":
    unittest.main()
