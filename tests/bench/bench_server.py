"""The HTTP server's probes and scrapes while consoles long-poll, and with idle sockets open.

    python tests/bench/bench_server.py [--seconds 3] [--concurrency 4] [--files 1000]

One engine serves on a loopback port in this process (waitress, 8 threads). For each scenario —
0 consoles (the baseline), 10 and 50 consoles long-polling `/api/v1/events?wait=10`, and 500 idle
TCP connections — a second process holds the consoles or sockets open while a third drives
closed-loop keep-alive load at /health/live, /metrics and /api/v1/snapshot in turn, and reports
p50/p99 latency and requests per second. A file is dropped every half second, for a few seconds
before the load and through it, and the consoles report how long each event took to reach them.
Each scenario runs right after a 0-console baseline of its own, and its figures are printed
beside that baseline's, so that a shared machine's drift lands on both sides of each ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

ENDPOINTS = ("/health/live", "/metrics", "/api/v1/snapshot")
# Each runs right after a 0-console baseline of its own, so that drift on a shared machine lands
# on both sides of the ratio.
SCENARIOS = (("10 consoles", 10, 0), ("50 consoles", 50, 0), ("500 idle sockets", 0, 500))
QUIET = 3.0  # seconds of events before the load starts


# --- the second process: consoles long-polling, or idle sockets ----------------------------------


async def console(url: str, token: str, lags: list[tuple[float, float]], stop: asyncio.Event) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        since = (await c.get("/api/v1/snapshot")).json()["last_event_id"]
        while not stop.is_set():
            body = (await c.get("/api/v1/events", params={"since": since, "wait": 10})).json()
            received = time.time()
            lags.extend((received, received - e["ts"]) for e in body["events"])
            since = body["last"]


def hold(url: str, token: str, consoles: int, idle: int, ready, done, out) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sockets = [socket.create_connection((host, int(port))) for _ in range(idle)]
    lags: list[tuple[float, float]] = []

    async def main() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(console(url, token, lags, stop)) for _ in range(consoles)]
        ready.set()
        await asyncio.to_thread(done.wait)
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    for s in sockets:
        s.close()
    out.put(lags)


# --- the third process: closed-loop load -----------------------------------------------------------


async def hammer(host: str, port: int, request: bytes, deadline: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            latencies.append(time.perf_counter() - t0)
    finally:
        writer.close()


def load(url: str, token: str, seconds: float, concurrency: int, out) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    results = {}
    for path in ENDPOINTS:
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        latencies: list[float] = []

        async def run(request: bytes = request, latencies: list[float] = latencies) -> None:
            deadline = time.perf_counter() + seconds
            await asyncio.gather(
                *(hammer(host, int(port), request, deadline, latencies) for _ in range(concurrency))
            )

        t0 = time.perf_counter()
        asyncio.run(run())
        elapsed = time.perf_counter() - t0
        latencies.sort()
        results[path] = {
            "p50": latencies[len(latencies) // 2],
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "rps": len(latencies) / elapsed,
            "n": len(latencies),
        }
    out.put(results)


# --- this process: the engine, the scenarios, the table ----------------------------------------------


def scenario(engine, server, consoles: int, idle: int, seconds: float, concurrency: int) -> tuple[dict, list]:
    ctx = mp.get_context("spawn")
    ready, done, held, loaded = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
    holder = ctx.Process(target=hold, args=(server.url, server.token, consoles, idle, ready, done, held))
    holder.start()
    ready.wait(60)
    deadline = time.monotonic() + 60
    while server.parked_polls < consoles and time.monotonic() < deadline:
        time.sleep(0.05)
    stop = threading.Event()

    def news() -> None:  # events for the consoles to hear of, twice a second
        n = 0
        while not stop.wait(0.5):
            n += 1
            (engine.config.paths.inbox / f"news-{consoles}-{idle}-{n}.txt").write_text("news\n")

    dropper = threading.Thread(target=news)
    dropper.start()
    time.sleep(QUIET)  # events reach consoles with no other load first
    loaded_at = time.time()
    loader = ctx.Process(target=load, args=(server.url, server.token, seconds, concurrency, loaded))
    loader.start()
    results = loaded.get(timeout=seconds * len(ENDPOINTS) + 120)
    loader.join()
    stop.set()
    dropper.join()
    time.sleep(1.0)  # the last events reach the consoles
    done.set()
    lags = held.get(timeout=60)
    holder.join()
    quiet = sorted(lag for at, lag in lags if at < loaded_at)
    busy = sorted(lag for at, lag in lags if at >= loaded_at)
    return results, (quiet, busy)


def prefill(engine, files: int) -> None:
    """Fill the journal first: the snapshot reads the last 1,000 files' timings, so a fresh journal
    would make the baseline cheaper than the scenarios after it, not the consoles."""
    for i in range(files):
        (engine.config.paths.inbox / f"before-{i:05d}.txt").write_text("before\n")
    deadline = time.monotonic() + 300
    while engine.snapshot().counts.get("done", 0) < files and time.monotonic() < deadline:
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load per endpoint per scenario")
    parser.add_argument("--concurrency", type=int, default=4, help="connections driving load")
    parser.add_argument(
        "--files", type=int, default=1000, help="files placed before the baseline (the snapshot's window)"
    )
    args = parser.parse_args()

    from chute.engine import Config, Engine
    from chute.engine.server import ServerService

    with tempfile.TemporaryDirectory() as tmp:
        config = Config.for_root(Path(tmp) / "root", server={"port": 0}, watcher={"min_age": 0.1})
        engine = Engine(config)
        server = ServerService(engine)
        engine.add_service(server)
        engine.start()
        try:
            prefill(engine, args.files)
            print(
                f"server: waitress, {server.threads} threads, connection limit {server.connection_limit}; "
                f"load: {args.concurrency} keep-alive connections, {args.seconds:g} s per endpoint; "
                f"{args.files} files in the journal first\n"
            )
            rows = []
            for name, consoles, idle in SCENARIOS:
                base = scenario(engine, server, 0, 0, args.seconds, args.concurrency)[0]
                rows.append(
                    (name, base, *scenario(engine, server, consoles, idle, args.seconds, args.concurrency))
                )
        finally:
            engine.stop()

    print(
        f"{'scenario':<18} {'endpoint':<18} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}   vs its 0-console baseline"
    )
    for name, base, results, _ in rows:
        for label, figures in (("0 consoles", base), (name, results)):
            for path in ENDPOINTS:
                r, b = figures[path], base[path]
                ratio = (
                    f"p50 x{r['p50'] / b['p50']:.2f}  p99 x{r['p99'] / b['p99']:.2f}  req/s x{r['rps'] / b['rps']:.2f}"
                    if figures is results
                    else ""
                )
                print(
                    f"{label:<18} {path:<18} {r['p50'] * 1000:>8.2f} {r['p99'] * 1000:>8.2f} {r['rps']:>8.0f}   {ratio}"
                )
    print("\nevent to console (a file dropped every 0.5 s), before the load and under it:")
    for name, _, _, phases in rows:
        for phase, lags in zip(("no load", "under load"), phases, strict=True):
            if lags:
                print(
                    f"  {name:<12} {phase:<11} {len(lags):>5} deliveries  p50 {statistics.median(lags) * 1000:>5.0f} ms"
                    f"  p99 {lags[int(len(lags) * 0.99)] * 1000:>5.0f} ms  max {lags[-1] * 1000:>5.0f} ms"
                )


if __name__ == "__main__":
    main()
