"""Quantiles and per-minute series derived from the journal (so they survive restarts)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .model import Quantiles


def quantiles(values: Sequence[float]) -> Quantiles:
    data = sorted(v for v in values if v is not None)
    if not data:
        return Quantiles()

    def q(p: float) -> float:
        return data[min(len(data) - 1, max(0, math.ceil(p * len(data)) - 1))]

    return Quantiles(p50=q(0.5), p90=q(0.9), p95=q(0.95), p99=q(0.99), max=data[-1], count=len(data))
