"""Big files beside small ones: a 2 GB (sparse) file is hashed and sniffed in the slow lane, so a
small file's latency does not depend on its size; a large log is processed a chunk at a time,
inside a child's memory limit."""

from __future__ import annotations

import hashlib
import os
import time

from helpers import settled, wait_for

GB2 = 2 * 2**30


def seconds_to_hash(size: int) -> float:
    """How long this machine takes to hash `size` bytes (measured on 64 MiB)."""
    sample = 64 * 2**20
    zeros = bytes(2**20)
    h = hashlib.sha256()
    t0 = time.perf_counter()
    for _ in range(sample // len(zeros)):
        h.update(zeros)
    return (time.perf_counter() - t0) * size / sample


def test_small_files_do_not_wait_behind_a_2gb_file(make_engine):
    engine = make_engine(pipeline={"isolated_workers": 1})
    inbox = engine.config.paths.inbox
    hashing = seconds_to_hash(GB2)
    part = inbox / "huge.log.part"  # ignored until renamed, the safe-writer way
    with open(part, "wb") as f:
        f.truncate(GB2)
    os.rename(part, inbox / "huge.log")
    time.sleep(0.05)  # it is claimed first, ahead of the small ones
    for i in range(5):
        (inbox / f"small{i}.txt").write_text(f"small file {i}\n")
    small = [settled(engine, f"small{i}.txt", timeout=60) for i in range(5)]
    assert {r.state for r in small} == {"done"}
    worst = max(r.latency for r in small)
    assert worst < hashing / 2, f"a small file waited {worst:.2f}s; hashing 2 GB takes {hashing:.2f}s here"
    # Stopping does not wait for the hash to end: the file stays claimed for the next start.
    t0 = time.monotonic()
    engine.stop()
    assert time.monotonic() - t0 < hashing / 2 + 2
    journal = engine.open_journal(engine.config)
    huge = next(r for r in journal.files(limit=10).items if r.name == "huge.log")
    journal.stop()
    assert huge.state == "queued" and any((engine.config.paths.state / "work").iterdir())


def test_a_large_log_is_processed_within_a_small_memory_limit(make_engine):
    engine = make_engine(pipeline={"memory_limit_mb": 64})
    line = "2026-11-22 07:00:00 INFO request served path=/api/v1/files status=200 café\n"
    lines = 40 * 2**20 // len(line.encode())
    with open(engine.config.paths.inbox / "big.log.part", "w", encoding="utf-8") as f:
        block = line * 10_000
        for _ in range(lines // 10_000):
            f.write(block)
    os.rename(engine.config.paths.inbox / "big.log.part", engine.config.paths.inbox / "big.log")
    rec = wait_for(
        lambda: (r := settled(engine, "big.log", timeout=120)) and r, timeout=120, what="the big log"
    )
    assert rec.state == "done", rec.reason
    meta = engine.file(rec.id).meta
    n = lines // 10_000 * 10_000
    assert (meta["lines"], meta["words"], meta["encoding"]) == (n, n * 8, "utf-8")
    assert meta["top_terms"][0][1] == meta["top_terms"][1][1]
