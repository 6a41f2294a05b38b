"""The monitor's per-request cost: a trivial two-route Flask app through the test client, in one
process, rounds rotating which app goes first:

    plain       Flask alone
    prometheus  prometheus_flask_exporter (pip install prometheus-flask-exporter)
    monitor     Monitor(app): the drop-in routes, alerts off
    alerts      Monitor(app) with alerts, Discord, email and the weekly report on (checks every
                second, as busy as they get), its threads running

    python tests/bench/bench_monitor.py [--requests 4000] [--rounds 20]

Times are CPU seconds of the whole process, so the alert threads' work counts against "alerts".
Also: memory after 1,000,000 recorded requests, and the cost of a stats read after 10 requests
versus after 1,000,000.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the local Discord


def make_app(kind: str, instance: str) -> Flask:
    app = Flask(f"bench-{kind}", instance_path=instance)

    @app.get("/hello")
    def hello():
        return "hello"

    @app.get("/items/<int:item>")
    def item(item: int):
        return {"item": item}

    if kind == "prometheus":
        from prometheus_client import CollectorRegistry
        from prometheus_flask_exporter import PrometheusMetrics

        PrometheusMetrics(app, registry=CollectorRegistry())
    elif kind == "monitor":
        from chute.engine.monitor import Monitor

        Monitor(app)
    elif kind == "alerts":
        from chute.engine.monitor import Monitor

        monitor = Monitor(
            app,
            alerts=True,
            discord={"group_wait": 1.0},
            email={"host": "127.0.0.1", "port": 2525, "security": "none", "to": ["ops@example.com"]},
            report="monday 09:00",
            rules={"check_every": 1.0},
        )
        monitor.start()
    return app


def drive(app: Flask, n: int) -> float:
    """CPU seconds this process spent on n requests (other load on a shared machine does not count)."""
    client = app.test_client()
    paths = ["/hello", "/items/7"]
    t0 = time.process_time()
    for i in range(n):
        client.get(paths[i & 1])
    return time.process_time() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000, help="per app per round")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    from servers import FakeDiscord

    discord = FakeDiscord()
    os.environ["CHUTE_DISCORD_WEBHOOK"] = discord.url
    kinds = ["plain", "prometheus", "monitor", "alerts"]
    with tempfile.TemporaryDirectory() as instance:
        apps = {k: make_app(k, instance) for k in kinds}
        for app in apps.values():
            drive(app, 2000)
        times: dict[str, list[float]] = {k: [] for k in kinds}
        ratios: dict[str, list[float]] = {k: [] for k in kinds}
        for r in range(args.rounds):
            # Rotate which goes first, and start each from a collected heap, so none pays for
            # another's garbage or always runs on a warmer cache.
            order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
            this = {}
            for k in order:
                gc.collect()
                this[k] = drive(apps[k], args.requests)
            for k in kinds:
                times[k].append(this[k])
                ratios[k].append(this[k] / this["plain"])
        apps["alerts"].extensions["chute_monitor"].stop()
    discord.close()
    per = 1e6 / args.requests
    print(f"{args.rounds} rotating rounds of {args.requests} requests per app (CPU time of the process):")
    for k in kinds:
        print(
            f"  {k:<10} median {statistics.median(times[k]) * per:6.1f} us/request   "
            f"x{statistics.median(ratios[k]):.3f} of plain (median of per-round ratios)"
        )
    alerts_vs_off = [a / m for a, m in zip(times["alerts"], times["monitor"], strict=True)]
    print(f"  alerts on / off: x{statistics.median(alerts_vs_off):.3f} (median of per-round ratios)")

    from chute.engine.monitor import Collector

    c = Collector()
    for i in range(10):
        c.record("GET", "/hello", "/hello", 200, 0.001 * (i + 1))
        c.record("GET", "/items/1", "/items/<int:item>", 500, 0.002 * (i + 1))
    t_small = min(timeit(c.endpoints) for _ in range(5))
    reads = []
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    mem = []
    for i in range(1_000_000):
        c.record(
            "GET",
            f"/items/{i}",
            "/items/<int:item>" if i % 3 else "/hello",
            200 if i % 50 else 500,
            0.0005 + (i % 997) * 1e-5,
        )
        if i in (99_999, 999_999):
            gc.collect()
            mem.append(tracemalloc.get_traced_memory()[0] - base)
            reads.append(min(timeit(c.endpoints) for _ in range(5)))
    tracemalloc.stop()
    print(f"memory after 100,000 requests: {mem[0] / 1024:.0f} KiB; after 1,000,000: {mem[1] / 1024:.0f} KiB")
    print(
        f"endpoints() read: after 20 requests {t_small * 1e3:.2f} ms, after 100,000 {reads[0] * 1e3:.2f} ms, "
        f"after 1,000,000 {reads[1] * 1e3:.2f} ms (bounded by routes x minutes x buckets, not by requests)"
    )


def timeit(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
