"""The journal under an operator's bad day: deleted after a kill -9 (the obvious move after a
"malformed" error), deleted while the engine runs, damaged on disk; `chute check [--repair]`."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import drop, fresh_env, originals, settled, test_config, wait_for

from chute.engine import Engine
from chute.tui.cli import main as chute_main

WRITER = r"""
import os, sys
inbox, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(inbox, f"w{i:04d}.txt"), "wb") as f:
        f.write(b"unique input %d\n" % i * 20)
"""


def start_engine(root: Path) -> subprocess.Popen:
    config = root / "chute.toml"
    if not config.exists():
        config.write_text("[watcher]\nmin_age = 0.2\nscan_interval = 1.0\n")
    return subprocess.Popen(
        [sys.executable, "-m", "chute.engine", "-c", str(config), "--no-server", "--log-level", "ERROR"],
        env=fresh_env(),
        stderr=subprocess.PIPE,
    )


def digests(folder: Path) -> list[str]:
    companions = (".meta.json", ".error.txt", ".normalized.csv", ".thumb.png")
    return sorted(
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.endswith(companions)
    )


def test_kill_9_then_journal_deleted_loses_and_overwrites_nothing(tmp_path, capsys):
    root = tmp_path / "ws"
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    n = 400
    expected = sorted(hashlib.sha256(b"unique input %d\n" % i * 20).hexdigest() for i in range(n))
    engine = start_engine(root)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(inbox), str(n)])
    work = root / "state" / "work"
    try:
        # Kill it while files are claimed but not yet placed, then do what the operator
        # did: delete the journal (and its WAL) and start again.
        processed = root / "processed"
        wait_for(
            lambda: work.exists() and any(work.iterdir()) and originals(processed),
            timeout=30,
            interval=0.002,
            what="files claimed and files placed",
        )
        engine.send_signal(signal.SIGKILL)
        engine.wait()
        writer.wait(30)
        assert any(work.iterdir()), "the kill landed after the burst; the test proved nothing"
        placed_before = len(originals(processed))
        for suffix in ("", "-wal", "-shm"):
            (root / "state" / f"journal.sqlite{suffix}").unlink(missing_ok=True)
        engine = start_engine(root)
        wait_for(lambda: not any(inbox.iterdir()) and not any(work.iterdir()), timeout=60, what="drained")
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(30)
    assert engine.returncode == 0, engine.stderr.read().decode()
    placed = digests(root / "processed") + digests(root / "failed")
    assert sorted(placed) == expected, "every input in exactly one place, none overwritten, none lost"

    # The new journal knows the files it took (orphans of state/work included), not those placed
    # before the deletion: check finds them, --repair rebuilds their rows from the sidecars.
    assert chute_main(["check", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert out.count("unjournaled") >= placed_before and "--repair" in out
    assert chute_main(["check", "--root", str(root), "--repair"]) == 0
    assert "repaired" in capsys.readouterr().out
    assert chute_main(["check", "--root", str(root)]) == 0
    assert "journal and disk agree" in capsys.readouterr().out
    assert chute_main(["status", "--root", str(root), "--json"]) == 0
    import json

    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts["done"] == n, counts


def test_check_finds_a_row_whose_file_is_gone_and_a_file_without_row(make_engine, capsys):
    engine = make_engine()
    drop(engine, "a.txt", b"alpha\n")
    drop(engine, "b.json", b"{")
    a, b = settled(engine, "a.txt"), settled(engine, "b.json")
    engine.stop()
    root = str(engine.config.paths.root)
    assert chute_main(["check", "--root", root]) == 0
    capsys.readouterr()
    Path(a.dest).unlink()
    stray = engine.config.paths.processed / "text" / "stray.txt"
    stray.write_text("put here by hand\n")
    assert chute_main(["check", "--root", root, "--repair"]) == 1
    out = capsys.readouterr().out
    assert f"row #{a.id} says a.txt is here, but nothing is" in out
    assert "unreadable" in out and "stray.txt" in out, "no sidecar: reported, not invented"
    # A failed file's row is rebuilt from the record line of its .error.txt.
    from chute.engine.journal import Journal

    j = Journal(engine.config.paths.state / "journal.sqlite")
    with j.db.tx() as c:
        c.execute("DELETE FROM attempts WHERE file_id=?", (b.id,))
        c.execute("DELETE FROM files WHERE id=?", (b.id,))
    j.close()
    assert chute_main(["check", "--root", root, "--repair"]) == 1
    assert f"-> row #{b.id} rebuilt" in capsys.readouterr().out
    j = Journal(engine.config.paths.state / "journal.sqlite", root=engine.config.paths.root)
    rebuilt = j.files.detail(b.id).file
    j.close()
    assert (rebuilt.state, rebuilt.error_kind, rebuilt.dest) == ("failed", "corrupt", b.dest)
    assert rebuilt.reason == b.reason


def _delete(journal: Path) -> None:
    journal.unlink()


def _replace(journal: Path) -> None:
    other = journal.with_name("other.sqlite")
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.close()
    os.replace(other, journal)


def _empty(journal: Path) -> None:
    os.truncate(journal, 0)


@pytest.mark.parametrize(
    "what, done",
    [(_delete, "was deleted"), (_replace, "was replaced by another file"), (_empty, "was emptied")],
)
def test_a_journal_gone_while_running_is_noticed_and_not_written_to(make_engine, what, done):
    engine = make_engine()
    drop(engine, "before.txt", b"hello\n")
    settled(engine, "before.txt")
    journal = engine.config.paths.state / "journal.sqlite"
    what(journal)
    health = wait_for(lambda: (h := engine.health()).status == "fail" and h, what="health to fail")
    check = health.checks["fault:journal-file"][0]
    assert f"{done} while the engine ran" in check["output"] and str(journal) in check["output"]
    size = journal.stat().st_size if journal.exists() else None
    drop(engine, "after.txt", b"hello again\n")
    time.sleep(1.0)
    assert (engine.config.paths.inbox / "after.txt").exists(), "nothing is taken into a journal that is gone"
    assert (journal.stat().st_size if journal.exists() else None) == size, "nothing written to it"
    assert engine.pipeline.alive()


def test_a_damaged_journal_is_a_clear_message_not_a_traceback(make_engine, tmp_path):
    engine = make_engine()
    for i in range(30):
        drop(engine, f"f{i}.txt", b"x" * 2000)
    wait_for(lambda: len(engine.files(limit=100).items) == 30 and engine.wait_idle(5))
    engine.stop()
    journal = engine.config.paths.state / "journal.sqlite"
    data = bytearray(journal.read_bytes())
    assert len(data) >= 3 * 4096
    data[2 * 4096 : 2 * 4096 + 200] = b"\xde\xad" * 100  # garbage in the middle of a page
    journal.write_bytes(bytes(data))
    for argv in (
        ["engine", "--root", str(engine.config.paths.root), "--no-server"],
        ["status", "--root", str(engine.config.paths.root)],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "chute.tui.cli", *argv],
            capture_output=True,
            text=True,
            env=fresh_env(),
            timeout=60,
        )
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert f"journal {journal} cannot be opened: it is damaged" in done.stderr
        assert "chute check" in done.stderr and ".recover" in done.stderr
    again = Engine(test_config(engine.config.paths.root))
    try:
        again.start()
    except Exception as exc:
        assert "is damaged" in str(exc)
    else:
        again.stop()
        raise AssertionError("a damaged journal was opened")


def test_orphans_holding_the_work_names_of_new_ids_are_taken_back_intact(tmp_path, make_engine):
    """A journal that lost its WAL after a kill -9 numbers new files with ids whose work names
    orphaned files still hold: neither may overwrite the other."""
    root = tmp_path / "root"
    first = make_engine(root)
    first.stop()
    work = first.config.paths.state / "work"
    with sqlite3.connect(first.config.paths.state / "journal.sqlite") as db:
        (p,) = db.execute("SELECT value FROM kv WHERE key='work_prefix'").fetchone()
    orphans = {f"{p}-{i}": f"orphan {i}\n".encode() * 10 for i in (1, 2, 3)}
    for work_name, data in orphans.items():
        (work / work_name).write_bytes(data)
    (first.config.paths.inbox / "new.txt").write_bytes(b"a new arrival\n")
    engine = make_engine(root)
    wait_for(lambda: len(engine.files(limit=10).items) == 4 and engine.wait_idle(5), what="all four placed")
    placed = sorted(Path(r.dest).read_bytes() for r in engine.files(limit=10).items)
    assert placed == sorted([*orphans.values(), b"a new arrival\n"])
    assert not list(work.iterdir())
