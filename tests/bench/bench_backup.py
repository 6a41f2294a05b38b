"""Backup benchmark: a full backup, its verify and its restore, each beside a baseline.

    python tests/bench/bench_backup.py [--files 3000] [--size 8192]

The tree (processed/ and failed/, half text, half random bytes) is made once; each figure is
printed beside a baseline doing the bare work in the same run:
- backup: Backups.run (journal copy, sha256 of every file, manifest, tar.gz) vs tarfile
  writing the same folders as tar.gz at the same compression level;
- verify: verify() (the whole gzip stream, every member hashed against the manifest, the
  journal's integrity check) vs reading the archive through gzip and tarfile without checks;
- restore: restore() (verify first, then extract) vs tarfile extracting everything.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import test_config

from chute.engine.backup import Backups, restore, verify
from chute.engine.config import BackupConfig


def make_tree(config, files: int, size: int) -> None:
    rows = []
    text = (b"the quick brown fox jumps over the lazy dog\n" * (size // 44 + 1))[:size]
    for i in range(files):
        tree = "failed" if i % 10 == 0 else "processed"
        rel = f"{tree}/d{i % 20}/f{i:05d}.bin"
        path = config.paths.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if i % 2 else os.urandom(size))
        rows.append((rel, "failed" if tree == "failed" else "done"))
    with sqlite3.connect(config.paths.state / "journal.sqlite") as conn:
        conn.execute("CREATE TABLE files(id INTEGER PRIMARY KEY, dest TEXT, state TEXT)")
        conn.executemany("INSERT INTO files(dest, state) VALUES (?, ?)", rows)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--size", type=int, default=8192)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = test_config(Path(tmp) / "root")
        config.paths.make()
        make_tree(config, args.files, args.size)
        time.sleep(0.1)  # older than the journal copy
        mb = args.files * args.size / 1e6
        baseline_archive = Path(tmp) / "baseline.tar.gz"

        def baseline_backup() -> None:
            with tarfile.open(baseline_archive, "w:gz", compresslevel=1) as tar:
                for tree in ("processed", "failed"):
                    tar.add(config.paths.root / tree, tree)

        base = timed(baseline_backup)
        result = []
        ours = timed(lambda: result.append(Backups(config.paths, BackupConfig()).run()))
        archive = result[0].archive
        print(f"{args.files} files, {mb:.1f} MB")
        print(f"backup   {ours:6.2f} s  baseline {base:6.2f} s  ratio {ours / base:4.2f}")

        def baseline_read() -> None:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    if member.isfile():
                        tar.extractfile(member).read()

        base = timed(baseline_read)
        problems = []
        ours = timed(lambda: problems.extend(verify(archive)))
        assert problems == [], problems
        print(f"verify   {ours:6.2f} s  baseline {base:6.2f} s  ratio {ours / base:4.2f}")

        def baseline_extract() -> None:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(Path(tmp) / "plain", filter="data")

        base = timed(baseline_extract)
        ours = timed(lambda: restore(archive, Path(tmp) / "restored"))
        print(f"restore  {ours:6.2f} s  baseline {base:6.2f} s  ratio {ours / base:4.2f}")


if __name__ == "__main__":
    main()
