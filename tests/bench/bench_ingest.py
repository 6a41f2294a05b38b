"""Ingest benchmark: small text files written into the inbox by another process.

    python tests/bench/bench_ingest.py [--burst 5000] [--rounds 3] [--rate 50] [--seconds 20]
    python tests/bench/bench_ingest.py --backlog 10000 [--rounds 3]
    python tests/bench/bench_ingest.py --kind csv --burst 2000   # CSVs: processing in the children
    python tests/bench/bench_ingest.py --alerts-dead

Prints, beside a baseline measured in the same run (a bare watchdog handler that only renames
each closed file out of the watched folder):
- burst: CPU per file (this process, user + system, all threads: the engine, or the baseline's
  observer; plus the engine's live processor children; the writer is another process and not counted), their ratio, and files/s end to end
  (first write to last file placed), over alternating rounds;
- steady rate: p50/p99 from close-after-write (stamped by the writer) to placed;
- --backlog N: N files already in the inbox when the engine starts, drained beside a plain
  rename loop of the same files; "cores" is CPU time over wall time (2.0 = both cores busy).

The machine's file-creation speed swings widely from minute to minute: CPU per file is the steady
figure, files/s mostly follows the writer.
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
inbox, n, rate, out, bad_every, kind = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6]
closes = {}
payload = {
    "txt": b"the quick brown fox jumps over the lazy dog\n" * 3,
    "csv": b"id,name,amount,when\n" + b"".join(b"%d,item %d,%d.50,2026-11-%02d\n" % (i, i, i * 7, 1 + i % 28) for i in range(40)),
    "json": b'{"id": 7, "name": "the quick brown fox", "tags": ["a", "b"], "amount": 12.5}',
}[kind]
start = time.monotonic()
for i in range(n):
    if rate:
        due = start + i / rate
        while (left := due - time.monotonic()) > 0:
            time.sleep(left)
    name = f"f{i:06d}.{kind}"
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
        [sys.executable, "-c", WRITER, str(inbox), str(n), str(rate), str(out), str(bad_every), KIND],
        check=True,
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
        cpu0 = time.process_time()
        t0, closes = write_files(inbox, n, rate)
        done.wait(120)
        cpu = time.process_time() - cpu0
    finally:
        observer.stop()
        observer.join()
    return summarize(t0, closes, placed, cpu)


# --- chute -------------------------------------------------------------------------------------


WORKERS = 1
KIND = "txt"  # what the writer writes: txt, csv or json (--kind)
EXTRA: dict = {}  # more config sections for the engine (--set section.key=value)


def run_engine(
    n: int, rate: float, alerts: str = "off", bad_every: int = 0, extra: dict | None = None
) -> dict:
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
    sections["schedule"] = {"report": ""}  # the dead run starts its report itself, below
    config = Config.for_root(root, **merged(sections, extra))
    engine = Engine(config)
    engine.start()
    try:
        if alerts == "dead":
            engine.run_job("report")  # an email stuck on the dead server from the start
        cpu0, threads0, kids0 = time.process_time(), thread_cpu(), children_cpu()
        t0, closes = write_files(config.paths.inbox, n, rate, bad_every)
        placed = wait_placed(config.paths.journal, n)
        kids = children_since(kids0)
        cpu = time.process_time() - cpu0 + kids
        split = thread_split(threads0, thread_cpu(), kids)
    finally:
        engine.stop()
        os.environ.pop("CHUTE_DISCORD_WEBHOOK", None)
        if hole:
            hole.close()
    return {**summarize(t0, closes, placed, cpu), "split": split}


# Threads by role, for where the engine's CPU goes: one core's worth in `worker` alone means the
# second core idles.
ROLES = (
    ("chute-worker", "worker"),
    ("chute-isolated", "slow lane"),
    ("MainThread", "start+main"),
)


def thread_cpu() -> dict[int, tuple[str, float]]:
    """native thread id -> (name, user+system seconds so far), from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for t in threading.enumerate():
        try:
            with open(f"/proc/self/task/{t.native_id}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        out[t.native_id] = (t.name, (int(fields[11]) + int(fields[12])) / tick)
    return out


def children_cpu() -> dict[int, float]:
    """pid -> user+system seconds of this process's live children (the engine's processor
    children run files in parallel: their CPU is the engine's too). The writer, a child as
    well, has exited by the time this is read at the end, and is not counted."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[1] == me:
            out[int(pid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def children_since(before: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in children_cpu().items())


def thread_split(before: dict, after: dict, children: float = 0.0) -> str:
    """Each role's share of the CPU the threads (and processor children) used between two
    thread_cpu() calls."""
    used: dict[str, float] = {"processor children": children}
    for tid, (name, seconds) in after.items():
        role = next((r for prefix, r in ROLES if name.startswith(prefix)), "watcher+other")
        used[role] = used.get(role, 0.0) + seconds - before.get(tid, (name, 0.0))[1]
    total = sum(used.values()) or 1.0
    return " ".join(f"{role} {100 * v / total:.0f}%" for role, v in sorted(used.items(), key=lambda x: -x[1]))


def merged(sections: dict, extra: dict | None) -> dict:
    out = {k: dict(v) for k, v in sections.items()}
    for section, values in (extra or {}).items():
        out.setdefault(section, {}).update(values)
    return out


def wait_placed(journal: Path, n: int) -> dict[str, float]:
    """name -> finished_at once n files are final. Polled every 0.1 s: a few µs per file of the
    CPU counted, against the hundreds measured."""
    db = sqlite3.connect(journal)
    deadline = time.time() + 300
    while time.time() < deadline:
        (count,) = db.execute(
            "SELECT count(*) FROM files WHERE state IN ('done','failed','duplicate')"
        ).fetchone()
        if count >= n:
            break
        time.sleep(0.1)
    placed = dict(db.execute("SELECT name, finished_at FROM files WHERE finished_at IS NOT NULL"))
    db.close()
    return placed


# --- backlog: files already in the inbox at start ------------------------------------------------


def fill(inbox: Path, n: int) -> dict[str, float]:
    inbox.mkdir(parents=True, exist_ok=True)
    return write_files(inbox, n, 0)[1]


def run_rename_loop(n: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="chute-bench-loop-"))
    inbox, out = root / "inbox", root / "out"
    out.mkdir()
    closes = fill(inbox, n)
    cpu0, t0 = time.process_time(), time.time()
    for entry in os.scandir(inbox):
        os.rename(entry.path, os.path.join(out, entry.name))
    end = time.time()
    return backlog_figures(n, len(closes), time.process_time() - cpu0, end - t0)


def run_engine_backlog(n: int, extra: dict | None = None) -> dict:
    from chute.engine import Config, Engine

    root = Path(tempfile.mkdtemp(prefix="chute-bench-backlog-"))
    config = Config.for_root(
        root, **merged({"server": {"enabled": False}, "pipeline": {"workers": WORKERS}}, extra)
    )
    fill(config.paths.inbox, n)
    threads0, kids0 = thread_cpu(), children_cpu()
    cpu0, t0 = time.process_time(), time.time()
    engine = Engine(config)
    engine.start()
    try:
        placed = wait_placed(config.paths.journal, n)
        kids = children_since(kids0)
        cpu = time.process_time() - cpu0 + kids
        split = thread_split(threads0, thread_cpu(), kids)
    finally:
        engine.stop()
    end = max(placed.values()) if placed else time.time()
    # From the first file placed: what was present at start waits watcher.min_age first (it has no
    # close event to say it is complete).
    first = min(placed.values()) if placed else end
    drain = len(placed) / (end - first) if end > first else 0.0
    return {**backlog_figures(n, len(placed), cpu, end - t0), "split": split, "drain": drain}


def backlog_figures(n: int, placed: int, cpu: float, wall: float) -> dict:
    return {
        "files": n,
        "placed": placed,
        "rate": placed / wall if wall > 0 else 0.0,
        "cpu_us": 1e6 * cpu / max(1, placed),
        "cores": cpu / wall if wall > 0 else 0.0,
    }


def paired_ratio(chute: list[float], base: list[float]) -> float:
    """The median of each round's ratio: a round pairs two runs made back to back, the steadier
    figure on a machine whose speed drifts from minute to minute."""
    return statistics.median(c / b for c, b in zip(chute, base, strict=True))


def backlog(args) -> None:
    print(f"backlog of {args.backlog} files present at start, {args.rounds} alternating rounds")
    loop_cpu, chute_cpu, loop_rate, chute_rate = [], [], [], []
    for r in range(args.rounds):
        b = run_rename_loop(args.backlog)
        c = run_engine_backlog(args.backlog, EXTRA)
        loop_cpu.append(b["cpu_us"])
        chute_cpu.append(c["cpu_us"])
        loop_rate.append(b["rate"])
        chute_rate.append(c["rate"])
        print(
            f"  round {r + 1}: rename loop {b['cpu_us']:6.1f} µs/file {b['rate']:8.0f} files/s   "
            f"chute {c['cpu_us']:6.1f} µs/file {c['rate']:7.0f} files/s (drain {c['drain']:.0f}/s) "
            f"cores {c['cores']:.2f} "
            f"({c['placed']}/{c['files']})   CPU ratio {c['cpu_us'] / b['cpu_us']:.1f}\n"
            f"           chute CPU by thread: {c['split']}"
        )
    print(
        f"backlog: chute {statistics.median(chute_cpu):.0f} µs/file {statistics.median(chute_rate):.0f} files/s, "
        f"rename loop {statistics.median(loop_cpu):.0f} µs/file {statistics.median(loop_rate):.0f} files/s, "
        f"CPU ratio {paired_ratio(chute_cpu, loop_cpu):.1f} (median of the rounds' ratios)"
    )


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


def summarize(t0: float, closes: dict[str, float], placed: dict[str, float], cpu: float) -> dict:
    latencies = [placed[k] - closes[k] for k in closes if k in placed]
    end = max(placed.values()) if placed else time.time()
    done = sum(1 for k in closes if k in placed)
    return {
        "cpu_us": 1e6 * cpu / max(1, done),
        "cores": cpu / (end - t0) if end > t0 else 0.0,
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
    parser.add_argument(
        "--kind",
        choices=("txt", "csv", "json"),
        default="txt",
        help="what the files hold (default small text)",
    )
    parser.add_argument("--backlog", type=int, help="instead: N files present at start, beside a rename loop")
    parser.add_argument("--no-steady", action="store_true", help="skip the steady-rate latency part")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=JSON",
        help="engine config, e.g. pipeline.x=1",
    )
    args = parser.parse_args()
    global WORKERS, KIND
    WORKERS, KIND = args.workers, args.kind
    for item in args.set:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        EXTRA.setdefault(section, {})[name] = json.loads(value)

    if args.alerts_dead:
        alerts_dead(args)
        return
    if args.backlog:
        backlog(args)
        return
    print(f"burst of {args.burst} files, {args.rounds} alternating rounds")
    base_rates, chute_rates, base_cpu, chute_cpu = [], [], [], []
    for r in range(args.rounds):
        b = run_baseline(args.burst, 0)
        c = run_engine(args.burst, 0, extra=EXTRA)
        base_rates.append(b["rate"])
        chute_rates.append(c["rate"])
        base_cpu.append(b["cpu_us"])
        chute_cpu.append(c["cpu_us"])
        print(
            f"  round {r + 1}: baseline {b['cpu_us']:5.0f} µs/file {b['rate']:6.0f} files/s ({b['placed']}/{b['files']})"
            f"   chute {c['cpu_us']:5.0f} µs/file {c['rate']:6.0f} files/s cores {c['cores']:.2f} "
            f"({c['placed']}/{c['files']})   CPU ratio {c['cpu_us'] / b['cpu_us']:.2f}\n"
            f"           chute CPU by thread: {c['split']}"
        )
    paired = paired_ratio(chute_cpu, base_cpu)
    print(
        f"burst: CPU per file chute {statistics.median(chute_cpu):.0f} µs, baseline "
        f"{statistics.median(base_cpu):.0f} µs, ratio {paired:.2f} (median of the rounds' ratios); "
        f"files/s chute {statistics.median(chute_rates):.0f}, baseline {statistics.median(base_rates):.0f}, "
        f"ratio {statistics.median(chute_rates) / statistics.median(base_rates):.2f}"
    )
    if args.no_steady:
        return

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
