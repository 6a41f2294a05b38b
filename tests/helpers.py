"""Helpers the tests share (fixtures live in conftest.py): waiting, dropping files, test configs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from chute.engine import Config, Engine
from chute.engine.model import FileRecord
from chute.engine.placement import ERROR_SUFFIX, META_SUFFIX
from chute.engine.processors import Registry


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def drop(engine: Engine, name: str, data: bytes) -> Path:
    """Write a file the way a careful user does: straight into the inbox, closed at the end."""
    path = engine.config.paths.inbox / name
    with open(path, "wb") as f:
        f.write(data)
    return path


def record(engine: Engine, name: str) -> FileRecord | None:
    for f in engine.files(limit=1000).items:
        if f.name == name:
            return f
    return None


def settled(engine: Engine, name: str, timeout: float = 20.0) -> FileRecord:
    return wait_for(
        lambda: (r := record(engine, name)) is not None and r.state in ("done", "failed", "duplicate") and r,
        timeout,
        what=f"{name!r} to be placed",
    )


def test_config(root: Path, **sections) -> Config:
    watcher = {"min_age": 0.2, "scan_interval": 2.0, **sections.pop("watcher", {})}
    server = {"enabled": False, **sections.pop("server", {})}
    # An "every N" job that never ran runs at start; tests run their reports when they mean to.
    schedule = {"report": "", **sections.pop("schedule", {})}
    return Config.for_root(root, watcher=watcher, server=server, schedule=schedule, **sections)


test_config.__test__ = False  # a helper, not a test


def originals(folder: Path) -> list[Path]:
    """Placed originals under a folder (not their sidecars or outputs)."""
    companions = (META_SUFFIX, ERROR_SUFFIX, *Registry.default().output_suffixes())
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and not any(str(p).endswith(s) for s in companions)
    )


def fresh_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CHUTE_TOKEN", None)
    return env


def served_engine(root: Path, registry=None, **sections) -> Engine:
    """A started engine serving its API on an ephemeral loopback port (engine.server)."""
    from chute.engine.server import ServerService

    os.environ.pop("CHUTE_TOKEN", None)
    server = {"enabled": True, "port": 0, **sections.pop("server", {})}
    engine = Engine(test_config(root, server=server, **sections), registry=registry)
    engine.server = ServerService(engine)
    engine.add_service(engine.server)
    engine.start()
    return engine


async def until(pilot, predicate, timeout: float = 10.0, what: str = ""):
    """wait_for for a Textual pilot: polls while the app runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")
