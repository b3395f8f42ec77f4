import sys

from hero_tracing import flow


@flow(name="logs_and_tags")
def logs_and_tags():
    print("root output")
    with flow.step("work", phase="start", n=1) as s:
        print("first line")
        print("partial", end="")
        print(" done")
        sys.stderr.write("warning: something\n")
        s.tag(phase="end", items=[1, 2, 3], ratio=0.5, ok=True, none=None)
        flow.log("structured log line")
        flow.tag(extra={"nested": {"k": "v"}})
        print("unicode: \u00e9\u4e2d \"quoted\" \\ back\ttab")
    return None
