"""Health of the filesystems under every configured folder: free space, and whether read-only.

Folders on one filesystem share one entry (they fill up together); the worst entry comes first,
since a health+json reader (and the alerting) looks at the first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_RANK = {"fail": 0, "warn": 1, "pass": 2}


def disk_checks(folders: dict[str, Path], warn_bytes: int, fail_bytes: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    filesystems: dict[int, tuple[list[str], os.statvfs_result]] = {}
    for role, path in folders.items():
        try:
            dev = os.stat(path).st_dev
            vfs = os.statvfs(path)
        except OSError as exc:
            entries.append(
                {"componentId": role, "status": "fail", "output": f"{path}: {exc.strerror or exc}"}
            )
            continue
        filesystems.setdefault(dev, ([], vfs))[0].append(role)
    for roles, vfs in filesystems.values():
        free = vfs.f_bavail * vfs.f_frsize
        readonly = bool(vfs.f_flag & os.ST_RDONLY)
        status = "fail" if readonly or free < fail_bytes else "warn" if free < warn_bytes else "pass"
        entry: dict[str, Any] = {
            "componentId": ", ".join(roles),
            "componentType": "filesystem",
            "status": status,
            "observedValue": free,
            "observedUnit": "bytes",
        }
        if readonly:
            entry["output"] = f"the filesystem of {', '.join(roles)} is read-only"
        elif status != "pass":
            entry["output"] = f"{free // 2**20} MiB free for {', '.join(roles)}"
        entries.append(entry)
    return sorted(entries, key=lambda e: _RANK[e["status"]])
