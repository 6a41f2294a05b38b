"""Backups: full then incremental, manifests with sha256, verify catches tampering, restore gives
back the same tree and journal, retention by chain."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
from helpers import drop, settled, test_config, wait_for

from chute.engine import Config, Engine
from chute.engine.backup import BackupError, Backups, archives, read_manifest, restore, verify
from chute.engine.config import BackupConfig


def tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def engine(tmp_path):
    engine = Engine(test_config(tmp_path / "root"))
    engine.start()
    yield engine
    engine.stop()


def test_full_then_incremental_then_restore(engine, tmp_path):
    paths = engine.config.paths
    for i in range(5):
        drop(engine, f"a{i}.txt", f"first batch {i}\n".encode())
    for i in range(5):
        settled(engine, f"a{i}.txt")
    backups = Backups(paths, BackupConfig(full_every=7, keep_count=10))
    first = backups.run()
    assert first.kind == "full" and first.included == first.total_files == 10  # originals + sidecars
    assert verify(first.archive) == []

    time.sleep(1.1)  # a new archive name (stamped by the second)
    drop(engine, "b.txt", b"second batch\n")
    settled(engine, "b.txt")
    removed = next(paths.processed.rglob("a0.txt"))
    removed.unlink()
    second = backups.run()
    assert second.kind == "incremental"
    assert second.included == 2 and second.deleted == 1, "only what changed since the last backup"
    manifest = read_manifest(second.archive)
    assert manifest["base"] == first.archive.name and manifest["chain"] == [
        first.archive.name,
        second.archive.name,
    ]
    with tarfile.open(second.archive) as tar:
        stored = sorted(n for n in tar.getnames() if n.startswith("processed/"))
    assert len(stored) == 2 and all("b.txt" in n for n in stored)
    assert verify(second.archive) == []

    expected = tree(paths.processed)
    target = tmp_path / "restored"
    result = restore(second.archive, target)
    assert result["chain"] == manifest["chain"]
    assert tree(target / "processed") == expected
    conn = sqlite3.connect(target / "state" / "journal.sqlite")
    assert conn.execute("SELECT count(*) FROM files WHERE state='done'").fetchone()[0] == 6
    conn.close()
    with pytest.raises(BackupError, match="not empty"):
        restore(second.archive, target)

    # An engine started on the restored root sees the same counts.
    again = Engine(test_config(target))
    again.start()
    try:
        assert again.snapshot().counts["done"] == 6
    finally:
        again.stop()


def test_verify_catches_tampering(engine, tmp_path):
    drop(engine, "x.txt", b"original bytes\n")
    settled(engine, "x.txt")
    result = Backups(engine.config.paths, BackupConfig()).run()
    bad = tmp_path / result.archive.name
    with tarfile.open(result.archive) as src, tarfile.open(bad, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.endswith("x.txt"):
                data = b"tampered bytes\n"
                member.size = len(data)
            import io

            dst.addfile(member, io.BytesIO(data))
    problems = verify(bad)
    assert len(problems) == 1 and "x.txt" in problems[0] and "does not match" in problems[0]
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(result.archive.read_bytes()[:200])
    problems = verify(truncated)
    assert len(problems) == 1 and "not a readable chute backup" in problems[0]


def test_retention_drops_whole_old_chains_never_the_newest(tmp_path):
    config = test_config(tmp_path / "r")
    config.paths.make()
    tiny_journal(config, {"processed/f.txt": "done"})
    (config.paths.processed / "f.txt").write_text("x")
    clock = [1_800_000_000.0]
    backups = Backups(
        config.paths, BackupConfig(full_every=2, keep_count=4, keep_days=0), clock=lambda: clock[0]
    )
    kinds = []
    for i in range(9):
        (config.paths.processed / "f.txt").write_text(f"version {i}")
        kinds.append(backups.run().kind)
        clock[0] += 3600
    assert kinds[:4] == ["full", "incremental", "incremental", "full"]
    left = archives(config.paths.backups)
    assert len(left) <= 4 + 2  # at most keep_count plus the newest chain
    assert left[0][1]["kind"] == "full", "a kept incremental always has its full"
    for _archive, doc in left:
        for name in doc["chain"]:
            assert (config.paths.backups / name).exists()
    aged = Backups(
        config.paths,
        BackupConfig(full_every=2, keep_count=100, keep_days=1),
        clock=lambda: clock[0] + 5 * 86400,
    )
    aged.prune()
    remaining = archives(config.paths.backups)
    assert remaining and remaining[0][1]["kind"] == "full"
    assert {d["chain"][0] for _, d in remaining} == {remaining[-1][1]["chain"][0]}, (
        "only the newest chain is left"
    )


def test_backup_cli_and_verify(tmp_path):
    import subprocess
    import sys

    from helpers import fresh_env

    root = tmp_path / "c"
    engine = Engine(test_config(root))
    engine.start()
    drop(engine, "c.txt", b"cli\n")
    settled(engine, "c.txt")
    engine.stop()
    out = subprocess.run(
        [sys.executable, "-m", "chute.tui.cli", "backup", "--root", str(root)],
        capture_output=True,
        text=True,
        env=fresh_env(),
    )
    assert out.returncode == 0 and "full backup" in out.stdout
    archive = next((root / "backups").glob("*.tar.gz"))
    out = subprocess.run(
        [sys.executable, "-m", "chute.tui.cli", "backup", "--verify", str(archive)],
        capture_output=True,
        text=True,
        env=fresh_env(),
    )
    assert out.returncode == 0 and "OK" in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "chute.tui.cli", "restore", str(archive), "--to", str(tmp_path / "new")],
        capture_output=True,
        text=True,
        env=fresh_env(),
    )
    assert out.returncode == 0 and "restored 2 files" in out.stdout
    manifest = json.loads(Path(str(archive) + ".manifest.json").read_text())
    assert set(manifest["files"]) == {
        str(p.relative_to(tmp_path / "new"))
        for p in (tmp_path / "new" / "processed").rglob("*")
        if p.is_file()
    }


def small_root(root: Path) -> Config:
    """A root with one processed file, one failure and a tiny journal listing both: a small archive."""
    config = test_config(root)
    config.paths.make()
    (config.paths.processed / "text" / "d").mkdir(parents=True)
    (config.paths.processed / "text" / "d" / "a.txt").write_text("hello\n")
    (config.paths.failed / "d").mkdir(parents=True)
    (config.paths.failed / "d" / "b.json").write_text("{")
    (config.paths.failed / "d" / "b.json.error.txt").write_text("corrupt: invalid JSON")
    tiny_journal(config, {"processed/text/d/a.txt": "done", "failed/d/b.json": "failed"})
    return config


def tiny_journal(config: Config, placed: dict[str, str]) -> None:
    """A stand-in journal listing files as placed (the backup archives what its journal knows)."""
    conn = sqlite3.connect(config.paths.state / "journal.sqlite")
    conn.execute("PRAGMA page_size=512")
    conn.execute("CREATE TABLE files(id INTEGER PRIMARY KEY, state TEXT, dest TEXT)")
    conn.executemany("INSERT INTO files(dest, state) VALUES (?, ?)", placed.items())
    conn.commit()
    conn.execute("VACUUM")
    conn.close()


def test_every_single_bit_flip_is_caught_or_harmless(tmp_path):
    config = small_root(tmp_path / "root")
    archive = Backups(config.paths, BackupConfig()).run().archive
    expected = tree(config.paths.root / "processed") | tree(config.paths.root / "failed")
    assert verify(archive) == [] and len(expected) == 3
    data = archive.read_bytes()
    flipped = tmp_path / "flips" / archive.name
    flipped.parent.mkdir()
    caught = harmless = 0
    for pos in range(len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= 1 << (pos % 8)
        flipped.write_bytes(damaged)
        problems = verify(flipped)  # a traceback here fails the test
        target = tmp_path / "restored" / str(pos)
        if problems:
            caught += 1
            assert all(isinstance(p, str) and p for p in problems)
            if pos % 16 == 0:  # restore refuses it with a reason, never a traceback
                with pytest.raises(BackupError):
                    restore(flipped, target)
        else:
            # Passing verify means the content is intact (a flip in gzip's name or mtime field,
            # or in bits deflate ignores): the restore must give back the very same tree.
            harmless += 1
            restore(flipped, target)
            assert tree(target / "processed") | tree(target / "failed") == expected, f"silent pass at {pos}"
    assert caught > 0.8 * len(data) and caught + harmless == len(data)


def test_failed_files_are_backed_up_and_restored(tmp_path):
    config = small_root(tmp_path / "root")
    result = Backups(config.paths, BackupConfig()).run()
    assert result.total_files == 3
    target = tmp_path / "new"
    restore(result.archive, target)
    assert (target / "failed" / "d" / "b.json.error.txt").read_text() == "corrupt: invalid JSON"


def test_a_backup_that_fills_the_disk_leaves_nothing_behind(tmp_path):
    from servers import small_disk

    disk = tmp_path / "disk"
    with small_disk(disk, 1024) as mounted:
        root = disk / "root"
        config = small_root(root)
        (config.paths.processed / "text" / "d" / "big.bin").write_bytes(os.urandom(700_000))
        with sqlite3.connect(config.paths.state / "journal.sqlite") as conn:
            conn.execute("INSERT INTO files(state, dest) VALUES ('done', 'processed/text/d/big.bin')")
        # Where no tmpfs can be mounted, the kernel's file size limit refuses the write instead.
        limit = "" if mounted else "resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000)); "
        script = (
            "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            + limit
            + "from chute.engine.backup import Backups, BackupError; from chute.engine.config import "
            "BackupConfig, Paths; "
            f"paths = Paths.under({str(root)!r})\n"
            "try:\n    Backups(paths, BackupConfig()).run()\nexcept BackupError as exc:\n"
            "    print(exc); sys.exit(3)\n"
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert out.returncode == 3, out.stderr
        assert ("No space left" if mounted else "File too large") in out.stdout
        assert "partial output was removed" in out.stdout
        assert list(config.paths.backups.iterdir()) == []
        assert not [p for p in config.paths.state.iterdir() if p.name.startswith("backup-")]
        if mounted:
            (config.paths.state / "journal.sqlite").unlink()  # the tiny stand-in, not an engine's
            # What a backup killed mid-way leaves on a full disk: a start removes it and runs.
            fd = os.open(config.paths.backups / "chute-killed-full.tar.gz.part", os.O_WRONLY | os.O_CREAT)
            with pytest.raises(OSError, match="No space left"):
                while True:
                    os.write(fd, os.urandom(65536))
            os.close(fd)
            engine = Engine(config)
            engine.start()
            try:
                drop(engine, "after.txt", b"after the full disk\n")
                assert settled(engine, "after.txt").state == "done"
            finally:
                engine.stop()


def test_retention_follows_chains_when_the_clock_steps_back(tmp_path):
    config = test_config(tmp_path / "r")
    config.paths.make()
    tiny_journal(config, {"processed/f.txt": "done"})
    clock = [1_800_000_000.0]
    backups = Backups(
        config.paths, BackupConfig(full_every=2, keep_count=2, keep_days=0), clock=lambda: clock[0]
    )
    made = []
    for i, t in enumerate((0, 100, -50_000, -49_900, -49_800)):  # the clock steps back a day after two
        clock[0] = 1_800_000_000.0 + t
        (config.paths.processed / "f.txt").write_text(f"version {i}")
        made.append(backups.run())
    assert [m.kind for m in made] == ["full", "incremental", "incremental", "full", "incremental"]
    left = [a.name for a, _ in archives(config.paths.backups)]
    assert left == [made[3].archive.name, made[4].archive.name], "the old chain went whole, the new one stays"
    target = tmp_path / "restored"
    restore(made[4].archive, target)
    assert (target / "processed" / "f.txt").read_text() == "version 4"


def test_the_archived_journal_and_files_describe_the_same_moment(engine, tmp_path):
    """Backups taken during a burst: every file the archived journal says is placed is in the
    chain, and every original in the chain is one the archived journal knows as placed."""
    backups = Backups(engine.config.paths, BackupConfig(full_every=100, keep_count=100))
    names = [f"burst-{i:03d}.json" for i in range(150)]
    made = []
    for i, name in enumerate(names):
        drop(engine, name, b"{}" if i % 3 else b"{")
        if i % 25 == 24:
            made.append(backups.run())
    settled(engine, names[-1])
    made.append(backups.run())
    assert len({m.archive.name for m in made}) == len(made)
    for result in made:
        manifest = read_manifest(result.archive)
        with tarfile.open(result.archive) as tar, tempfile.TemporaryDirectory() as scratch:
            tar.extract("journal.sqlite", scratch, filter="data")
            conn = sqlite3.connect(Path(scratch) / "journal.sqlite")
            rows = conn.execute(
                "SELECT dest FROM files WHERE state IN ('done','failed','duplicate') AND dest IS NOT NULL"
            ).fetchall()
            conn.close()
        placed = {
            str(Path(d).relative_to(engine.config.paths.root)) if Path(d).is_absolute() else d
            for (d,) in rows
        }
        originals = {r for r in manifest["files"] if not r.endswith((".meta.json", ".error.txt"))}
        assert placed <= set(manifest["files"]), f"{result.archive.name}: placed files missing"
        assert originals <= placed, f"{result.archive.name}: files the journal does not know"
    assert made[-1].total_files == 2 * 150


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_backup_cut_short_is_recorded_alerted_and_cleaned_up(tmp_path, how):
    root = tmp_path / "root"
    config = test_config(root)
    config.paths.make()
    folder = config.paths.processed / "bulk" / "d"
    folder.mkdir(parents=True)
    for i in range(400):
        (folder / f"{i}.bin").write_bytes(os.urandom(20_000))
    time.sleep(0.1)  # older than the journal copy the backup takes
    (root / "chute.toml").write_text(
        '[schedule]\nbackup = "every 1 hour"\nreport = ""\n[server]\nenabled = false\n'
        "[discord]\ngroup_wait = 0.1\n"
    )
    proc = subprocess.Popen([sys.executable, "-m", "chute.engine", "--config", str(root / "chute.toml")])
    try:
        wait_for(lambda: list(config.paths.backups.glob("*.part")), timeout=20, what="the backup to start")
    finally:
        proc.send_signal(how)
        proc.wait(30)
    scratch = [p for p in config.paths.state.iterdir() if p.name.startswith("backup-scratch-")]
    if how == signal.SIGKILL:
        assert scratch, "a kill leaves its temporaries for the next start"
    else:
        assert proc.returncode == 0 and not scratch and not list(config.paths.backups.glob("*.part"))
    engine = Engine(test_config(root, discord={"group_wait": 0.1}, alerts={"check_every": 60}))
    engine.start()
    try:
        assert not list(config.paths.backups.glob("*.part"))
        assert not [p for p in config.paths.state.iterdir() if p.name.startswith("backup-scratch-")]
        (job,) = [s for s in engine.schedules() if s.name == "backup"]
        assert job.last_outcome == "interrupted"
        alert = wait_for(lambda: [a for a in engine.alerts() if a.kind == "job_failed"], timeout=10)[0]
        assert "interrupted" in alert.body
    finally:
        engine.stop()


def absolute_paths(journal: Path) -> list[str]:
    with sqlite3.connect(journal) as conn:
        rows = conn.execute("SELECT src FROM files UNION ALL SELECT dest FROM files").fetchall()
    return [os.fsdecode(p) for (p,) in rows if p is not None and os.fsdecode(p).startswith("/")]


def test_a_restored_engine_touches_only_its_own_root(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    engine = Engine(test_config(old))
    engine.start()
    try:
        drop(engine, "good.txt", b"fine\n")
        drop(engine, "bad.json", b"{")
        settled(engine, "good.txt")
        failed = settled(engine, "bad.json")
    finally:
        engine.stop()
    journal = old / "state" / "journal.sqlite"
    assert absolute_paths(journal) == [], "the journal keeps paths relative to the root"
    # As an older chute wrote it: absolute paths under the old root.
    with sqlite3.connect(journal) as conn:
        conn.execute("UPDATE files SET src = ? || '/' || src, dest = ? || '/' || dest", (str(old), str(old)))
    assert absolute_paths(journal)

    archive = Backups(test_config(old).paths, BackupConfig()).run().archive
    restore(archive, new)
    assert absolute_paths(new / "state" / "journal.sqlite") == [], "nothing refers to the old root"
    old_failed = next((old / "failed").rglob("bad.json"))

    again = Engine(test_config(new))
    again.start()
    try:
        assert again.file(failed.id).file.dest.startswith(str(new))
        assert again.retry([failed.id]).retried == [failed.id]
        wait_for(
            lambda: again.file(failed.id).file.state == "failed" and again.file(failed.id).file.attempts == 2
        )
        assert old_failed.exists(), "the old root's failed/ is left alone"
        assert str(again.file(failed.id).file.dest).startswith(str(new / "failed"))
    finally:
        again.stop()

    reopened = Engine(test_config(old))  # an existing journal is migrated when it is opened
    reopened.start()
    try:
        assert reopened.file(failed.id).file.dest == str(old_failed)
    finally:
        reopened.stop()
    assert absolute_paths(journal) == []
