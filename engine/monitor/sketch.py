"""A mergeable relative-error quantile sketch (DDSketch-style logarithmic buckets).

Every value x > 0 falls in bucket i = ceil(log_gamma(x)), gamma = (1 + a) / (1 - a); a bucket's
representative 2 * gamma^i / (gamma + 1) is within relative error `a` of every value in it, so
every quantile is within `a` (1% by default) of the true one. Memory is bounded: at most
`max_buckets`, and past that the lowest buckets are folded together (only the smallest
quantiles lose accuracy, and only for data spanning more than ~1e17:1 at 1%).
Sketches merge by adding bucket counts, which is how per-minute windows are combined on read.
"""

from __future__ import annotations

import math

RELATIVE_ACCURACY = 0.01
MIN_VALUE = 1e-9  # values at or below this (1 ns) count as zero


def inv_log_gamma(relative_accuracy: float = RELATIVE_ACCURACY) -> float:
    """1 / log(gamma): a value's bucket is ceil(log(value) * this)."""
    return 1.0 / math.log((1 + relative_accuracy) / (1 - relative_accuracy))


class Sketch:
    __slots__ = ("_gamma", "_inv_log_gamma", "buckets", "count", "max", "max_buckets", "min", "sum", "zeros")

    def __init__(self, relative_accuracy: float = RELATIVE_ACCURACY, max_buckets: int = 2048) -> None:
        if not 0 < relative_accuracy < 1:
            raise ValueError(f"relative_accuracy must be in (0, 1), got {relative_accuracy}")
        self._gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._inv_log_gamma = inv_log_gamma(relative_accuracy)
        self.max_buckets = max_buckets
        self.buckets: dict[int, int] = {}
        self.zeros = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def index(self, value: float) -> int:
        return math.ceil(math.log(value) * self._inv_log_gamma)

    def add_at(self, index: int | None, value: float) -> None:
        """add() with the bucket index already computed (None for zero): lets a caller feeding
        several sketches with one value take the logarithm once."""
        self.count += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if index is None:
            self.zeros += 1
            return
        b = self.buckets
        b[index] = b.get(index, 0) + 1
        if len(b) > self.max_buckets:
            self._collapse()

    def add(self, value: float) -> None:
        self.add_at(math.ceil(math.log(value) * self._inv_log_gamma) if value > MIN_VALUE else None, value)

    def _collapse(self) -> None:
        keys = sorted(self.buckets)
        extra = len(keys) - self.max_buckets
        folded = sum(self.buckets.pop(k) for k in keys[: extra + 1])
        self.buckets[keys[extra]] = self.buckets.get(keys[extra], 0) + folded

    def merge(self, other: Sketch) -> Sketch:
        if other._gamma != self._gamma:
            raise ValueError("cannot merge sketches with different accuracies")
        for k, n in other.buckets.items():
            self.buckets[k] = self.buckets.get(k, 0) + n
        self.zeros += other.zeros
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if len(self.buckets) > self.max_buckets:
            self._collapse()
        return self

    def copy(self) -> Sketch:
        out = Sketch.__new__(Sketch)
        for slot in Sketch.__slots__:
            setattr(out, slot, getattr(self, slot))
        out.buckets = dict(self.buckets)
        return out

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 <= q <= 1) within the relative accuracy, or None when empty."""
        if not 0 <= q <= 1:
            raise ValueError(f"q must be in [0, 1], got {q}")
        return self.quantiles((q,))[0]

    def quantiles(self, qs: tuple[float, ...]) -> list[float | None]:
        """Several quantiles in one pass over the buckets."""
        if self.count == 0:
            return [None] * len(qs)
        order = sorted(range(len(qs)), key=lambda i: qs[i])
        out: list[float | None] = [None] * len(qs)
        keys = sorted(self.buckets)
        seen = self.zeros
        j = 0
        for i in order:
            rank = qs[i] * (self.count - 1)
            if rank < self.zeros:
                out[i] = 0.0
                continue
            while j < len(keys) and seen + self.buckets[keys[j]] <= rank:
                seen += self.buckets[keys[j]]
                j += 1
            if j >= len(keys):
                out[i] = self.max
            else:
                value = 2 * self._gamma ** keys[j] / (self._gamma + 1)
                out[i] = min(max(value, self.min), self.max)
        return out

    def count_at_most(self, bound: float) -> int:
        """How many values are <= bound (to within the sketch's accuracy): for Prometheus buckets."""
        if bound <= MIN_VALUE:
            return self.zeros
        limit = self.index(bound)
        return self.zeros + sum(n for k, n in self.buckets.items() if k <= limit)
