"""Ingest benchmark: small text files written into the inbox by another process.

    python tests/bench/bench_ingest.py [--burst 5000] [--rate 50] [--seconds 20] [--alerts-dead]

Prints, beside a baseline measured in the same run (a bare watchdog handler that only renames
each closed file out of the watched folder):
- burst: files/s end to end (first write to last file placed) and the ratio to the baseline;
- steady rate: p50/p99 from close-after-write (stamped by the writer) to placed.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

WRITER = r"""
import json, os, sys, time
inbox, n, rate, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
bad_every = int(sys.argv[5]) if len(sys.argv) > 5 else 0
closes = {}
payload = b"the quick brown fox jumps over the lazy dog\n" * 3
start = time.monotonic()
for i in range(n):
    if rate:
        due = start + i / rate
        while (left := due - time.monotonic()) > 0:
            time.sleep(left)
    name = f"f{i:06d}.txt"
    fd = os.open(os.path.join(inbox, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    if not (bad_every and i % bad_every == 0):
        os.write(fd, payload)  # every bad_every-th file is left empty: it fails, and alerts fire
    os.close(fd)
    closes[name] = time.time()
with open(out, "w") as f:
    json.dump(closes, f)
"""


def write_files(inbox: Path, n: int, rate: float, bad_every: int = 0) -> tuple[float, dict[str, float]]:
    out = inbox.parent / "closes.json"
    t0 = time.time()
    subprocess.run(
        [sys.executable, "-c", WRITER, str(inbox), str(n), str(rate), str(out), str(bad_every)], check=True
    )
    return t0, json.loads(out.read_text())


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# --- baseline: a bare watchdog handler that renames each closed file ----------------------------


def run_baseline(n: int, rate: float) -> dict:
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    root = Path(tempfile.mkdtemp(prefix="chute-bench-base-"))
    inbox, out = root / "inbox", root / "out"
    inbox.mkdir()
    out.mkdir()
    placed: dict[str, float] = {}
    done = threading.Event()

    class Mover(FileSystemEventHandler):
        def on_closed(self, event):
            name = os.path.basename(event.src_path)
            os.rename(event.src_path, out / name)
            placed[name] = time.time()
            if len(placed) >= n:
                done.set()

    observer = Observer()
    observer.schedule(Mover(), str(inbox))
    observer.start()
    try:
        t0, closes = write_files(inbox, n, rate)
        done.wait(120)
    finally:
        observer.stop()
        observer.join()
    return summarize(t0, closes, placed)


# --- chute -------------------------------------------------------------------------------------


WORKERS = 1


def run_engine(n: int, rate: float, alerts: str = "off", bad_every: int = 0) -> dict:
    """alerts: "off", or "dead" (Discord and SMTP pointed at a server that accepts and never answers)."""
    from chute.engine import Config, Engine

    root = Path(tempfile.mkdtemp(prefix="chute-bench-engine-"))
    sections = {"server": {"enabled": False}, "pipeline": {"workers": WORKERS}}
    hole = None
    if alerts == "dead":
        hole = Blackhole()
        os.environ["CHUTE_DISCORD_WEBHOOK"] = f"http://127.0.0.1:{hole.port}/api/webhooks/1/bench"
        sections["discord"] = {"enabled": True, "group_wait": 0.0, "group_interval": 0.0, "timeout": 30.0}
        sections["email"] = {
            "enabled": True,
            "host": "127.0.0.1",
            "port": hole.port,
            "to": ["ops@example.com"],
            "timeout": 30.0,
        }
    config = Config.for_root(root, **sections)
    engine = Engine(config)
    engine.start()
    try:
        if alerts == "dead":
            engine.run_job("report")  # an email stuck on the dead server from the start
        t0, closes = write_files(config.paths.inbox, n, rate, bad_every)
        db = sqlite3.connect(config.paths.journal)
        deadline = time.time() + 180
        while time.time() < deadline:
            (count,) = db.execute("SELECT count(*) FROM files WHERE state IN ('done','failed')").fetchone()
            if count >= n:
                break
            time.sleep(0.025)
        placed = dict(db.execute("SELECT name, finished_at FROM files WHERE finished_at IS NOT NULL"))
        db.close()
    finally:
        engine.stop()
        os.environ.pop("CHUTE_DISCORD_WEBHOOK", None)
        if hole:
            hole.close()
    return summarize(t0, closes, placed)


class Blackhole:
    """Accepts connections and never answers: a hung Discord and a hung SMTP server."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def summarize(t0: float, closes: dict[str, float], placed: dict[str, float]) -> dict:
    latencies = [placed[k] - closes[k] for k in closes if k in placed]
    end = max(placed.values()) if placed else time.time()
    return {
        "files": len(closes),
        "placed": sum(1 for k in closes if k in placed),
        "seconds": end - t0,
        "rate": len(latencies) / (end - t0) if latencies else 0.0,
        "p50_ms": 1000 * quantile(latencies, 0.50) if latencies else None,
        "p99_ms": 1000 * quantile(latencies, 0.99) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--alerts-dead",
        action="store_true",
        help="instead: the burst (5%% failing) with alerts off vs alerts at a server that never answers",
    )
    parser.add_argument("--workers", type=int, default=1, help="pipeline.workers for the engine")
    args = parser.parse_args()
    global WORKERS
    WORKERS = args.workers

    if args.alerts_dead:
        alerts_dead(args)
        return
    print(f"burst of {args.burst} files, {args.rounds} alternating rounds")
    base_rates, chute_rates = [], []
    for r in range(args.rounds):
        b = run_baseline(args.burst, 0)
        c = run_engine(args.burst, 0)
        base_rates.append(b["rate"])
        chute_rates.append(c["rate"])
        print(
            f"  round {r + 1}: baseline {b['rate']:7.0f} files/s ({b['placed']}/{b['files']})   "
            f"chute {c['rate']:7.0f} files/s ({c['placed']}/{c['files']})   ratio {c['rate'] / b['rate']:.2f}"
        )
    print(
        f"burst: chute {statistics.median(chute_rates):.0f} files/s, baseline {statistics.median(base_rates):.0f} "
        f"files/s, ratio {statistics.median(chute_rates) / statistics.median(base_rates):.2f}"
    )

    n = int(args.rate * args.seconds)
    print(f"steady {args.rate:g} files/s for {args.seconds:g}s ({n} files)")
    b = run_baseline(n, args.rate)
    c = run_engine(n, args.rate)
    print(f"  baseline close->placed p50 {b['p50_ms']:.1f} ms  p99 {b['p99_ms']:.1f} ms")
    print(
        f"  chute    close->placed p50 {c['p50_ms']:.1f} ms  p99 {c['p99_ms']:.1f} ms  ({c['placed']}/{c['files']})"
    )


def alerts_dead(args) -> None:
    print(
        f"burst of {args.burst} files (every 20th empty, so it fails and raises alerts), "
        f"{args.rounds} alternating rounds"
    )
    off, dead = [], []
    for r in range(args.rounds):
        a = run_engine(args.burst, 0, "off", bad_every=20)
        b = run_engine(args.burst, 0, "dead", bad_every=20)
        off.append(a["rate"])
        dead.append(b["rate"])
        print(
            f"  round {r + 1}: alerts off {a['rate']:7.0f} files/s   alerts to a dead server {b['rate']:7.0f} "
            f"files/s ({b['placed']}/{b['files']})   ratio {b['rate'] / a['rate']:.2f}"
        )
    print(f"alerts dead / alerts off: {statistics.median(dead) / statistics.median(off):.2f}")


if __name__ == "__main__":
    main()
