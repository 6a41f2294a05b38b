"""Quantiles and per-minute series derived from the journal (so they survive restarts)."""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from collections.abc import Sequence

from .model import DurationBucket, Finished, Quantiles


def quantiles(values: Sequence[float]) -> Quantiles:
    data = sorted(v for v in values if v is not None)
    if not data:
        return Quantiles()

    def q(p: float) -> float:
        return data[min(len(data) - 1, max(0, math.ceil(p * len(data)) - 1))]

    return Quantiles(p50=q(0.5), p90=q(0.9), p95=q(0.95), p99=q(0.99), max=data[-1], count=len(data))


# Prometheus-style upper bounds for processing durations, in seconds.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class DurationHistograms:
    """Cumulative processing-duration histograms by kind, kept in memory for /metrics and seeded
    from the journal at start (so they survive restarts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def _row(self, kind: str) -> list[int]:
        row = self._counts.get(kind)
        if row is None:
            row = self._counts[kind] = [0] * (len(DURATION_BUCKETS) + 1)
            self._sums[kind] = 0.0
        return row

    def observe_many(self, items: list[tuple[str, float]]) -> None:
        with self._lock:
            for kind, value in items:
                self._row(kind)[bisect.bisect_left(DURATION_BUCKETS, value)] += 1
                self._sums[kind] += value

    def seed(self, buckets: list[DurationBucket]) -> None:
        with self._lock:
            for b in buckets:
                self._row(b.kind)[b.index] += b.count
                self._sums[b.kind] += b.total

    def snapshot(self) -> dict[str, tuple[list[int], float]]:
        """kind -> (cumulative counts per bound incl. +Inf, sum)."""
        with self._lock:
            return {k: (list(itertools.accumulate(v)), self._sums[k]) for k, v in self._counts.items()}


def per_minute(rows: list[Finished], minutes: int, now: float) -> list[dict]:
    """Per-minute series (oldest first) from the files finished in those minutes."""
    last = int(now // 60)
    first = last - minutes + 1
    buckets: dict[int, list] = {m: [0, 0, [], []] for m in range(first, last + 1)}
    for row in rows:
        b = buckets.get(int(row.finished_at // 60))
        if b is None:
            continue
        b[0] += 1
        if row.state == "failed":
            b[1] += 1
        if row.latency is not None:
            b[2].append(row.latency)
        if row.duration is not None:
            b[3].append(row.duration)
    out = []
    for minute, (count, failed, lat, dur) in sorted(buckets.items()):
        lq = quantiles(lat)
        dq = quantiles(dur)
        out.append(
            {
                "minute": minute * 60,
                "files": count,
                "failed": failed,
                "latency_p50": lq.p50,
                "latency_p95": lq.p95,
                "processing_p95": dq.p95,
            }
        )
    return out
