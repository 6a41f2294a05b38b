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
    """Both cores: once a kind is seen to cost more than a millisecond a file, its files run in
    the processor children in parallel, and the fast lane keeps taking small files meanwhile."""
    engine = make_engine(registry=registry(), pipeline={"isolated_workers": 2})
    drop(engine, "first.slow", b"x")
    first = engine.file(settled(engine, "first.slow").id)
    assert first.meta["pid"] == os.getpid(), "the first of a kind runs in the engine: its cost is unknown"

    t0 = time.monotonic()
    for i in range(6):
        drop(engine, f"next-{i}.slow", b"x")
    drop(engine, "small.txt", b"not held up\n")
    assert settled(engine, "small.txt").state == "done"
    small_at = time.monotonic() - t0
    rows = [engine.file(settled(engine, f"next-{i}.slow").id) for i in range(6)]
    elapsed = time.monotonic() - t0

    assert all(r.file.state == "done" for r in rows)
    pids = {r.meta["pid"] for r in rows}
    assert os.getpid() not in pids and len(pids) == 2, pids
    spans = sorted((r.meta["started"], r.meta["ended"]) for r in rows)
    overlapping = sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
    assert overlapping >= 2, spans
    assert elapsed < 6 * 0.2, f"six 0.2 s files took {elapsed:.2f} s: not in parallel"
    assert small_at < 0.6, f"a small text file waited {small_at:.2f} s behind the costly ones"
