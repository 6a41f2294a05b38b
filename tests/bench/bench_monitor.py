"""The monitor's cost: a trivial two-route Flask app through the test client, monitored and not,
in one process, alternating rounds.

    python tests/bench/bench_monitor.py [--requests 20000] [--rounds 7]

Also: memory after 1,000,000 recorded requests, and the cost of a stats read after 10 requests
versus after 1,000,000.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

from flask import Flask


def make_app(monitored: bool) -> Flask:
    app = Flask(f"bench-{monitored}")

    @app.get("/hello")
    def hello():
        return "hello"

    @app.get("/items/<int:item>")
    def item(item: int):
        return {"item": item}

    if monitored:
        from chute.engine.monitor import Monitor

        Monitor(app, add_routes=False)
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
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    plain, monitored = make_app(False), make_app(True)
    drive(plain, 2000)
    drive(monitored, 2000)
    ratios: list[float] = []
    plain_t: list[float] = []
    mon_t: list[float] = []
    for r in range(args.rounds):
        # Alternate which goes first (ABBA) and start each from a collected heap, so neither
        # pays for the other's garbage.
        order = [(plain, "a"), (monitored, "b")] if r % 2 == 0 else [(monitored, "b"), (plain, "a")]
        times = {}
        for app, key in order:
            gc.collect()
            times[key] = drive(app, args.requests)
        a, b = times["a"], times["b"]
        ratios.append(b / a)
        plain_t.append(a)
        mon_t.append(b)
    per = 1e6 / args.requests
    print(f"{args.rounds} alternating rounds of {args.requests} requests per app (CPU time):")
    print(f"  plain     median {statistics.median(plain_t) * per:6.1f} us/request")
    print(f"  monitored median {statistics.median(mon_t) * per:6.1f} us/request")
    print(
        f"  ratio monitored/plain: median {statistics.median(ratios):.3f}, "
        f"ratio of medians {statistics.median(mon_t) / statistics.median(plain_t):.3f}"
    )

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
