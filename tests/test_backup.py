"""Backups: full then incremental, manifests with sha256, verify catches tampering, restore gives
back the same tree and journal, retention by chain."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tarfile
import time
from pathlib import Path

import pytest
from helpers import drop, settled, test_config

from chute.engine import Engine
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
        str(p.relative_to(tmp_path / "new" / "processed"))
        for p in (tmp_path / "new" / "processed").rglob("*")
        if p.is_file()
    }
