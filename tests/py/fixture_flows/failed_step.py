from hero_tracing import flow


@flow(name="failing")
def failing():
    with flow.step("validate"):
        try:
            with flow.step("check"):
                raise flow.Failed("value out of range")
        except flow.Failed:
            pass
    with flow.step("parse"):
        parse("x")


def parse(text):
    raise ValueError("not a number: " + text)
