"""Demo flow that fails in step 'parse' with a ValueError (the run's reason names the step)."""

from hero_tracing import flow


@flow(name="failing", description="Fails while parsing its input",
      inputs={"text": str})
def failing(text="not a number"):
    with flow.step("load") as s:
        s.tag(chars=len(text))
        print("loaded", len(text), "characters")
    with flow.step("parse"):
        print("parsing", repr(text))
        value = int(text)
    return {"value": value}


if __name__ == "__main__":
    failing()
