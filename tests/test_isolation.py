"""A processor that hangs, crashes or eats memory fails that one file; the engine carries on."""

import time

from helpers import drop, settled
from processors_for_tests import registry


def test_hang_crash_and_memory_fail_one_file_each(make_engine):
    engine = make_engine(registry=registry(), pipeline={"timeout": 2.0, "memory_limit_mb": 512})
    t0 = time.monotonic()
    drop(engine, "forever.hang", b"x")
    drop(engine, "abort.crash", b"x")
    drop(engine, "greedy.hog", b"x")
    drop(engine, "bug.boom", b"x")
    drop(engine, "fine.txt", b"still flowing\n")
    fine = settled(engine, "fine.txt")
    assert fine.state == "done"
    assert time.monotonic() - t0 < 2.0, "the fast lane does not wait for the slow one"

    hang = settled(engine, "forever.hang")
    assert (hang.state, hang.error_kind) == ("failed", "timeout")
    assert "longer than 2s" in hang.reason

    crash = settled(engine, "abort.crash")
    assert (crash.state, crash.error_kind) == ("failed", "crash")
    assert "SIGABRT" in crash.reason

    hog = settled(engine, "greedy.hog")
    assert hog.state == "failed" and hog.error_kind in ("memory", "crash")
    assert "memory" in hog.reason

    boom = settled(engine, "bug.boom")
    assert (boom.state, boom.error_kind) == ("failed", "crash")
    assert "KeyError" in boom.reason

    # The children were replaced: the engine still processes risky kinds afterwards.
    from chute.engine import samples

    drop(engine, "after.pdf", samples.pdf())
    assert settled(engine, "after.pdf").state == "done"
    assert engine.snapshot().watcher_alive
