"""Console costs with 100,000 files in the journal.

    python tests/bench/bench_console.py [--rows 100000] [--seconds 60]

1. One refresh tick of the embedded console (snapshot + first page of files, applied to the
   tables in place by key), beside the same tick on a 1,000-row journal and beside a naive tick
   that clears and rebuilds the table.
2. Bytes an idle attached console (RemoteSource against the real server) pulls per minute with
   its event long-polls, beside a naive console that re-fetches snapshot and first page every second.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from chute.engine import Config, Engine
from chute.engine.journal import Arrival, Journal, Outcome
from chute.engine.server import ServerService


def fill(root: Path, rows: int) -> None:
    config = Config.for_root(root)
    config.paths.make()
    journal = Journal(config.paths.journal)
    now = time.time() - 3600
    batch = 5000
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        ids = journal.files.claim(
            [
                Arrival(f"file-{start + i:06d}.txt", "/nowhere", 0, 100, now + (start + i) * 0.03)
                for i in range(n)
            ]
        )
        outcomes = [
            Outcome(
                id=fid,
                target_state="failed" if fid % 20 == 0 else "done",
                kind="text",
                size=100,
                sha256=f"{fid:064x}",
                meta={"lines": 3},
                error_kind="corrupt" if fid % 20 == 0 else None,
                reason="bad" if fid % 20 == 0 else None,
                started_at=now,
                duration=0.001,
                dest=f"{root}/processed/text/2026-11-22/file-{fid:06d}.txt",
            )
            for fid in ids
        ]
        journal.files.begin_place(outcomes)
        journal.files.finish_place(outcomes)
    journal.close()


async def tick_times(root: Path, rounds: int, naive: bool) -> list[float]:
    from chute.tui.app import ChuteApp
    from chute.tui.source import LocalSource

    engine = Engine(Config.for_root(root, server={"enabled": False}))
    engine.start()
    try:
        app = ChuteApp([LocalSource(engine)], live=False, roots=[str(root)])
        times = []
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.app.workers.wait_for_complete()
            await pilot.press("2")
            await pilot.app.workers.wait_for_complete()
            view = app.view
            files = view.pane("files")
            for _ in range(rounds):
                t0 = time.perf_counter()
                snap = await view.source.snapshot()
                view.pane("overview").show_snapshot(snap)
                if naive:
                    page = await view.source.files(limit=200)
                    files.table.clear()
                    files.table.records.clear()
                    files.table.upsert(page.items)
                else:
                    await files._load(replace=False)
                await pilot.pause(0)
                times.append(time.perf_counter() - t0)
        return times
    finally:
        engine.stop()


async def idle_bytes(url: str, token: str, seconds: float, naive: bool) -> tuple[int, int]:
    from chute.tui.feed import Feed
    from chute.tui.source import RemoteSource

    if naive:
        received = requests = 0
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                for path in ("/api/v1/snapshot", "/api/v1/files?limit=200"):
                    r = await client.get(path)
                    received += len(r.content) + sum(len(k) + len(v) + 4 for k, v in r.headers.items())
                    requests += 1
                await asyncio.sleep(1.0)
        return received, requests
    source = RemoteSource(url, token)
    feed = Feed(source, lambda message: None)
    task = asyncio.create_task(feed.run())
    await asyncio.sleep(2)  # connecting costs once: count only the idle minute after it
    start_bytes, start_requests = source.bytes_received, source.requests_made
    await asyncio.sleep(seconds)
    task.cancel()
    await source.close()
    return source.bytes_received - start_bytes, source.requests_made - start_requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    big = Path(tempfile.mkdtemp(prefix="chute-bench-console-"))
    small = Path(tempfile.mkdtemp(prefix="chute-bench-console-small-"))
    t0 = time.time()
    fill(big, args.rows)
    fill(small, 1000)
    print(f"journals filled ({args.rows:,} and 1,000 rows) in {time.time() - t0:.1f}s")

    big_t = asyncio.run(tick_times(big, args.rounds, naive=False))
    small_t = asyncio.run(tick_times(small, args.rounds, naive=False))
    naive_t = asyncio.run(tick_times(big, args.rounds, naive=True))
    med = statistics.median
    print(f"refresh tick, {args.rows:,} rows: median {med(big_t) * 1e3:.1f} ms (in place by key)")
    print(
        f"refresh tick,   1,000 rows: median {med(small_t) * 1e3:.1f} ms  -> ratio {med(big_t) / med(small_t):.2f}"
    )
    print(
        f"naive tick (clear + rebuild), {args.rows:,} rows: median {med(naive_t) * 1e3:.1f} ms  -> chute/naive "
        f"{med(big_t) / med(naive_t):.2f}"
    )

    engine = Engine(Config.for_root(big, server={"port": 0}))
    server = ServerService(engine)
    engine.add_service(server)
    engine.start()
    try:
        feed_b, feed_n = asyncio.run(idle_bytes(server.url, server.token, args.seconds, naive=False))
        naive_b, naive_n = asyncio.run(idle_bytes(server.url, server.token, args.seconds, naive=True))
    finally:
        engine.stop()
    per_min = 60 / args.seconds
    print(
        f"idle attached console: {feed_b * per_min / 1024:.1f} KiB/min in {feed_n * per_min:.0f} requests/min"
    )
    print(
        f"naive 1 s poller:      {naive_b * per_min / 1024:.1f} KiB/min in {naive_n * per_min:.0f} requests/min"
        f"  -> chute/naive {feed_b / naive_b:.4f}"
    )


if __name__ == "__main__":
    main()
