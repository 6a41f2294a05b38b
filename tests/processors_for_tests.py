"""Misbehaving processors for the isolation tests (importable by the child processes)."""

import os
import time

from chute.engine.processors import Registry, Result


class Hang:
    kind = "hang"
    extensions = frozenset({".hang"})
    inline = False

    def process(self, path, name, workdir):
        time.sleep(3600)
        return Result(meta={})


class Crash:
    kind = "crash"
    extensions = frozenset({".crash"})
    inline = False

    def process(self, path, name, workdir):
        os.abort()


class Hog:
    kind = "hog"
    extensions = frozenset({".hog"})
    inline = False

    def process(self, path, name, workdir):
        chunks = []
        while True:
            chunks.append(bytearray(64 * 2**20))


class Boom:
    """A bug in an in-process processor: raises something unexpected."""

    kind = "boom"
    extensions = frozenset({".boom"})
    inline = True

    def process(self, path, name, workdir):
        raise KeyError("column 'total'")


class Slow:
    """A safe kind that costs 0.1 s of CPU a file: once the engine has seen a few, its files go
    to the child processes."""

    kind = "slow"
    extensions = frozenset({".slow"})
    inline = True

    def process(self, path, name, workdir):
        started, cpu = time.time(), time.thread_time()
        while time.thread_time() - cpu < 0.1:
            pass
        return Result(meta={"pid": os.getpid(), "started": started, "ended": time.time()})


def registry() -> Registry:
    reg = Registry.default(plugins=False)
    for p in (Hang(), Crash(), Hog(), Boom(), Slow()):
        reg.add(p)
    return reg
