"""The engine under faults, measured.

    python tests/bench/bench_faults.py [--small 200] [--rate 40] [--big-gb 2] [--paused 200]

1. Small-file latency while a big (sparse) file is hashed and processed, beside the same small
   files alone: a small file's latency must not depend on a big one's size (ratio ~1).
2. Time from space freed to the last paused file placed: processed/ on a tmpfs filled to the
   last byte, files dropped and claimed (the pipeline pauses), then the filler deleted. Needs
   root (to mount); skipped with a line otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ for faultfs

from chute.engine import Config, Engine
from chute.engine.model import Quantiles
from chute.engine.stats import quantiles


def engine_at(root: Path) -> Engine:
    config = Config.for_root(root, server={"enabled": False}, watcher={"min_age": 0.2})
    engine = Engine(config)
    engine.health_limits.update(disk_warn_bytes=0, disk_fail_bytes=0)
    engine.start()
    return engine


def small_latencies(big_bytes: int, small: int, rate: float) -> tuple[Quantiles, float]:
    """p50/p99 of small files' latency (arrival to placement) fed at `rate`/s, with a big file
    of `big_bytes` dropped first (0: none); and how long the big file took, if any."""
    root = Path(tempfile.mkdtemp(prefix="chute-bench-faults-"))
    engine = engine_at(root)
    inbox = engine.config.paths.inbox
    try:
        t0 = time.monotonic()
        if big_bytes:
            part = inbox / "huge.log.part"
            with open(part, "wb") as f:
                f.truncate(big_bytes)
            os.rename(part, inbox / "huge.log")
        for i in range(small):
            (inbox / f"s{i:05d}.txt").write_text(f"small file {i}\n")
            time.sleep(1 / rate)
        names = {f"s{i:05d}.txt" for i in range(small)}
        while True:
            rows = {r.name: r for r in engine.files(limit=small + 10).items}
            done = [rows[n] for n in names if n in rows and rows[n].state == "done"]
            big = rows.get("huge.log")
            if len(done) == small and (not big_bytes or (big and big.state in ("done", "failed"))):
                break
            time.sleep(0.05)
        big_took = time.monotonic() - t0 if big_bytes else 0.0
        return quantiles([r.latency for r in done]), big_took
    finally:
        engine.stop()
        shutil.rmtree(root, ignore_errors=True)


def resume_after_space(n: int) -> float | None:
    from faultfs import can_mount, fill, small_fs

    if not can_mount():
        print("  (skipped: mounting a small filesystem needs root)")
        return None
    root = Path(tempfile.mkdtemp(prefix="chute-bench-full-"))
    try:
        with small_fs(root / "processed", 8 * 2**20):
            engine = engine_at(root)
            try:
                filler = fill(root / "processed")
                for i in range(n):
                    (engine.config.paths.inbox / f"p{i:05d}.txt").write_text(f"paused file {i}\n" * 20)
                while "fault:processed" not in engine.health().checks:
                    time.sleep(0.02)
                time.sleep(1.0)  # let the rest pile up behind the fault
                t0 = time.monotonic()
                filler.unlink()
                while engine.snapshot().counts["done"] < n:
                    time.sleep(0.01)
                return time.monotonic() - t0
            finally:
                engine.stop()
    finally:
        subprocess.run(["umount", "-l", str(root / "processed")], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=200, help="small files per run")
    parser.add_argument("--rate", type=float, default=40.0, help="small files per second")
    parser.add_argument("--big-gb", type=float, default=2.0, help="size of the big (sparse) file")
    parser.add_argument("--paused", type=int, default=200, help="files waiting on a full processed/")
    args = parser.parse_args()

    print(f"1. {args.small} small files at {args.rate:g}/s, latency arrival -> placed")
    alone, _ = small_latencies(0, args.small, args.rate)
    beside, big_took = small_latencies(int(args.big_gb * 2**30), args.small, args.rate)
    for label, q in (("alone", alone), (f"beside a {args.big_gb:g} GB file", beside)):
        print(f"  {label:<22} p50 {q.p50 * 1000:7.1f} ms   p99 {q.p99 * 1000:7.1f} ms")
    print(f"  ratio p99 beside/alone: {beside.p99 / alone.p99:.2f}  (the big file took {big_took:.1f}s)")

    print(f"2. {args.paused} files paused on a full processed/: space freed -> last one placed")
    took = resume_after_space(args.paused)
    if took is not None:
        print(f"  {took:.2f}s ({args.paused / took:.0f} files/s once resumed)")


if __name__ == "__main__":
    main()
