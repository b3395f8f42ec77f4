import threading

from hero_tracing import flow


def job(name):
    with flow.step(name):
        print("in", name)


def square(i):
    with flow.step("square %d" % i):
        return i * i


@flow(name="threads")
def threads():
    with flow.step("spawn"):
        t = flow.thread(job, "flow_thread")
        t.start()
        t.join()
        p = threading.Thread(target=job, args=("plain_thread",))
        p.start()
        p.join()
        out = flow.map(square, [1, 2, 3], max_workers=1)
    return out
