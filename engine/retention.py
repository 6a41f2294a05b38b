"""Retention: remove what the config says is old enough (reports in archive/, and, when asked,
dated folders under processed/ and failed/). Backups prune themselves by chain (backup.py)."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

from .config import Config


def _old_day_folders(parent: Path, days: int, today: dt.date) -> list[Path]:
    if days <= 0 or not parent.exists():
        return []
    limit = today - dt.timedelta(days=days)
    out = []
    for folder in parent.iterdir():
        try:
            day = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and day < limit:
            out.append(folder)
    return out


def clean(config: Config, now: float | None = None) -> str:
    now = now or time.time()
    today = dt.date.fromtimestamp(now)
    r = config.retention
    folders = _old_day_folders(config.paths.failed, r.failed_days, today)
    if config.paths.processed.exists():
        for kind in config.paths.processed.iterdir():
            if kind.is_dir():
                folders += _old_day_folders(kind, r.processed_days, today)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    reports = 0
    if r.archive_days > 0 and config.paths.archive.exists():
        limit = now - r.archive_days * 86400
        for path in config.paths.archive.glob("report-*"):
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
                reports += 1
    return f"{len(folders)} dated folder(s) and {reports} report file(s) removed"
