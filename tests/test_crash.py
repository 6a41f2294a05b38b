"""kill -9 the engine in the middle of a burst, again and again, then restart it: every input
ends in exactly one place, its journal row agrees, nothing is duplicated or half-written."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from helpers import fresh_env, originals, wait_for

WRITER = r"""
import os, sys, time
inbox, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    kind = i % 4
    name = f"f{i:05d}." + ("txt", "csv", "json", "txt")[kind]
    data = (b"hello crash test\n", b"a,b\n1,2\n", b'{"i": %d}' % i, b"")[kind] if i % 50 else b"{"
    with open(os.path.join(inbox, name), "wb") as f:
        f.write(data)
    if i % 200 == 0:
        time.sleep(0.01)
"""


def start_engine(config: Path) -> subprocess.Popen:
    # Its log goes to a file, not a pipe: nobody reads a pipe while the engine runs, and a full one
    # would block the engine at its next log line (each failed file logs one).
    with open(config.parent / "engine.log", "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chute.engine",
                "--config",
                str(config),
                "--no-server",
                "--log-level",
                "WARNING",
            ],
            env=fresh_env(),
            stderr=log,
        )


def test_kill_9_mid_burst_then_restart_conserves_every_file(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    config = root / "chute.toml"
    config.write_text("[watcher]\nmin_age = 0.2\nscan_interval = 1.0\n")
    inbox = root / "inbox"
    inbox.mkdir()
    n = 3000
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(inbox), str(n)])
    rnd = random.Random(7)
    kills = 0
    lock = root / "state" / "engine.lock"
    engine = start_engine(config)
    try:
        # Kill it at random moments while the burst is landing, four times over.
        for _ in range(4):
            # From the moment it holds the lock (its pid in engine.lock), not from its launch: on a
            # loaded machine the interpreter's start alone can outlast the random delay.
            wait_for(lambda e=engine: lock.exists() and lock.read_text().strip() == str(e.pid), what="lock")
            time.sleep(rnd.uniform(0.3, 1.2))
            engine.send_signal(signal.SIGKILL)
            engine.wait()
            kills += 1
            engine = start_engine(config)
        writer.wait(60)
        db = root / "state" / "journal.sqlite"

        def finished() -> bool:
            if any(inbox.iterdir()):
                return False
            with sqlite3.connect(db) as conn:
                (active,) = conn.execute(
                    "SELECT count(*) FROM files WHERE state IN ('queued','retrying','placing')"
                ).fetchone()
                (total,) = conn.execute("SELECT count(*) FROM files").fetchone()
            return active == 0 and total >= n

        wait_for(finished, timeout=120, interval=0.2, what="all files placed after the kills")
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(30)
    assert engine.returncode == 0, (root / "engine.log").read_text(errors="replace")[-3000:]
    assert kills == 4

    with sqlite3.connect(root / "state" / "journal.sqlite") as conn:
        rows = conn.execute("SELECT name, state, dest FROM files").fetchall()
        recoveries = conn.execute("SELECT message FROM events WHERE type='recovered'").fetchall()
    # The kills landed mid-work: at least one restart had to repair in-flight files.
    assert recoveries, "no kill interrupted any work; the test proved nothing"
    print("recoveries:", [m for (m,) in recoveries])
    names = [r[0] for r in rows]
    assert len(names) == len(set(names)) == n, "one journal row per input, no duplicates"
    assert {r[1] for r in rows} <= {"done", "failed"}

    placed = originals(root / "processed") + originals(root / "failed")
    assert len(placed) == n, "each input in exactly one place"
    assert sorted(p.name for p in placed) == sorted(names), "no renamed copies from a redone placement"
    for name, state, rel in rows:
        dest = os.path.join(root, rel)  # the journal keeps paths relative to the root
        assert os.path.exists(dest), name
        sidecar = dest + (".meta.json" if state == "done" else ".error.txt")
        assert os.path.getsize(sidecar) > 0, f"half-written sidecar for {name}"
        if name.endswith(".csv") and state == "done":
            assert os.path.exists(dest + ".normalized.csv")
    every = [p for p in (root / "processed").rglob("*") if p.is_file()]
    every += [p for p in (root / "failed").rglob("*") if p.is_file()]
    companions = [p for p in every if p not in placed]
    assert len(companions) == n + sum(1 for r in rows if r[0].endswith(".csv") and r[1] == "done"), (
        "no orphaned sidecars or outputs left behind"
    )
    assert list((root / "state" / "work").iterdir()) == []
    assert list((root / "state" / "tmp").iterdir()) == []
    assert not list(root.rglob("*.chute-partial"))
    failed = {r[0] for r in rows if r[1] == "failed"}
    assert {f"f{i:05d}.txt" for i in range(3, n, 4) if i % 50} <= failed, "empty files fail as empty"
