"""Demo flow: a few named steps with short sleeps so the live span tree visibly grows.
Run: hero_logic run examples/hello_flow.py --input '{"name": "Ada", "steps": 3}'
or standalone: python3 examples/hello_flow.py"""

import time

from hero_tracing import flow


@flow(name="hello", description="Greets someone in a few visible steps",
      inputs={"name": str, "steps": int}, outputs={"greeting": str, "steps": int},
      tags=("demo", "example"))
def hello(name="world", steps=3):
    """Says hello in `steps` steps, sleeping 0.2 s in each so the tree grows live."""
    with flow.step("prepare", name=name) as s:
        print("preparing a greeting for", name)
        time.sleep(0.2)
        s.tag(letters=len(name))
    words = []
    for i in range(steps):
        with flow.step("step %d" % (i + 1), index=i):
            print("working on step", i + 1)
            time.sleep(0.2)
            words.append(name.upper() if i % 2 else name)
            if i == 0:
                with flow.step("nested detail"):
                    flow.log("a log line from the nested step")
                    time.sleep(0.1)
    with flow.step("compose") as s:
        greeting = "Hello, %s!" % " ".join(words)
        s.tag(length=len(greeting))
        print(greeting)
    return {"greeting": greeting, "steps": steps}


if __name__ == "__main__":
    print(hello("world", 2))
