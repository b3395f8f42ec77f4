# CPython workload the sandbox must allow: run as the flow source by sandbox_integration_test.
# Prints "FAILS <n>" then one line per failure, then "WORKLOAD DONE".
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading

fails = []


def check(name, fn):
    try:
        fn()
    except BaseException as e:  # noqa: BLE001
        fails.append(f"{name}: {e!r}")


def sq(x):
    return x * x


def t_ssl():
    ctx = ssl.create_default_context()
    assert ctx.cert_store_stats()["x509_ca"] > 0, ctx.cert_store_stats()


def t_sqlite():
    path = os.path.join(tempfile.gettempdir(), "w.db")
    db = sqlite3.connect(path)
    db.execute("create table t(x)")
    db.executemany("insert into t values (?)", [(i,) for i in range(1000)])
    db.commit()
    assert db.execute("select count(*) from t").fetchone()[0] == 1000
    db.close()
    sqlite3.connect(":memory:").execute("select 1")


def t_threads():
    ev = threading.Event()
    started = []

    def w():
        started.append(1)
        ev.wait(10)

    ts = [threading.Thread(target=w) for _ in range(64)]
    for t in ts:
        t.start()
    ev.set()
    for t in ts:
        t.join()
    assert len(started) == 64


def t_subprocess():
    subprocess.run(["/usr/bin/true"], check=True)
    out = subprocess.run([sys.executable, "-c", "print(6*7)"], capture_output=True, check=True)
    assert out.stdout.strip() == b"42", out


def t_mp(method):
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as p:
        assert p.map(sq, range(10)) == [x * x for x in range(10)]


def t_asyncio():
    async def main():
        await asyncio.sleep(0.01)
        proc = await asyncio.create_subprocess_exec("/usr/bin/true")
        await proc.wait()
        r, w = socket.socketpair()
        reader, writer = await asyncio.open_unix_connection(sock=r)
        w.sendall(b"hi\n")
        line = await reader.readline()
        writer.close()
        w.close()
        return line

    assert asyncio.run(main()) == b"hi\n"


def t_misc():
    json.loads(json.dumps({"a": [1, 2, {"b": None}]}))
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"x")
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        assert sum(ex.map(sq, range(100))) == 328350
    import hashlib, zlib, decimal, uuid, random  # noqa: F401,E401
    uuid.uuid4()
    os.urandom(16)


if __name__ == "__main__":
    check("ssl", t_ssl)
    check("sqlite", t_sqlite)
    check("threads64", t_threads)
    check("subprocess", t_subprocess)
    check("mp_fork", lambda: t_mp("fork"))
    check("mp_spawn", lambda: t_mp("spawn"))
    check("mp_forkserver", lambda: t_mp("forkserver"))
    check("asyncio", t_asyncio)
    check("misc", t_misc)
    print("FAILS", len(fails))
    for f in fails:
        print("FAIL", f)
    print("WORKLOAD DONE", flush=True)
