"""`chute check [--repair]`: the journal against the disk, both ways.

- every row's file is where the row says (placed files at their destination; files in flight in
  state/work or still in the inbox);
- every original under processed/ and failed/ has a row, and `--repair` rebuilds missing rows
  from the sidecars (`.meta.json`, the record line of `.error.txt`);
- files in state/work with no row are listed (the engine takes them back at its next start).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .journal import Journal
from .model import ACTIVE_STATES
from .placement import ERROR_SUFFIX, META_SUFFIX, read_record

COMPANIONS = (META_SUFFIX, ERROR_SUFFIX, ".normalized.csv", ".thumb.png", ".chute-partial")
PLACED_STATES = ("done", "failed", "duplicate")


@dataclass
class Finding:
    problem: str  # missing | unjournaled | lost | orphan | unreadable
    path: str
    file_id: int | None
    message: str
    repaired: bool = False


def walk(folder: Path) -> tuple[list[str], list[str]]:
    """(placed originals, companions whose original is not there) under processed/ or failed/."""
    found, strays = [], []
    for dirpath, _dirs, names in os.walk(folder):
        present = set(names)
        for name in names:
            if name.startswith("."):
                continue
            companion = next((s for s in COMPANIONS if name.endswith(s)), None)
            if companion is None:
                found.append(os.path.join(dirpath, name))
            elif companion in (META_SUFFIX, ERROR_SUFFIX) and name[: -len(companion)] not in present:
                strays.append(os.path.join(dirpath, name))
    return found, strays


def sidecar_record(path: str) -> dict[str, Any] | None:
    """A row rebuilt from the sidecar beside a placed original, or None without a usable one."""
    try:
        meta = json.loads(Path(path + META_SUFFIX).read_text(encoding="utf-8"))
        return {
            "id": meta.get("id"),
            "name": meta.get("name") or os.path.basename(path),
            "state": meta.get("state") or "done",
            "kind": meta.get("kind"),
            "size": meta.get("size"),
            "sha256": meta.get("sha256"),
            "attempts": meta.get("attempts"),
            "finished_at": meta.get("processed_at"),
            "duration": meta.get("duration_seconds"),
            "found": meta.get("found"),
            "dest": path,
        }
    except (OSError, ValueError, AttributeError):
        pass
    try:
        record = read_record(Path(path + ERROR_SUFFIX).read_text(encoding="utf-8"))
    except OSError:
        return None
    if record is None:
        return None
    return {
        **record,
        "name": record.get("name") or os.path.basename(path),
        "finished_at": record.get("failed_at"),
        "duration": record.get("duration_seconds"),
        "dest": path,
    }


def check(config: Config, journal: Journal, repair: bool = False, running: bool = False) -> list[Finding]:
    """Every disagreement between the journal and the disk; with `repair`, rows rebuilt.

    While an engine runs, files in flight move under our feet: only placed rows are compared.
    """
    paths = config.paths
    rows = journal.repair.places()
    findings: list[Finding] = []
    by_dest = {r.dest: r for r in rows if r.dest}
    prefix = journal.kv.get("work_prefix") or ""
    work_names = set()
    for r in rows:
        if r.state in PLACED_STATES and r.dest:
            if not os.path.lexists(r.dest):
                findings.append(
                    Finding("missing", r.dest, r.id, f"row #{r.id} says {r.name} is here, but nothing is")
                )
        elif r.state in ACTIVE_STATES:
            work = f"{prefix}-{r.id}" if prefix else str(r.id)
            work_names.add(work)
            if not running and not (os.path.lexists(paths.state / "work" / work) or os.path.lexists(r.src)):
                findings.append(
                    Finding(
                        "lost",
                        r.src,
                        r.id,
                        f"row #{r.id} ({r.state}) has its file neither in state/work nor at",
                    )
                )
    rebuild: list[tuple[Finding, dict[str, Any]]] = []
    for folder in (paths.processed, paths.failed):
        placed, strays = walk(folder)
        for path in strays:
            # A sidecar written just before a kill, whose original was then placed again under
            # another name: it describes nothing on disk.
            finding = Finding("stray", path, None, "a sidecar without its original:")
            if repair:
                os.unlink(path)
                finding.repaired = True
            findings.append(finding)
        for path in placed:
            if path in by_dest:
                continue
            record = sidecar_record(path)
            finding = Finding(
                "unjournaled" if record else "unreadable",
                path,
                record.get("id") if record else None,
                "no journal row for"
                + ("" if record else " (and no sidecar to rebuild one from; `chute retry` cannot reach it)"),
            )
            findings.append(finding)
            if record:
                rebuild.append((finding, record))
    if not running:
        for entry in os.scandir(paths.state / "work"):
            if entry.name not in work_names and not entry.name.startswith("."):
                findings.append(
                    Finding(
                        "orphan",
                        entry.path,
                        None,
                        "no journal row owns it; the next start takes it back from",
                    )
                )
    if repair and rebuild:
        ids = journal.repair.rebuild([record for _, record in rebuild])
        for (finding, _), fid in zip(rebuild, ids, strict=True):
            finding.repaired = True
            finding.file_id = fid
    return findings
