from hero_tracing import flow


@flow(name="simple", description="One step, one result", inputs={"name": str})
def simple(name):
    with flow.step("greet"):
        greeting = "hello " + name
    return {"greeting": greeting}
