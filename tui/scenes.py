"""Fixed scenes of the console: the same data every time, for snapshot tests and for the SVGs in
screenshots/ (regenerate them with `python -m chute.tui.scenes`).

SceneSource answers like a real engine would, from constants; with the clock fixed and TZ=UTC
nothing in the picture depends on when or where it is drawn.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from chute.engine.model import (
    Alert,
    Attempt,
    EndpointStats,
    Event,
    FileDetail,
    FilePage,
    FileRecord,
    JobStatus,
    MinutePoint,
    Quantiles,
    RequestRecord,
    RetryResult,
    Snapshot,
    from_dict,
)

from .source import SourceError

NOW = 1_795_000_000.0  # a fixed "now": 2026-11-18 11:06:40 UTC
ROOT = "/srv/chute"
SIZES = ((80, 24), (120, 40))
# scene name -> keys pressed after loading (and the console it starts from: see scene_app)
SCENES: dict[str, tuple[str, ...]] = {
    "overview": ("1",),
    "files": ("2",),
    "failures": ("3", "down", "down"),
    "filtered": ("2", "slash", *"kind:csv", "enter"),
    "requests": ("4",),
    "schedules": ("5",),
    "detail": ("3", "enter"),
    "detail-timeline": ("3", "enter", "end"),
    "help": ("question_mark",),
    "engines": ("3",),
    "token-refused": (),
    "readonly": ("3",),
}

_NAMES = [
    ("orders-2026-11.csv", "csv", "done", None, None),
    (
        "scan-0042.png",
        "image",
        "failed",
        "corrupt",
        "truncated image: image file is truncated (38 bytes not processed)",
    ),
    ("minutes.txt", "text", "done", None, None),
    ("invoice-7731.pdf", "pdf", "done", None, None),
    ("locked-contract.pdf", "pdf", "failed", "encrypted", "encrypted PDF: a password is needed to open it"),
    ("events.json", "json", "done", None, None),
    ("고객목록.csv", "csv", "done", None, None),
    ("broken-feed.json", "json", "failed", "corrupt", "invalid JSON at line 4 column 1: Expecting value"),
    ("ragged-export.csv", "csv", "failed", "corrupt", "ragged rows: line 4 has 4 fields, the header has 3"),
    ("server.log", "text", "done", None, None),
    ("photo-holiday.jpg", "image", "done", None, None),
    ("dump.txt", "text", "failed", "binary", "binary content, not text: NUL at offset 0"),
    ("empty.log", None, "failed", "empty", "the file is empty (0 bytes)"),
    ("weekly report.txt", "text", "done", None, None),
]


def _record(i: int) -> FileRecord:
    name, kind, state, error_kind, reason = _NAMES[i % len(_NAMES)]
    fid = 1000 + i
    arrived = NOW - 600 + i * 37.0
    day = "2026-11-18"
    folder = f"processed/{kind}/{day}" if state == "done" else f"failed/{day}"
    return FileRecord(
        id=fid,
        name=name if i < len(_NAMES) else f"{i:03d}-{name}",
        state=state,
        kind=kind,
        size=0 if error_kind == "empty" else 1024 + i * 311,
        sha256=f"{fid:064x}",
        attempts=2 if state == "failed" and i % 3 == 0 else 1,
        error_kind=error_kind,
        reason=reason,
        arrived_at=arrived,
        updated_at=arrived + 0.2,
        finished_at=arrived + 0.2,
        duration=0.0004 + (i % 7) * 0.0031,
        latency=0.004 + (i % 5) * 0.002,
        dest=f"{ROOT}/{folder}/{name}",
    )


RECORDS = [_record(i) for i in range(40)]


class SceneSource:
    def __init__(self, name: str = "demo", address: str = "http://127.0.0.1:8765") -> None:
        self.name = name
        self.address = address

    async def snapshot(self) -> Snapshot:
        counts = {
            "queued": 2,
            "retrying": 0,
            "placing": 0,
            "done": 1832,
            "failed": 47,
            "duplicate": 3,
            "vanished": 0,
        }
        return Snapshot(
            name="demo",
            version="0.1.0",
            started_at=NOW - 8040,
            uptime=8040.0,
            counts=counts,
            kinds={
                "csv": {"done": 612, "failed": 18},
                "text": {"done": 701, "failed": 9},
                "image": {"done": 233, "failed": 7},
                "pdf": {"done": 171, "failed": 8},
                "json": {"done": 115, "failed": 5},
            },
            total=sum(counts.values()),
            queue_depth=2,
            in_flight=1,
            rate_per_min=42.0,
            latency=Quantiles(0.006, 0.011, 0.013, 0.022, 1.4, 1000),
            processing=Quantiles(0.0009, 0.004, 0.006, 0.018, 1.2, 1000),
            last_scan_at=NOW - 12,
            watcher_alive=True,
            schedules=[
                JobStatus(
                    name="backup",
                    when="daily 01:00",
                    last_run=NOW - 31_000,
                    last_outcome="ok",
                    last_duration=4.2,
                    next_run=NOW + 55_400,
                    last_message="incremental: 312 files, 4.1 MB",
                ),
                JobStatus(
                    name="report",
                    when="every 24 hours",
                    last_run=NOW - 3_600,
                    last_outcome="ok",
                    last_duration=0.8,
                    next_run=NOW + 82_800,
                    last_message="emailed to ops@example.com",
                ),
                JobStatus(
                    name="retention",
                    when="daily 02:00",
                    last_run=NOW - 27_400,
                    last_outcome="failed",
                    last_duration=0.1,
                    next_run=NOW + 59_000,
                    last_message="backups/: permission denied",
                ),
            ],
            last_event_id=5000,
            unread_alerts=2,
        )

    async def history(self, minutes: int = 60) -> list[MinutePoint]:
        out = []
        for i in range(minutes):
            wave = (i * 7 % 23) / 23
            out.append(
                MinutePoint(
                    minute=NOW - (minutes - 1 - i) * 60,
                    files=int(20 + 40 * wave),
                    failed=i % 4,
                    latency_p50=0.004 + wave * 0.004,
                    latency_p95=0.009 + wave * 0.01,
                    processing_p95=0.002 + wave * 0.012 + (0.05 if i == minutes - 9 else 0),
                    http_requests=60 + i,
                    http_errors=i % 3,
                    http_p95=0.008 + ((i * 5) % 11) / 1000,
                )
            )
        return out

    async def files(self, state=None, kind=None, q=None, limit=100, before=None) -> FilePage:
        items = [
            r
            for r in reversed(RECORDS)
            if (state is None or r.state == state)
            and (kind is None or r.kind == kind)
            and (q is None or q in r.name)
            and (before is None or r.id < before)
        ]
        return FilePage(items=items[:limit], next_before=None)

    async def file(self, file_id: int) -> FileDetail | None:
        rec = next((r for r in RECORDS if r.id == file_id), None)
        if rec is None:
            return None
        attempts = [
            Attempt(
                n,
                rec.arrived_at + n,
                rec.arrived_at + n + 0.01,
                rec.state,
                rec.error_kind,
                rec.reason,
                rec.duration or 0,
            )
            for n in range(1, rec.attempts + 1)
        ]
        events = [
            Event(1, rec.arrived_at, "arrived", rec.id, rec.name),
            Event(
                2,
                rec.finished_at or NOW,
                rec.state,
                rec.id,
                f"{rec.name}: {rec.reason}" if rec.reason else rec.name,
            ),
        ]
        meta = {"note": "named .png; the content is truncated"} if rec.kind == "image" else {"lines": 12}
        return FileDetail(file=rec, meta=meta, attempts=attempts, events=events)

    async def retry(self, ids: list[int]) -> RetryResult:
        return RetryResult(retried=list(ids), skipped={})

    async def events(self, since: int, wait: float = 0.0) -> tuple[list[Event], int]:
        out = []
        for i, rec in enumerate(RECORDS[-12:]):
            out.append(
                Event(
                    4990 + i,
                    rec.finished_at or NOW,
                    rec.state,
                    rec.id,
                    f"{rec.name}: {rec.reason}" if rec.reason else rec.name,
                )
            )
        return out, 5000

    async def endpoints(self) -> list[EndpointStats]:
        rows = [
            ("/test/normal", 1840, 0, 0.011, 0.019, 0.021, 0.034),
            ("/api/v1/events", 612, 0, 0.41, 1.0, 1.0, 1.01),
            ("/test/items/<int:item>", 530, 0, 0.0005, 0.0009, 0.0012, 0.004),
            ("/test/error", 92, 92, 0.0007, 0.0009, 0.001, 0.002),
            ("/test/slow", 74, 0, 1.9, 2.8, 2.95, 2.99),
            ("/test/server-error", 60, 60, 0.0004, 0.0006, 0.0007, 0.001),
            ("<unmatched>", 21, 0, 0.0006, 0.0008, 0.0009, 0.001),
        ]
        out = []
        for route, n, errors, p50, p95, p99, mx in rows:
            out.append(
                from_dict(
                    EndpointStats,
                    {
                        "route": route,
                        "count": n,
                        "errors": errors,
                        "error_rate": errors / n,
                        "exceptions": {
                            "RuntimeError": {
                                "count": errors,
                                "last_message": "failed on purpose",
                                "last_at": NOW,
                            }
                        }
                        if route == "/test/error"
                        else {},
                        "latency": {"count": n, "p50": p50, "p90": p95, "p95": p95, "p99": p99, "max": mx},
                        "windows": {
                            "5m": {
                                "count": n // 10,
                                "errors": errors // 10,
                                "error_rate": errors / n,
                                "p95": p95,
                            }
                        },
                    },
                ),
            )
        return out

    async def recent_requests(self, limit: int = 50) -> list[RequestRecord]:
        paths = [
            ("GET", "/test/normal", 200, 0.012),
            ("GET", "/test/items/311", 200, 0.0005),
            ("GET", "/test/error", 500, 0.0008),
            ("GET", "/test/notfound", 404, 0.0006),
            ("GET", "/api/v1/events", 200, 1.0),
            ("GET", "/test/slow", 200, 2.1),
            ("GET", "/test/server-error", 503, 0.0004),
        ]
        return [
            RequestRecord(
                time=NOW - i * 3,
                method=m,
                path=p,
                route=p,
                status=s,
                duration=d,
                error="RuntimeError" if s == 500 else None,
            )
            for i, (m, p, s, d) in enumerate(paths * 3)
        ][:limit]

    async def alerts(self, limit: int = 100) -> tuple[list[Alert], int]:
        return [
            Alert(
                3,
                NOW - 300,
                "files_failed",
                "warning",
                "7 files failed in the last 5 minutes",
                "scan-0042.png, dump.txt, ...",
                7,
                False,
            ),
            Alert(
                2, NOW - 27_400, "job_failed", "critical", "retention failed: permission denied", "", 1, False
            ),
            Alert(
                1,
                NOW - 90_000,
                "http_errors",
                "warning",
                "HTTP error burst: 31% errors on /test/error",
                "",
                1,
                True,
            ),
        ], 2

    async def mark_alert_read(self, alert_id: int, read: bool = True) -> None:
        pass

    async def run_job(self, name: str) -> dict[str, Any]:
        return {"message": f"{name} done"}

    async def close(self) -> None:
        pass


class RefusedSource(SceneSource):
    """An engine that answers 401 to every call, as one reached with the wrong token does."""

    async def snapshot(self) -> Snapshot:
        raise SourceError(
            f"{self.address} refused the token (401): check the engine's token", "token refused (401)"
        )


def scene_app(scene: str = "overview"):
    from .app import ChuteApp

    sources = {
        "engines": [
            SceneSource("prod", "https://prod.example.com:8765"),
            SceneSource("staging", "http://10.0.0.7:8765"),
        ],
        "token-refused": [RefusedSource("staging", "http://10.0.0.7:8765")],
    }.get(scene, [SceneSource()])
    return ChuteApp(
        sources,
        readonly=scene == "readonly",
        live=False,
        roots=[ROOT] * len(sources),
        clock=lambda: NOW,
    )


def use_utc() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()


async def settle(pilot) -> None:
    """Wait until every load the scene started has finished and the screen is still."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)


async def _render(scene: str, size: tuple[int, int], out: Path) -> Path:
    app = scene_app(scene)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key in SCENES[scene]:
            await pilot.press(key)
            await settle(pilot)
        path = out / f"{scene}-{size[0]}x{size[1]}.svg"
        path.write_text(app.export_screenshot(title=f"chute — {scene}"), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="regenerate the console screenshots from the fixed scenes")
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args()
    use_utc()
    args.out.mkdir(exist_ok=True)
    for scene in SCENES:
        for size in SIZES:
            print(asyncio.run(_render(scene, size, args.out)))


if __name__ == "__main__":
    main()
