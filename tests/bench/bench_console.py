"""Console costs with 100,000 files in the journal.

    python tests/bench/bench_console.py [--rows 100000] [--seconds 60]

1. One refresh tick of the embedded console (snapshot + first page of files, applied to the
   tables in place by key), beside the same tick on a 1,000-row journal and beside a naive tick
   that clears and rebuilds the table.
2. Bytes an idle attached console (RemoteSource against the real server) pulls per minute with
   its event long-polls, beside a naive console that re-fetches snapshot and first page every second.
3. Idle CPU of a real console process on a pseudo-terminal (80x24), nothing happening: `chute -c`
   (embedded engine) beside `chute engine -c` alone on the same root, and `chute attach URL`
   beside an idle Python process (the floor of the measurement), in % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
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
                view.snapshot = await view.source.snapshot()  # bound down to the panes
                if naive:
                    page = await view.source.files(limit=200)
                    files.table.clear_rows()
                    files.table.upsert(page.items)
                else:
                    await files._page(replace=False)
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(argv: list[str], seconds: float, warmup: float = 8.0, env: dict | None = None) -> float:
    """% of one core a process uses on an 80x24 pseudo-terminal over `seconds`, after `warmup`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        start_new_session=True,
    )
    os.close(slave)
    drained = threading.Thread(target=_drain, args=(master,), daemon=True)
    drained.start()
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[:3]} exited with {proc.returncode}")
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        return 100 * (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass


def configured_root(root: Path, port: int) -> Path:
    """A chute.toml for `root` serving its API on `port`."""
    subprocess.run(
        [sys.executable, "-m", "chute.tui.cli", "init", str(root)], check=True, capture_output=True
    )
    path = root / "chute.toml"
    text, n = re.subn(r"(?m)^#? ?port = 8765$", f"port = {port}", path.read_text())
    if n != 1:
        raise RuntimeError(f"{path}: no `port = 8765` line to set the port in")
    path.write_text(text)
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def idle_cpu_figures(seconds: float) -> None:
    chute = [sys.executable, "-m", "chute.tui.cli"]
    base = Path(tempfile.mkdtemp(prefix="chute-bench-idle-"))
    floor = idle_cpu([sys.executable, "-c", "import time; time.sleep(3600)"], seconds, warmup=1.0)
    embedded_cfg = configured_root(base / "embedded", free_port())
    engine_alone = idle_cpu([*chute, "engine", "-c", str(embedded_cfg)], seconds)
    embedded = idle_cpu([*chute, "-c", str(embedded_cfg)], seconds)
    print(f"idle CPU, embedded console (chute -c): {embedded:.2f}% of a core")
    print(
        f"idle CPU, engine alone (chute engine -c, same root): {engine_alone:.2f}%  -> console's own share "
        f"{embedded - engine_alone:.2f}%"
    )
    port = free_port()
    served_cfg = configured_root(base / "served", port)
    token = "bench-console-token"
    server = subprocess.Popen(
        [*chute, "engine", "-c", str(served_cfg)],
        env={**os.environ, "CHUTE_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        attached = idle_cpu(
            [*chute, "attach", f"http://127.0.0.1:{port}"], seconds, env={"CHUTE_TOKEN": token}
        )
    finally:
        server.terminate()
        server.wait(15)
    print(f"idle CPU, attached console (chute attach URL): {attached:.2f}% of a core")
    print(f"idle CPU, a sleeping Python process (floor):   {floor:.2f}%")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--only-idle", action="store_true", help="measure idle CPU only")
    parser.add_argument("--no-idle", action="store_true", help="skip the idle CPU figures")
    args = parser.parse_args()
    if not args.no_idle:
        idle_cpu_figures(args.idle_seconds)
    if args.only_idle:
        return
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
