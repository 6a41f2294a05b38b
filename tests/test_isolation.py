"""A processor that hangs, crashes or eats memory fails that one file; the engine carries on."""

import itertools
import os
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


def test_a_costly_inline_kind_runs_in_child_processes_side_by_side(make_engine):
    """Both cores: once a kind is seen to cost more than a millisecond of CPU a file, its files
    run in the processor children in parallel, and the fast lane keeps taking small files."""
    engine = make_engine(registry=registry(), pipeline={"isolated_workers": 2})
    for i in range(3):
        drop(engine, f"first-{i}.slow", b"x")
        first = engine.file(settled(engine, f"first-{i}.slow").id)
        assert first.meta["pid"] == os.getpid(), (
            "the first of a kind run in the engine: their cost is unknown"
        )

    for i in range(6):
        drop(engine, f"next-{i}.slow", b"x")
    t0 = time.monotonic()
    drop(engine, "small.txt", b"not held up\n")
    assert settled(engine, "small.txt").state == "done"
    small_at = time.monotonic() - t0
    rows = [engine.file(settled(engine, f"next-{i}.slow").id) for i in range(6)]

    assert all(r.file.state == "done" for r in rows)
    pids = {r.meta["pid"] for r in rows}
    assert os.getpid() not in pids and len(pids) == 2, pids
    spans = sorted((r.meta["started"], r.meta["ended"]) for r in rows)
    overlapping = sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
    assert overlapping >= 2, f"the children took them one at a time: {spans}"
    assert small_at < 0.5, f"a small text file waited {small_at:.2f} s behind the costly ones"


def test_cheap_text_stays_in_the_engine_thread(make_engine):
    """Text costs ~20 µs a file: handing it to a child would cost ten times that."""
    engine = make_engine()
    for i in range(40):
        drop(engine, f"note-{i}.txt", b"short and cheap\n")
    for i in range(40):
        assert settled(engine, f"note-{i}.txt").state == "done"
    assert engine.pipeline.runner.started == 0
