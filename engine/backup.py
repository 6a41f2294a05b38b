"""Backups of processed/ and the journal, incremental, with sha256 manifests.

Each archive (backups/chute-<stamp>-full.tar.gz or -incr.tar.gz) holds:
- manifest.json: every file of processed/ at that moment (sha256, size, mtime, and which archive
  of the chain holds its bytes), what this archive includes, what was deleted since the last one;
- processed/<path> for each file new or changed since the previous archive (all of them in a full);
- journal.sqlite: a consistent copy made with SQLite's online backup API.
A copy of the manifest sits beside the archive (<archive>.manifest.json) so the next backup can
tell what changed without opening the last one.

Restore a chain with `chute restore ARCHIVE --to DIR` (or restore() below): the full archive and
each incremental up to ARCHIVE are verified, extracted in order, and files deleted since are
removed, giving processed/ and state/journal.sqlite exactly as they were.

Retention works on whole chains (a full and its incrementals), never the newest chain: chains
whose newest archive is older than keep_days go, and the oldest chains go while more than
keep_count archives remain.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import BackupConfig, Paths

FORMAT = 1
SUFFIX = ".tar.gz"
MANIFEST_SUFFIX = ".manifest.json"


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class BackupResult:
    archive: Path
    kind: str
    included: int
    included_bytes: int
    total_files: int
    deleted: int
    pruned: list[str]

    @property
    def message(self) -> str:
        pruned = f"; pruned {len(self.pruned)} old archive(s)" if self.pruned else ""
        return (
            f"{self.kind} backup {self.archive.name}: {self.included} of {self.total_files} files "
            f"({self.included_bytes / 1e6:.1f} MB){', ' + str(self.deleted) + ' deleted' if self.deleted else ''}"
            f"{pruned}"
        )


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def archives(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every archive with a readable manifest beside it, oldest first."""
    out = []
    for manifest in folder.glob(f"chute-*{SUFFIX}{MANIFEST_SUFFIX}"):
        archive = manifest.with_name(manifest.name[: -len(MANIFEST_SUFFIX)])
        if not archive.exists():
            continue
        try:
            doc = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        out.append((archive, doc))
    out.sort(key=lambda item: (item[1]["created"], item[0].name))
    return out


class Backups:
    def __init__(self, paths: Paths, config: BackupConfig, clock=time.time) -> None:
        self.paths = paths
        self.config = config
        self.folder = paths.backups
        self.clock = clock

    def run(self) -> BackupResult:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob("*.part"):
            stale.unlink(missing_ok=True)  # left by a backup that was killed
        history = archives(self.folder)
        previous = history[-1][1] if history else None
        since_full = 0
        for _, doc in reversed(history):
            if doc["kind"] == "full":
                break
            since_full += 1
        full = previous is None or since_full >= self.config.full_every
        now = self.clock()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        name = f"chute-{stamp}-{'full' if full else 'incr'}{SUFFIX}"
        n = 1
        while (self.folder / name).exists():
            name = f"chute-{stamp}.{n}-{'full' if full else 'incr'}{SUFFIX}"
            n += 1
        before = {} if full or previous is None else previous["files"]
        files: dict[str, dict[str, Any]] = {}
        included: list[str] = []
        for rel, st in self._walk():
            old = before.get(rel)
            if old is not None and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
                files[rel] = old
                continue
            try:
                digest = _sha256_file(self.paths.processed / rel)
            except FileNotFoundError:
                continue
            files[rel] = {"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "in": name}
            included.append(rel)
        deleted = sorted(set(before) - set(files))
        chain = [name] if full else [*previous.get("chain", []), name]
        tmp = self.folder / (name + ".part")
        with tempfile.TemporaryDirectory(dir=self.paths.state) as scratch:
            journal_copy = Path(scratch) / "journal.sqlite"
            self._copy_journal(journal_copy)
            manifest = {
                "format": FORMAT,
                "created": now,
                "kind": "full" if full else "incremental",
                "base": None if full else history[-1][0].name,
                "chain": chain,
                "files": files,
                "included": included,
                "deleted": deleted,
                "journal_sha256": _sha256_file(journal_copy),
            }
            data = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
            with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
                info = tarfile.TarInfo("manifest.json")
                info.size = len(data)
                info.mtime = int(now)
                tar.addfile(info, io.BytesIO(data))
                tar.add(journal_copy, "journal.sqlite")
                for rel in included:
                    try:
                        tar.add(self.paths.processed / rel, f"processed/{rel}", recursive=False)
                    except FileNotFoundError:
                        pass
        side = self.folder / (name + MANIFEST_SUFFIX)
        side.write_bytes(data)
        os.replace(tmp, self.folder / name)
        pruned = self.prune()
        return BackupResult(
            self.folder / name,
            manifest["kind"],
            len(included),
            sum(files[r]["size"] for r in included),
            len(files),
            len(deleted),
            pruned,
        )

    def _walk(self):
        root = self.paths.processed
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                if os.path.isfile(path) and not os.path.islink(path):
                    yield os.path.relpath(path, root), st

    def _copy_journal(self, dest: Path) -> None:
        source = self.paths.journal
        if not source.exists():
            sqlite3.connect(dest).close()
            return
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)  # consistent even while the engine writes
        finally:
            dst.close()
            src.close()

    def prune(self) -> list[str]:
        history = archives(self.folder)
        chains: list[list[Path]] = []
        for archive, doc in history:
            if doc["kind"] == "full" or not chains:
                chains.append([])
            chains[-1].append((archive, doc))
        now = self.clock()
        removed: list[str] = []
        total = len(history)
        for chain in chains[:-1]:  # never the newest chain
            newest = chain[-1][1]["created"]
            too_old = self.config.keep_days > 0 and newest < now - self.config.keep_days * 86400
            too_many = total - len(chain) >= self.config.keep_count
            if too_old or too_many:
                for archive, _ in chain:
                    archive.unlink(missing_ok=True)
                    Path(str(archive) + MANIFEST_SUFFIX).unlink(missing_ok=True)
                    removed.append(archive.name)
                total -= len(chain)
        return removed


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise BackupError(f"{archive.name}: no manifest.json inside")
            return json.loads(member.read())
    except (OSError, EOFError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(
            f"{archive.name}: not a readable chute backup ({exc or type(exc).__name__})"
        ) from None


def verify(archive: Path) -> list[str]:
    """Problems found checking an archive against its manifest (empty: it is sound)."""
    archive = Path(archive)
    problems: list[str] = []
    try:
        manifest = read_manifest(archive)
    except BackupError as exc:
        return [str(exc)]
    try:
        with tarfile.open(archive, "r:gz") as tar:
            names = set(tar.getnames())
            for rel in manifest["included"]:
                member = f"processed/{rel}"
                if member not in names:
                    problems.append(f"{rel}: listed in the manifest but missing from the archive")
                    continue
                digest = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
                if digest != manifest["files"][rel]["sha256"]:
                    problems.append(f"{rel}: sha256 {digest[:12]}… does not match the manifest")
            if "journal.sqlite" not in names:
                problems.append("journal.sqlite: missing")
            else:
                data = tar.extractfile("journal.sqlite").read()
                if hashlib.sha256(data).hexdigest() != manifest["journal_sha256"]:
                    problems.append("journal.sqlite: sha256 does not match the manifest")
                else:
                    with tempfile.NamedTemporaryFile(suffix=".sqlite") as f:
                        f.write(data)
                        f.flush()
                        conn = sqlite3.connect(f.name)
                        try:
                            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
                        finally:
                            conn.close()
                        if result != "ok":
                            problems.append(f"journal.sqlite: integrity check says {result}")
    except (OSError, tarfile.TarError, EOFError) as exc:
        problems.append(f"{archive.name}: damaged archive ({exc})")
    return problems


def restore(archive: Path, root: Path) -> dict[str, Any]:
    """Restore processed/ and the journal as of `archive` into an empty root."""
    archive = Path(archive)
    root = Path(root)
    target_journal = Paths.under(root).journal
    if target_journal.exists() or ((root / "processed").exists() and any((root / "processed").iterdir())):
        raise BackupError(f"{root} is not empty: restore into a new root, then point the engine at it")
    manifest = read_manifest(archive)
    chain = [archive.with_name(name) for name in manifest["chain"]]
    for part in chain:
        if not part.exists():
            raise BackupError(f"{part.name}, part of this backup's chain, is missing")
        problems = verify(part)
        if problems:
            raise BackupError(f"{part.name} failed verification: {problems[0]}")
    processed = root / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    for part in chain:
        with tarfile.open(part, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("processed/") and m.isfile()]
            for m in members:
                rel = m.name[len("processed/") :]
                if rel.startswith("/") or ".." in Path(rel).parts:
                    raise BackupError(f"{part.name}: refusing unsafe path {m.name!r}")
                dest = processed / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
                mtime_ns = int(manifest["files"].get(rel, {}).get("mtime_ns", int(m.mtime) * 10**9))
                os.utime(dest, ns=(mtime_ns, mtime_ns))
    wanted = set(manifest["files"])
    for path in [p for p in processed.rglob("*") if p.is_file()]:
        if str(path.relative_to(processed)) not in wanted:
            path.unlink()
    target_journal.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar, open(target_journal, "wb") as out:
        shutil.copyfileobj(tar.extractfile("journal.sqlite"), out)
    return {"archive": archive.name, "chain": manifest["chain"], "files": len(wanted), "root": str(root)}
