"""Full disks, for real: a small tmpfs under processed/ or state/ filled to the last byte.

Each case ends with every input in exactly one place, the journal agreeing, the engine up, and the
fault said once: one `paused` event, one failing health check naming the folder and errno, one
alert; and work resumes by itself when space returns.
"""

from __future__ import annotations

import time
from pathlib import Path

from faultfs import fill, in_namespace, small_fs
from helpers import originals, test_config, wait_for

from chute.engine import Engine

N = 6


def quick_alerting_engine(root: Path) -> Engine:
    """An engine whose health alerts go out within a fraction of a second, and whose disk check
    does not fail merely because a test filesystem is small (only a fault may fail it)."""
    engine = Engine(
        test_config(root, alerts={"check_every": 0.1}, discord={"group_wait": 0.1, "group_interval": 0.1})
    )
    engine.health_limits.update(disk_warn_bytes=0, disk_fail_bytes=0)
    engine.start()
    return engine


def drop_all(inbox: Path) -> dict[str, bytes]:
    inputs = {f"f{i:02d}.txt": f"input number {i}\n".encode() * 40 for i in range(N)}
    for name, data in inputs.items():
        (inbox / name).write_bytes(data)
    return inputs


def events_of(engine: Engine, kind: str) -> list:
    return [e for e in engine.events(limit=5000) if e.type == kind]


def assert_each_in_one_place(engine: Engine, root: Path, inputs: dict[str, bytes]) -> None:
    rows = engine.files(limit=1000).items
    assert sorted(r.name for r in rows) == sorted(inputs), "one row per input, none twice"
    assert {r.state for r in rows} == {"done"}, [(r.name, r.state, r.reason) for r in rows]
    placed = originals(root / "processed")
    assert sorted(p.name for p in placed) == sorted(inputs), "no ` (n)` names from retried placements"
    for r in rows:
        assert Path(r.dest).read_bytes() == inputs[r.name]
        assert Path(r.dest + ".meta.json").stat().st_size > 0
    assert not list((root / "state" / "work").iterdir())
    assert not any(root.rglob("*.chute-partial"))


def test_processed_full_pauses_says_once_and_resumes_when_space_returns(tmp_path, request):
    if in_namespace(request):
        return
    root = tmp_path / "root"
    with small_fs(root / "processed", 512 * 1024):
        engine = quick_alerting_engine(root)
        try:
            filler = fill(root / "processed")
            inputs = drop_all(engine.config.paths.inbox)

            health = wait_for(
                lambda: "fault:processed" in (h := engine.health()).checks and h, what="a processed/ fault"
            )
            assert health.status == "fail"
            check = health.checks["fault:processed"][0]
            assert check["observedValue"] == "ENOSPC" and str(root / "processed") in check["componentId"]
            wait_for(lambda: engine.alerts(), what="the alert")
            time.sleep(1.0)  # ten probes and ten health checks later, still said once
            rows = engine.files(limit=100).items
            assert rows and {r.state for r in rows} <= {"queued", "placing"}, "the files stay claimed"
            claimed = list((root / "state" / "work").iterdir())
            assert len(claimed) == len(rows), "each claimed file waits in state/work"
            # Paused: what was not claimed before the fault waits in the inbox.
            assert len(claimed) + len(list(engine.config.paths.inbox.iterdir())) == N
            left = {p.name for p in (root / "processed").rglob("*") if p.is_file()}
            assert left == {".filler"}, "no orphaned sidecar, output or partial file"
            assert len(events_of(engine, "paused")) == 1
            alerts = engine.alerts()
            assert len(alerts) == 1 and "fault:processed" in alerts[0].body, alerts

            freed = time.monotonic()
            filler.unlink()
            wait_for(lambda: {r.state for r in engine.files(limit=100).items} == {"done"}, what="resumed")
            print(f"space freed -> last paused file placed: {time.monotonic() - freed:.2f}s")
            assert_each_in_one_place(engine, root, inputs)
            assert "fault:processed" not in engine.health().checks
            assert len(events_of(engine, "resumed")) == 1
            assert len(engine.alerts()) == 1, "resuming raised no second alert"
            assert not [e for e in engine.events(limit=5000) if e.type == "vanished"]
        finally:
            engine.stop()


def test_state_full_keeps_files_in_the_inbox_and_takes_each_once(tmp_path, request):
    if in_namespace(request):
        return
    root = tmp_path / "root"
    with small_fs(root / "state", 4 * 2**20):
        engine = quick_alerting_engine(root)
        try:
            filler = fill(root / "state")
            inputs = drop_all(engine.config.paths.inbox)
            health = wait_for(
                lambda: (
                    any(k in (h := engine.health()).checks for k in ("fault:state", "fault:journal")) and h
                ),
                what="a state/ fault",
            )
            assert health.status == "fail"
            time.sleep(1.0)
            assert engine.pipeline.alive(), "no thread died of a journal write error"
            inbox = sorted(p.name for p in engine.config.paths.inbox.iterdir())
            assert inbox == sorted(inputs), "the files wait in the inbox, none half taken"
            assert not [r for r in engine.files(limit=100).items if r.state == "vanished"]

            filler.unlink()
            wait_for(lambda: len(engine.files(limit=100).items) == N, what="every file claimed")
            wait_for(lambda: {r.state for r in engine.files(limit=100).items} == {"done"}, what="resumed")
            assert_each_in_one_place(engine, root, inputs)
            assert not [k for k in engine.health().checks if k.startswith("fault:")]
        finally:
            engine.stop()


def test_a_placed_file_is_never_journaled_as_anything_but_placed(tmp_path, request):
    """processed/ fills up in the middle of a batch: the files placed before are journaled done."""
    if in_namespace(request):
        return
    root = tmp_path / "root"
    with small_fs(root / "processed", 512 * 1024):
        engine = quick_alerting_engine(root)
        try:
            # Room for a few files (each with its sidecar), not for all of them.
            filler = fill(root / "processed", leave=24 * 1024)
            inputs = {f"b{i:02d}.txt": (b"%02d" % i) * 2000 for i in range(N)}
            for name, data in inputs.items():
                (engine.config.paths.inbox / name).write_bytes(data)
            wait_for(lambda: "fault:processed" in engine.health().checks, what="the fault")
            rows = engine.files(limit=100).items
            placed = [r for r in rows if r.state == "done"]
            for r in placed:
                assert Path(r.dest).read_bytes() == inputs[r.name]
            for r in rows:
                if r.state != "done":
                    assert r.state in ("queued", "placing"), (r.name, r.state, r.reason)
            filler.unlink()
            wait_for(lambda: {r.state for r in engine.files(limit=100).items} == {"done"}, what="resumed")
            assert_each_in_one_place(engine, root, inputs)
        finally:
            engine.stop()


def test_health_checks_the_filesystem_of_every_folder(tmp_path, request):
    if in_namespace(request):
        return
    root = tmp_path / "root"
    with small_fs(root / "backups", 1024 * 1024):
        engine = Engine(test_config(root))
        engine.start()
        try:
            disk = engine.health().checks["disk:free"]
            assert disk[0]["componentId"] == "backups" and disk[0]["status"] == "fail", disk
            covered = ", ".join(entry["componentId"] for entry in disk)
            for folder in ("inbox", "processed", "failed", "state", "backups"):
                assert folder in covered
        finally:
            engine.stop()
