"""ctest `flows_smoke` (label e2e): runs `hero_logic smoke --offline --junit FILE` with no
HERO_AIBROKER_URL (so the recorded-answer fixture serves the model) and checks the exit code
and the JUnit XML: every built-in flow has a passing testcase.

    python3 tests/flows/check_smoke.py HERO_LOGIC_BIN JUNIT_FILE
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

BUILTIN = {"model_call", "service_code_gen", "service_agent", "benchmark_flow",
           "pick_version_flow", "optimize_flow"}


def main(argv):
    binary, junit = argv[1], argv[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_AIBROKER")}
    env["NO_COLOR"] = "1"
    if os.path.exists(junit):
        os.remove(junit)
    p = subprocess.run([binary, "smoke", "--offline", "--junit", junit], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    problems = []
    if p.returncode != 0:
        problems.append("hero_logic smoke exited %d" % p.returncode)
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError) as e:
        problems.append("JUnit XML %s unreadable: %s" % (junit, e))
        root = None
    if root is not None:
        cases = list(root.iter("testcase"))
        suites = list(root.iter("testsuite"))
        if root.tag != "testsuites" or len(suites) != 1:
            problems.append("expected <testsuites> with one <testsuite>, got <%s>" % root.tag)
        if int(suites[0].get("tests", -1)) != len(cases) if suites else True:
            problems.append("testsuite tests= does not match the testcases")
        flows = {c.get("classname", "").split(".", 1)[-1] for c in cases}
        if not BUILTIN <= flows:
            problems.append("no testcase for: %s" % ", ".join(sorted(BUILTIN - flows)))
        for c in cases:
            if c.find("failure") is not None or c.find("error") is not None:
                problems.append("testcase %s did not pass" % c.get("name"))
            if c.get("time") is None or c.find("system-out") is None:
                problems.append("testcase %s lacks time or its tree" % c.get("name"))
        if int(root.get("failures", 1)) or int(root.get("errors", 1)):
            problems.append("failures=%s errors=%s" % (root.get("failures"), root.get("errors")))
    for pr in problems:
        print("check_smoke: " + pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
