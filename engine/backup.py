"""Backups of processed/, failed/ and the journal, incremental, with sha256 manifests.

Each archive (backups/chute-<stamp>-full.tar.gz or -incr.tar.gz) holds, in this order:
- manifest.json: every file of processed/ and failed/ at that moment (sha256, size, mtime, and
  which archive of the chain holds its bytes), what this archive includes, what was deleted since
  the last one, and the chain of archives it builds on;
- journal.sqlite: a consistent copy made with SQLite's online backup API;
- processed/<path> and failed/<path> for each file new or changed since the previous archive.
A copy of the manifest sits beside the archive (<archive>.manifest.json) so the next backup can
tell what changed without opening the last one.

The journal is copied first and the folders are read after it; a file that changed after the
copy and that the copy does not list as placed is left for the next backup. So the archived
journal and the archived files describe the same moment: every file the journal says is placed
is in the chain, and no file arrives that the journal does not know.

Restore a chain with `chute restore ARCHIVE --to DIR` (or restore() below): each archive of the
chain is verified end to end, then the newest copy of every file is extracted, giving processed/,
failed/ and state/journal.sqlite exactly as they were.

Retention works on whole chains (a full and the incrementals that name it), never the newest
chain, and never an archive that a kept archive's chain still needs, whatever the clock says.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import BackupConfig, Paths

FORMAT = 2
SUFFIX = ".tar.gz"
MANIFEST_SUFFIX = ".manifest.json"
TREES = ("processed", "failed")
SCRATCH_PREFIX = "backup-scratch-"
# Filesystems stamp ctime from a coarse clock that may lag time.time() by a tick: a file whose
# ctime is within this of the journal copy is trusted only if the copy lists it.
CTIME_SLACK_NS = 50_000_000
_LEGACY_SCRATCH = re.compile(r"^tmp[a-z0-9_]{8}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 16


class BackupError(RuntimeError):
    pass


class BackupInterrupted(BackupError):
    """The engine stopped while a backup was being written; its partial output is removed."""


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
        deleted = f", {self.deleted} deleted" if self.deleted else ""
        pruned = f"; pruned {len(self.pruned)} old archive(s)" if self.pruned else ""
        return (
            f"{self.kind} backup {self.archive.name}: {self.included} of {self.total_files} files "
            f"({self.included_bytes / 1e6:.1f} MB){deleted}{pruned}"
        )


@dataclass(frozen=True)
class _Plan:
    name: str
    kind: str
    seq: int
    chain: list[str]
    base: str | None
    before: dict[str, dict[str, Any]]  # the previous manifest's files (empty for a full)


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _order(doc: dict[str, Any]) -> tuple:
    # A sequence number, not the clock, says which archive came last: clocks step back.
    return (doc.get("seq", 0), doc.get("created", 0))


def archives(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every archive with a readable manifest beside it, oldest first."""
    out = []
    for side in folder.glob(f"chute-*{SUFFIX}{MANIFEST_SUFFIX}"):
        archive = side.with_name(side.name[: -len(MANIFEST_SUFFIX)])
        if not archive.exists():
            continue
        try:
            doc = parse_manifest(side.read_bytes())
        except (OSError, BackupError):
            continue
        out.append((archive, doc))
    out.sort(key=lambda item: (*_order(item[1]), item[0].name))
    return out


def remove_leftovers(paths: Paths) -> list[str]:
    """Delete what a backup killed mid-way left behind (partial archives, scratch folders)."""
    removed = []
    if paths.backups.is_dir():
        for part in paths.backups.glob("*.part"):
            part.unlink(missing_ok=True)
            removed.append(part.name)
    if paths.state.is_dir():
        for scratch in paths.state.iterdir():
            # tmpXXXXXXXX with at most a journal copy inside: the scratch folder of an older chute.
            legacy = _LEGACY_SCRATCH.match(scratch.name) and {p.name for p in scratch.glob("*")} <= {
                "journal.sqlite"
            }
            if scratch.is_dir() and (scratch.name.startswith(SCRATCH_PREFIX) or legacy):
                shutil.rmtree(scratch, ignore_errors=True)
                removed.append(scratch.name)
    return removed


class Backups:
    def __init__(
        self,
        paths: Paths,
        config: BackupConfig,
        clock=time.time,
        cancel: threading.Event | None = None,
    ) -> None:
        self.paths = paths
        self.config = config
        self.folder = paths.backups
        self.clock = clock
        self.cancel = cancel or threading.Event()

    def run(self) -> BackupResult:
        """Copy the journal, list the files as of that copy, write the archive, prune old chains."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob("*.part"):
            stale.unlink(missing_ok=True)  # left by a backup that was killed
        plan = self._plan(archives(self.folder))
        now = self.clock()
        try:
            with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=self.paths.state) as scratch:
                journal_copy = Path(scratch) / "journal.sqlite"
                taken_ns = time.time_ns()
                self._copy_journal(journal_copy)
                files, included = self._scan(plan, placed_in(journal_copy, self.paths.root), taken_ns)
                manifest = self._manifest(plan, now, files, included, journal_copy)
                self._write(plan.name, manifest, journal_copy, now)
        except (OSError, sqlite3.Error) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise BackupError(f"backup {plan.name} failed: {why}; its partial output was removed") from exc
        return BackupResult(
            self.folder / plan.name,
            plan.kind,
            len(included),
            sum(files[r]["size"] for r in included),
            len(files),
            len(manifest["deleted"]),
            self.prune(),
        )

    def _manifest(
        self,
        plan: _Plan,
        now: float,
        files: dict[str, dict[str, Any]],
        included: list[str],
        journal_copy: Path,
    ) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "seq": plan.seq,
            "created": now,
            "root": str(self.paths.root),  # so a restore can rewrite paths an older journal kept absolute
            "kind": plan.kind,
            "base": plan.base,
            "chain": plan.chain,
            "files": files,
            "included": included,
            "deleted": sorted(set(plan.before) - set(files)),
            "journal_sha256": _sha256_file(journal_copy),
        }

    def _plan(self, history: list[tuple[Path, dict[str, Any]]]) -> _Plan:
        """Full or incremental, its name, and what it builds on."""
        previous = history[-1][1] if history else None
        since_full = 0
        for _, doc in reversed(history):
            if doc["kind"] == "full":
                break
            since_full += 1
        full = previous is None or since_full >= self.config.full_every or previous["format"] < FORMAT
        kind = "full" if full else "incremental"
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock()))
        tag = "full" if full else "incr"
        name = f"chute-{stamp}-{tag}{SUFFIX}"
        n = 1
        while (self.folder / name).exists():
            name = f"chute-{stamp}.{n}-{tag}{SUFFIX}"
            n += 1
        return _Plan(
            name=name,
            kind=kind,
            seq=(previous.get("seq", 0) if previous else 0) + 1,
            chain=[name] if full else [*previous["chain"], name],
            base=None if full else history[-1][0].name,
            before={} if full else previous["files"],
        )

    def _walk(self) -> Iterator[tuple[str, os.stat_result]]:
        for tree in TREES:
            root = getattr(self.paths, tree)
            for dirpath, _dirs, names in os.walk(root):
                for name in names:
                    path = os.path.join(dirpath, name)
                    try:
                        st = os.lstat(path)
                    except FileNotFoundError:
                        continue
                    if os.path.isfile(path) and not os.path.islink(path):
                        yield f"{tree}/{os.path.relpath(path, root)}", st

    def _scan(
        self, plan: _Plan, placed: set[str], taken_ns: int
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """What the archive describes (files) and holds (included), as of the journal copy."""
        files: dict[str, dict[str, Any]] = {}
        included: list[str] = []
        cut = taken_ns - CTIME_SLACK_NS
        for rel, st in self._walk():
            old = plan.before.get(rel)
            if st.st_ctime_ns >= cut and not _known(rel, placed):
                if old is not None:
                    files[rel] = old  # changed after the copy: the next backup takes the change
                continue  # arrived after the journal copy: the next backup takes it
            if old is not None and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
                files[rel] = old
                continue
            try:
                digest = _sha256_file(self._path(rel))
            except FileNotFoundError:
                continue
            files[rel] = {"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "in": plan.name}
            included.append(rel)
        return files, included

    def _path(self, rel: str) -> Path:
        tree, _, rest = rel.partition("/")
        return getattr(self.paths, tree) / rest

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

    def _write(self, name: str, manifest: dict[str, Any], journal_copy: Path, now: float) -> None:
        """Write the archive under .part and publish it whole, or leave nothing behind."""
        final = self.folder / name
        tmp = self.folder / (name + ".part")
        side = self.folder / (name + MANIFEST_SUFFIX)
        data = json.dumps(manifest, indent=1).encode()
        try:
            with open(tmp, "xb") as raw:
                # No file name in the gzip header: the archive's name is its own, not the .part's.
                with (
                    gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=1, mtime=int(now)) as gz,
                    tarfile.open(fileobj=gz, mode="w") as tar,
                ):
                    _add_bytes(tar, "manifest.json", data, now)
                    tar.add(journal_copy, "journal.sqlite")
                    for rel in manifest["included"]:
                        if self.cancel.is_set():
                            raise BackupInterrupted(
                                f"backup {name} interrupted: the engine is stopping; its partial output was removed"
                            )
                        self._add_file(tar, rel, manifest["files"][rel])
                raw.flush()
                os.fsync(raw.fileno())
            side.write_bytes(data)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            side.unlink(missing_ok=True)
            raise

    def _add_file(self, tar: tarfile.TarFile, rel: str, entry: dict[str, Any]) -> None:
        path = self._path(rel)
        try:
            with open(path, "rb") as f:
                info = tar.gettarinfo(fileobj=f, arcname=rel)
                if info.size != entry["size"]:
                    raise BackupError(f"{rel} changed while it was being backed up; the next backup takes it")
                reader = _Hashing(f)
                tar.addfile(info, reader)
        except FileNotFoundError:
            raise BackupError(f"{rel} was removed while it was being backed up; try again") from None
        if reader.sha.hexdigest() != entry["sha256"]:
            raise BackupError(f"{rel} changed while it was being backed up; the next backup takes it")

    def prune(self) -> list[str]:
        history = archives(self.folder)
        if not history:
            return []
        chains: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
        for archive, doc in history:
            chains.setdefault(doc["chain"][0], []).append((archive, doc))
        newest = history[-1][1]["chain"][0]
        now = self.clock()
        total = len(history)
        doomed: list[Path] = []
        for key, members in chains.items():  # oldest chain first: dicts keep history's order
            if key == newest:
                continue
            latest = max(doc["created"] for _, doc in members)
            too_old = self.config.keep_days > 0 and latest < now - self.config.keep_days * 86400
            too_many = total - len(members) >= self.config.keep_count
            if too_old or too_many:
                doomed += [archive for archive, _ in members]
                total -= len(members)
        doomed_names = {a.name for a in doomed}
        needed = {n for a, doc in history if a.name not in doomed_names for n in doc["chain"]}
        removed = []
        for archive in doomed:
            if archive.name in needed:
                continue  # a kept archive still builds on it
            archive.unlink(missing_ok=True)
            Path(str(archive) + MANIFEST_SUFFIX).unlink(missing_ok=True)
            removed.append(archive.name)
        return removed


class _Hashing(io.RawIOBase):
    """A reader that hashes what passes through it."""

    def __init__(self, f) -> None:
        self.f = f
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.sha.update(data)
        return data


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    tar.addfile(info, io.BytesIO(data))


def _known(rel: str, placed: set[str]) -> bool:
    """Whether the journal lists rel as placed, or rel is a companion (<name>.meta.json ...) of one."""
    if rel in placed:
        return True
    base = rel.rfind("/") + 1
    dot = rel.find(".", base + 1)
    while dot != -1:
        if rel[:dot] in placed:
            return True
        dot = rel.find(".", dot + 1)
    return False


def placed_in(journal: Path, root: Path) -> set[str]:
    """Paths, relative to the root, of every file a journal lists as placed."""
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT dest FROM files WHERE dest IS NOT NULL AND state IN ('done','duplicate','failed')"
        ).fetchall()
    except sqlite3.Error:
        return set()  # a journal without files yet
    finally:
        conn.close()
    out = set()
    for (dest,) in rows:
        path = os.fsdecode(dest)
        if os.path.isabs(path):
            path = os.path.relpath(path, root)
        out.add(path)
    return out


# --- reading archives ---------------------------------------------------------------------------


def parse_manifest(data: bytes) -> dict[str, Any]:
    """A manifest checked for shape (BackupError naming what is wrong); format 1 is upgraded."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"manifest.json is not JSON ({exc})") from None
    try:
        _check_manifest(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BackupError(f"manifest.json is damaged ({type(exc).__name__}: {exc})") from None
    if doc["format"] == 1:  # paths were relative to processed/, and failed/ was not backed up
        doc["files"] = {f"processed/{k}": v for k, v in doc["files"].items()}
        doc["included"] = [f"processed/{k}" for k in doc["included"]]
        doc["deleted"] = [f"processed/{k}" for k in doc["deleted"]]
    return doc


def _check_manifest(doc: Any) -> None:
    if doc["format"] not in (1, FORMAT):
        raise ValueError(f"format {doc['format']!r} is not one this chute reads")
    if doc["kind"] not in ("full", "incremental"):
        raise ValueError(f"kind {doc['kind']!r}")
    float(doc["created"])
    chain = doc["chain"]
    if not chain or not all(isinstance(n, str) and n.startswith("chute-") and "/" not in n for n in chain):
        raise ValueError("chain")
    if (doc["kind"] == "full") != (len(chain) == 1):
        raise ValueError("chain does not match kind")
    if not isinstance(doc["files"], dict) or not _SHA.match(doc["journal_sha256"]):
        raise ValueError("files or journal_sha256")
    prefix = "processed/" if doc["format"] == 1 else ""
    for rel, entry in doc["files"].items():
        _safe(prefix + rel)
        if not (_SHA.match(entry["sha256"]) and int(entry["size"]) >= 0 and entry["in"] in chain):
            raise ValueError(f"entry for {rel!r}")
        int(entry["mtime_ns"])
    for rel in doc["included"]:
        if doc["files"][rel]["in"] != chain[-1]:
            raise ValueError(f"{rel!r} is included but said to be in another archive")
    for rel in doc["deleted"]:
        _safe(prefix + rel)


def _safe(rel: str) -> None:
    parts = rel.split("/")
    if parts[0] not in TREES or len(parts) < 2 or rel.startswith("/") or {"..", "", "."} & set(parts):
        raise ValueError(f"unsafe path {rel!r}")


def _stream(archive: Path) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Members in order, reading the gzip stream to its end so its CRC and length are checked."""
    with open(archive, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
        with tarfile.open(fileobj=gz, mode="r|") as tar:
            for member in tar:
                yield member, tar
        while gz.read(_CHUNK):
            pass


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[bytes]:
    f = tar.extractfile(member)
    while chunk := f.read(_CHUNK):
        yield chunk


def read_manifest(archive: Path) -> dict[str, Any]:
    """The manifest inside an archive (its first member); BackupError if unreadable."""
    archive = Path(archive)
    try:
        with (
            open(archive, "rb") as raw,
            gzip.GzipFile(fileobj=raw, mode="rb") as gz,
            tarfile.open(fileobj=gz, mode="r|") as tar,
        ):
            first = next(iter(tar), None)
            if first is None or first.name != "manifest.json" or not first.isfile():
                raise BackupError("manifest.json is not its first member")
            return parse_manifest(tar.extractfile(first).read())
    except BackupError as exc:
        raise BackupError(f"{archive.name}: not a readable chute backup ({exc})") from None
    except Exception as exc:  # any damage is a readable answer, never a traceback
        raise BackupError(
            f"{archive.name}: not a readable chute backup ({type(exc).__name__}: {exc})"
        ) from None


def verify(archive: Path) -> list[str]:
    """Problems found reading an archive end to end against its manifest (empty: it is sound).

    Never raises: damage of any kind is reported as a problem.
    """
    archive = Path(archive)
    try:
        return _verify(archive)
    except BackupError as exc:
        return [str(exc)]
    except Exception as exc:  # corrupt input must give an answer, not a traceback
        return [f"{archive.name}: damaged archive ({type(exc).__name__}: {exc})"]


def _verify(archive: Path) -> list[str]:
    manifest = read_manifest(archive)
    problems: list[str] = []
    side = Path(str(archive) + MANIFEST_SUFFIX)
    if side.exists() and _side_differs(side, manifest):
        problems.append(f"{side.name}: differs from the manifest inside the archive")
    if manifest["chain"][-1] != archive.name:
        problems.append(f"{archive.name}: its manifest names it {manifest['chain'][-1]}")
    expected = {rel: manifest["files"][rel] for rel in manifest["included"]}
    seen: set[str] = set()
    for member, tar in _stream(archive):
        name = member.name
        if name in seen:
            problems.append(f"{name}: stored twice")
            continue
        seen.add(name)
        if name == "manifest.json":
            continue
        if not member.isfile():
            problems.append(f"{name}: not a regular file")
            continue
        if name == "journal.sqlite":
            problems += _journal_problems(tar, member, manifest["journal_sha256"])
            continue
        sha = hashlib.sha256()
        size = 0
        for chunk in _read(tar, member):
            sha.update(chunk)
            size += len(chunk)
        entry = expected.get(name)  # member names are the manifest's paths (format 1 too)
        if entry is None:
            problems.append(f"{name}: in the archive but not in its manifest")
        elif size != entry["size"] or sha.hexdigest() != entry["sha256"]:
            problems.append(f"{name}: sha256 {sha.hexdigest()[:12]}… does not match the manifest")
    if "manifest.json" not in seen:
        problems.append("manifest.json: missing")
    if "journal.sqlite" not in seen:
        problems.append("journal.sqlite: missing")
    for rel in expected:
        if rel not in seen:
            problems.append(f"{rel}: listed in the manifest but missing from the archive")
    return problems


def _side_differs(side: Path, manifest: dict[str, Any]) -> bool:
    try:
        return parse_manifest(side.read_bytes()) != manifest
    except (OSError, BackupError):
        return True


def _journal_problems(tar: tarfile.TarFile, member: tarfile.TarInfo, sha256: str) -> list[str]:
    """The journal copy against its checksum, then SQLite's own integrity check."""
    sha = hashlib.sha256()
    with tempfile.NamedTemporaryFile(suffix=".sqlite") as f:
        for chunk in _read(tar, member):
            sha.update(chunk)
            f.write(chunk)
        f.flush()
        if sha.hexdigest() != sha256:
            return ["journal.sqlite: sha256 does not match the manifest"]
        try:
            conn = sqlite3.connect(f.name)
            try:
                result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return [f"journal.sqlite: not a readable SQLite database ({exc})"]
    return [] if result == "ok" else [f"journal.sqlite: integrity check says {result}"]


def restore(archive: Path, root: Path) -> dict[str, Any]:
    """Restore processed/, failed/ and the journal as of `archive` into an empty root."""
    archive = Path(archive)
    root = Path(root)
    target_journal = Paths.under(root).journal
    if target_journal.exists() or any(_nonempty(root / tree) for tree in TREES):
        raise BackupError(f"{root} is not empty: restore into a new root, then point the engine at it")
    manifest = read_manifest(archive)
    chain = [archive.with_name(name) for name in manifest["chain"]]
    for i, part in enumerate(chain):
        if not part.exists():
            raise BackupError(f"{part.name}, part of this backup's chain, is missing")
        problems = verify(part)
        if problems:
            raise BackupError(f"{part.name} failed verification: {problems[0]}")
        if read_manifest(part)["chain"] != manifest["chain"][: i + 1]:
            raise BackupError(f"{part.name} belongs to another chain than {archive.name}")
    wanted = manifest["files"]
    try:
        for tree in TREES:
            (root / tree).mkdir(parents=True, exist_ok=True)
        target_journal.parent.mkdir(parents=True, exist_ok=True)
        for part in chain:
            for member, tar in _stream(part):
                rel = member.name
                if rel == "journal.sqlite" and part == archive:
                    _extract(tar, member, target_journal)
                elif rel in wanted and wanted[rel]["in"] == part.name:
                    dest = root / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    _extract(tar, member, dest)
                    mtime_ns = int(wanted[rel]["mtime_ns"])
                    os.utime(dest, ns=(mtime_ns, mtime_ns))
    except OSError as exc:
        raise BackupError(f"restoring into {root} failed: {exc.strerror or exc}") from None
    except Exception as exc:  # the archive changed since it was verified
        raise BackupError(f"{archive.name}: could not be read while restoring ({exc})") from None
    missing = [rel for rel in wanted if not (root / rel).is_file()]
    if missing:
        raise BackupError(f"{missing[0]} and {len(missing) - 1} more are in no archive of the chain")
    _relocate(target_journal, root, manifest)
    return {"archive": archive.name, "chain": manifest["chain"], "files": len(wanted), "root": str(root)}


def _relocate(journal_path: Path, root: Path, manifest: dict[str, Any]) -> None:
    """A journal from a chute that kept absolute paths names the old root's files: the files
    store rewrites the ones under the old root relative to it, so they resolve under the new
    root; paths outside the old root are left alone."""
    absolute = _absolute_dests(journal_path)
    if not absolute:
        return  # relative already: nothing refers to the old root
    old_root = manifest.get("root") or _old_root(absolute, manifest["files"])
    if old_root is None:
        return
    from .journal import Journal, JournalError

    try:
        journal = Journal(journal_path, root=root)
        try:
            journal.files.relocate(old_root)
        finally:
            journal.close()
    except JournalError as exc:
        raise BackupError(f"the restored journal cannot be opened: {exc}") from None


def _absolute_dests(journal_path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT dest FROM files WHERE substr(dest, 1, 1) IN ('/', x'2f') LIMIT 100"
        ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return [os.fsdecode(d) for (d,) in rows]


def _old_root(dests: list[str], files: dict[str, Any]) -> str | None:
    """The root an archive was made under, told by a journal path that ends in an archived file."""
    for dest in dests:
        for tree in TREES:
            i = dest.find(f"/{tree}/")
            while i != -1:
                if dest[i + 1 :] in files:
                    return dest[:i]
                i = dest.find(f"/{tree}/", i + 1)
    return None


def _nonempty(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    with open(dest, "xb") as out:
        for chunk in _read(tar, member):
            out.write(chunk)
