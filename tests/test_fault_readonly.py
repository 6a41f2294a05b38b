"""Read-only folders, for real: chmod, with the engine in a process permission bits apply to
(root would write anyway; see faultfs.unprivileged)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from faultfs import unprivileged
from helpers import fresh_env, wait_for

CONFIG = """
[watcher]
min_age = 0.2
scan_interval = 0.5
[server]
port = {port}
[alerts]
check_every = 0.1
[discord]
group_wait = 0.1
group_interval = 0.1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EngineProcess:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        (root / "chute.toml").write_text(CONFIG.format(port=self.port))
        argv = [sys.executable, "-m", "chute.engine", "-c", str(root / "chute.toml"), "--log-level", "ERROR"]
        self.proc = subprocess.Popen(unprivileged(argv), env=fresh_env(), stderr=subprocess.PIPE)
        wait_for(self.health, timeout=30, what="the engine to serve /health")

    def health(self) -> dict | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return None

    def rows(self) -> list[tuple]:
        with sqlite3.connect(self.root / "state" / "journal.sqlite") as db:
            return db.execute(
                "SELECT name, state, error_kind, reason, dest FROM files ORDER BY id"
            ).fetchall()

    def count(self, sql: str) -> int:
        with sqlite3.connect(self.root / "state" / "journal.sqlite") as db:
            return db.execute(sql).fetchone()[0]

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err.decode()


@pytest.mark.parametrize("folder", ["processed", "failed"])
def test_a_read_only_destination_pauses_says_once_and_resumes(tmp_path, folder):
    root = tmp_path / "ws"
    engine = EngineProcess(root)
    target = root / folder
    try:
        target.chmod(0o555)
        (root / "inbox" / "good.txt").write_text("fine text\n")
        (root / "inbox" / "bad.json").write_text("{")
        health = wait_for(
            lambda: (h := engine.health()) and f"fault:{folder}" in h["checks"] and h, what="the fault"
        )
        assert health["status"] == "fail"
        check = health["checks"][f"fault:{folder}"][0]
        assert check["observedValue"] == "EACCES" and str(target) in check["componentId"]
        stuck = "good.txt" if folder == "processed" else "bad.json"
        wait_for(
            lambda: engine.count("SELECT count(*) FROM alerts WHERE kind='health'") >= 1, what="the alert"
        )
        time.sleep(1.0)
        states = {name: state for name, state, *_ in engine.rows()}
        assert states[stuck] in ("queued", "placing"), states
        waiting = [n for n, s in states.items() if s in ("queued", "placing")]
        assert len(list((root / "state" / "work").iterdir())) == len(waiting), "claimed files stay claimed"
        assert not [p for p in target.rglob("*") if p.is_file()], "nothing half placed"
        assert engine.count("SELECT count(*) FROM events WHERE type='paused'") == 1
        assert engine.count("SELECT count(*) FROM alerts WHERE kind='health'") == 1

        target.chmod(0o755)
        wait_for(lambda: {s for _, s, *_ in engine.rows()} <= {"done", "failed"}, what="resumed")
        wait_for(lambda: f"fault:{folder}" not in engine.health()["checks"], what="the fault to clear")
        rows = engine.rows()
        assert sorted((n, s) for n, s, *_ in rows) == [("bad.json", "failed"), ("good.txt", "done")]
        for _, _, _, _, dest in rows:  # the journal keeps paths relative to the root
            assert (root / dest).exists() and "(1)" not in dest
        assert engine.count("SELECT count(*) FROM events WHERE type='resumed'") == 1
        assert engine.count("SELECT count(*) FROM alerts WHERE kind='health'") == 1
    finally:
        target.chmod(0o755)
        err = engine.stop()
    assert "Traceback" not in err, err


def test_a_read_only_inbox_gives_one_row_and_one_alert_line_per_file(tmp_path):
    root = tmp_path / "ws"
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    names = ["a.txt", "b.txt", "c.txt"]
    for name in names:
        (inbox / name).write_text(f"{name}\n")
    inbox.chmod(0o555)
    engine = EngineProcess(root)
    try:
        wait_for(lambda: len(engine.rows()) == 3, what="a row per file")
        time.sleep(2.0)  # four scans later
        rows = engine.rows()
        assert len(rows) == 3, "no new row at every scan"
        for _name, state, kind, reason, _dest in rows:
            assert (state, kind) == ("failed", "inbox")
            assert "Permission denied" in reason and str(inbox) in reason
        assert sorted(p.name for p in inbox.iterdir()) == names, "the files stay, untouched"
        wait_for(lambda: engine.count("SELECT sum(count) FROM alerts WHERE kind='files_failed'") == 3)
        assert engine.count("SELECT count(*) FROM events WHERE type='failed'") == 3

        inbox.chmod(0o755)
        wait_for(lambda: {s for _, s, *_ in engine.rows()} == {"done"}, what="taken once writable")
        assert len(engine.rows()) == 3, "taken under the rows they had"
        assert not list(inbox.iterdir())
    finally:
        inbox.chmod(0o755)
        err = engine.stop()
    assert "Traceback" not in err, err
