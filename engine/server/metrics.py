"""/metrics: Prometheus text exposition, gathered at scrape time from the engine's own state."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from ..stats import DURATION_BUCKETS

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _bound(b: float) -> str:
    return repr(float(b))


class EngineCollector:
    def __init__(self, engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        e = self.engine
        snap = e.snapshot()
        info = GaugeMetricFamily("chute_info", "Engine name and version", labels=["name", "version"])
        info.add_metric([snap.name, snap.version], 1)
        yield info
        yield GaugeMetricFamily("chute_uptime_seconds", "Seconds since the engine started", value=snap.uptime)

        files = GaugeMetricFamily(
            "chute_files", "Files in the journal by state and kind", labels=["state", "kind"]
        )
        for kind, states in snap.kinds.items():
            for state, n in states.items():
                files.add_metric([state, kind], n)
        unkinded = {s: n - sum(k.get(s, 0) for k in snap.kinds.values()) for s, n in snap.counts.items()}
        for state, n in unkinded.items():
            if n:
                files.add_metric([state, ""], n)
        yield files

        yield GaugeMetricFamily("chute_queue_depth", "Files waiting to be processed", value=snap.queue_depth)
        yield GaugeMetricFamily("chute_in_flight", "Files being processed now", value=snap.in_flight)

        hist = HistogramMetricFamily(
            "chute_processing_duration_seconds", "Time in the processor per file, by kind", labels=["kind"]
        )
        for kind, (cumulative, total) in sorted(e.durations.snapshot().items()):
            buckets = [(_bound(b), c) for b, c in zip(DURATION_BUCKETS, cumulative, strict=False)]
            buckets.append(("+Inf", cumulative[-1]))
            hist.add_metric([kind], buckets, total)
        yield hist

        requests = CounterMetricFamily(
            "chute_http_requests",
            "HTTP requests by route template and status class",
            labels=["route", "status"],
        )
        durations = HistogramMetricFamily(
            "chute_http_request_duration_seconds",
            "HTTP request durations by route template",
            labels=["route"],
        )
        for route, (sketch, statuses) in sorted(e.requests.route_sketches().items()):
            classes: dict[str, int] = {}
            for code, n in statuses.items():
                classes[f"{code // 100}xx"] = classes.get(f"{code // 100}xx", 0) + n
            for cls, n in sorted(classes.items()):
                requests.add_metric([route, cls], n)
            buckets = [(_bound(b), sketch.count_at_most(b)) for b in HTTP_BUCKETS]
            buckets.append(("+Inf", sketch.count))
            durations.add_metric([route], buckets, sketch.sum)
        yield requests
        yield durations

        jobs = e.journal.jobs.all() if e.journal else {}
        last = GaugeMetricFamily(
            "chute_job_last_success_timestamp_seconds",
            "When each scheduled job last succeeded",
            labels=["job"],
        )
        for name, job in sorted(jobs.items()):
            if job.last_finished_at and job.last_outcome == "ok":
                last.add_metric([name], job.last_finished_at)
        yield last
        yield GaugeMetricFamily("chute_scrape_timestamp_seconds", "Time of this scrape", value=time.time())


def exposition(engine) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(engine))
    return generate_latest(registry)
