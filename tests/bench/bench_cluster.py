"""Processing on Dramatiq workers over a real Redis (the system's redis-server).

    python tests/bench/bench_cluster.py [--files 48] [--small 400] [--placed 1000]

1. A processor that takes 200 ms a file (tests/cluster_worker.py's "ocr", standing for an OCR
   plugin, run in the workers' isolated child processes): throughput with 1, 2 and 4 workers
   (one file at a time each), as ratios to 1 worker.
2. Small text files: the engine's wall time per file when it processes them itself, beside the
   same files dispatched to 2 workers (the cost of the round trip: dispatch, fetch, result).
3. --placed N files over 3 workers: each placed once, and the journal agrees with the disk.

Workers are separate processes with their own folders, reaching the engine and Redis over TCP
on loopback; their start-up is not timed (each is heard from before the clock starts).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from cluster_worker import registry as ocr_registry  # noqa: E402
from helpers import served_engine, wait_for  # noqa: E402
from servers import RedisServer  # noqa: E402
from test_cluster import Workers, drop_all, rows  # noqa: E402

FINAL = ("done", "failed", "duplicate", "vanished")


def settle(engine, names: set[str], timeout: float) -> float:
    """Seconds until every name is final (polled every 20 ms)."""
    t0 = time.perf_counter()
    wait_for(
        lambda: (
            all(r[1] in FINAL for n, r in rows(engine).items() if n in names) and names <= set(rows(engine))
        ),
        timeout=timeout,
        interval=0.02,
        what="the batch to be placed",
    )
    return time.perf_counter() - t0


def start_workers(engine, redis, tmp: Path, names: list[str], concurrency: int) -> Workers:
    workers = Workers(
        tmp,
        redis.url,
        engine.config.cluster.queue,
        engine.server.url,
        engine.config.paths.state / "worker-token",
    )
    workers.start(*names, concurrency=concurrency)
    wait_for(
        lambda: {w.name for w in engine.workers() if w.alive} >= set(names),
        timeout=60,
        what="workers to beat",
    )
    time.sleep(0.5)  # their consumers are subscribed by now
    return workers


def engine_for(tmp: Path, redis, kinds: list[str], name: str):
    return served_engine(
        tmp / name, registry=ocr_registry(), cluster={"broker": redis.url, "kinds": kinds, "queue": name}
    )


def throughput(tmp: Path, redis, files: int) -> None:
    print(f"1. {files} files of 200 ms each (isolated child per worker)")
    base = None
    for n in (1, 2, 4):
        engine = engine_for(tmp, redis, ["ocr"], f"ocr{n}")
        workers = start_workers(engine, redis, tmp / f"ocr{n}", [f"w{i}" for i in range(n)], 1)
        batch = {f"p{n}-{i:04d}.ocr": b"sleep 0.2\nscanned page\n" for i in range(files)}
        drop_all(engine.config.paths.inbox, batch)
        took = settle(engine, set(batch), timeout=files * 0.2 * 3 + 60)
        workers.stop()
        engine.stop()
        rate = files / took
        base = base or rate
        print(f"   {n} worker(s): {took:6.2f} s  {rate:6.2f} files/s  x{rate / base:.2f} of 1 worker")


def small_files(tmp: Path, redis, files: int) -> None:
    print(f"2. {files} small text files: engine wall time per file")
    batch = {f"s-{i:05d}.txt": f"a small note {i}\n".encode() for i in range(files)}
    engine = engine_for(tmp, redis, ["ocr"], "local")  # text is not dispatched: processed here
    drop_all(engine.config.paths.inbox, batch)
    local = settle(engine, set(batch), timeout=120) / files
    engine.stop()
    engine = engine_for(tmp, redis, ["text"], "remote")
    workers = start_workers(engine, redis, tmp / "remote", ["a", "b"], 2)
    drop_all(engine.config.paths.inbox, batch)
    remote = settle(engine, set(batch), timeout=300) / files
    workers.stop()
    engine.stop()
    print(f"   local:      {local * 1000:7.2f} ms/file")
    print(
        f"   dispatched: {remote * 1000:7.2f} ms/file  (x{remote / local:.1f} the local cost; 2 workers x 2)"
    )


def placed_once(tmp: Path, redis, files: int) -> None:
    print(f"3. {files} files over 3 workers")
    engine = engine_for(tmp, redis, ["ocr"], "many")
    workers = start_workers(engine, redis, tmp / "many", ["a", "b", "c"], 2)
    batch = {f"m-{i:05d}.ocr": f"page {i}\n".encode() for i in range(files)}
    drop_all(engine.config.paths.inbox, batch)
    took = settle(engine, set(batch), timeout=600)
    found = rows(engine)
    on_disk = [p for p in engine.config.paths.processed.rglob("*.ocr") if p.is_file()]
    with sqlite3.connect(engine.config.paths.state / "journal.sqlite") as db:
        left = db.execute("SELECT count(*) FROM dispatches").fetchone()[0]
    done = [r for r in found.values() if r[1] == "done"]
    wait_for(lambda: sum(w.done for w in engine.workers()) >= files, timeout=15, what="the last heartbeats")
    by_worker = {w.name: w.done for w in engine.workers()}
    workers.stop()
    engine.stop()
    placed = {str(p) for p in on_disk}
    agree = len(done) == files and placed == {r[2] for r in done} and left == 0
    print(
        f"   {took:.1f} s; {len(done)} done, {len(on_disk)} originals on disk, journal agrees with disk: {agree}; "
        f"per worker {by_worker}"
    )
    if not agree:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--small", type=int, default=400)
    parser.add_argument("--placed", type=int, default=1000)
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("bench_cluster: redis-server is not installed (apt install redis-server)")
    os.environ.pop("CHUTE_WORKER_TOKEN", None)
    tmp = Path(tempfile.mkdtemp(prefix="chute-bench-cluster-"))
    redis = RedisServer(binary)
    try:
        throughput(tmp, redis, args.files)
        small_files(tmp, redis, args.small)
        placed_once(tmp, redis, args.placed)
    finally:
        redis.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
