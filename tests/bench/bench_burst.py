"""50,000 files dropped by another process as fast as it can write them.

    python tests/bench/bench_burst.py [--files 50000]

inotify's queue (fs.inotify.max_queued_events, usually 16384) overflows at this rate; the
overflow-triggered and periodic scans must find everything it dropped. Prints how many were
placed, how many overflows were seen, and the time, beside the writer's own time.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WRITER = r"""
import os, sys
inbox, n = sys.argv[1], int(sys.argv[2])
payload = b"burst payload line\n" * 2
for i in range(n):
    fd = os.open(os.path.join(inbox, f"b{i:06d}.txt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, payload)
    os.close(fd)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument(
        "--queue-limit",
        type=int,
        help="set fs.inotify.max_queued_events this low while the engine starts (root only; restored "
        "after), to force overflows on a machine whose reader keeps up",
    )
    args = parser.parse_args()
    from chute.engine import Config, Engine

    knob = Path("/proc/sys/fs/inotify/max_queued_events")
    try:
        original = knob.read_text().strip()
    except OSError:
        original = None
    root = Path(tempfile.mkdtemp(prefix="chute-burst-"))
    config = Config.for_root(root, server={"enabled": False})
    engine = Engine(config)
    if args.queue_limit and original:
        knob.write_text(str(args.queue_limit))  # read by the kernel when the inotify fd is made
    try:
        engine.start()
    finally:
        if args.queue_limit and original:
            knob.write_text(original)
    limit = args.queue_limit or original
    try:
        t0 = time.time()
        subprocess.run([sys.executable, "-c", WRITER, str(config.paths.inbox), str(args.files)], check=True)
        writer_s = time.time() - t0
        db = sqlite3.connect(config.paths.journal)
        deadline = time.time() + 600
        placed = 0
        while time.time() < deadline:
            (placed,) = db.execute("SELECT count(*) FROM files WHERE state='done'").fetchone()
            if placed >= args.files:
                break
            time.sleep(0.1)
        total_s = time.time() - t0
        (rows,) = db.execute("SELECT count(*) FROM files").fetchone()
        (distinct,) = db.execute("SELECT count(DISTINCT name) FROM files").fetchone()
        left = len(list(config.paths.inbox.iterdir()))
    finally:
        engine.stop()
    print(f"inotify max_queued_events: {limit}")
    print(f"writer: {args.files} files in {writer_s:.1f}s ({args.files / writer_s:.0f} files/s)")
    print(
        f"chute: {placed}/{args.files} placed in {total_s:.1f}s ({placed / total_s:.0f} files/s end to end)"
    )
    print(
        f"journal rows {rows}, distinct names {distinct}, left in inbox {left}, "
        f"inotify overflows seen {engine.watcher.overflows}"
    )
    print(
        "OK: none lost, none doubled"
        if placed == rows == distinct == args.files and left == 0
        else "MISMATCH"
    )


if __name__ == "__main__":
    main()
