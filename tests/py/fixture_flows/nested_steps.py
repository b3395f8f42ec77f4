from hero_tracing import flow


@flow.step("decorated")
def decorated(x):
    return x + 1


@flow(name="nested")
def nested():
    with flow.step("outer"):
        with flow.step("middle"):
            with flow.step("leaf"):
                pass
        with flow.step("sibling"):
            decorated(1)
    with flow.span("after"):
        pass
    return 3
