"""/metrics: Prometheus text exposition, gathered at scrape time from the engine's own state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from ..model import Histogram, JobStatus, Snapshot, WorkerInfo

if TYPE_CHECKING:
    from ..engine import Engine

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _buckets(h: Histogram) -> list[tuple[str, int]]:
    return [(repr(float(b)), c) for b, c in zip(h.bounds, h.cumulative, strict=True)] + [("+Inf", h.count)]


class EngineCollector:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        snap = self.engine.snapshot()
        yield from self.engine_info(snap)
        yield self.files(snap)
        yield GaugeMetricFamily("chute_queue_depth", "Files waiting to be processed", value=snap.queue_depth)
        yield GaugeMetricFamily("chute_in_flight", "Files being processed now", value=snap.in_flight)
        yield self.processing(self.engine.processing_histograms())
        yield from self.http(self.engine.http_histograms(HTTP_BUCKETS))
        yield self.jobs(snap.schedules)
        yield from self.workers(self.engine.workers())
        yield GaugeMetricFamily("chute_scrape_timestamp_seconds", "Time of this scrape", value=time.time())

    @staticmethod
    def engine_info(snap: Snapshot) -> Iterator[Metric]:
        info = GaugeMetricFamily("chute_info", "Engine name and version", labels=["name", "version"])
        info.add_metric([snap.name, snap.version], 1)
        yield info
        yield GaugeMetricFamily("chute_uptime_seconds", "Seconds since the engine started", value=snap.uptime)

    @staticmethod
    def files(snap: Snapshot) -> Metric:
        files = GaugeMetricFamily(
            "chute_files", "Files in the journal by state and kind", labels=["state", "kind"]
        )
        for kind, states in snap.kinds.items():
            for state, n in states.items():
                files.add_metric([state, kind], n)
        # Files without a kind yet (queued, vanished) are labelled kind="".
        for state, n in snap.counts.items():
            unkinded = n - sum(k.get(state, 0) for k in snap.kinds.values())
            if unkinded:
                files.add_metric([state, ""], unkinded)
        return files

    @staticmethod
    def processing(histograms: list[Histogram]) -> Metric:
        hist = HistogramMetricFamily(
            "chute_processing_duration_seconds", "Time in the processor per file, by kind", labels=["kind"]
        )
        for h in histograms:
            hist.add_metric([h.label], _buckets(h), h.sum)
        return hist

    @staticmethod
    def http(histograms: list[Histogram]) -> Iterator[Metric]:
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
        for h in histograms:
            classes: dict[str, int] = {}
            for code, n in h.statuses.items():
                classes[f"{code // 100}xx"] = classes.get(f"{code // 100}xx", 0) + n
            for cls, n in sorted(classes.items()):
                requests.add_metric([h.label, cls], n)
            durations.add_metric([h.label], _buckets(h), h.sum)
        yield requests
        yield durations

    @staticmethod
    def jobs(jobs: list[JobStatus]) -> Metric:
        last = GaugeMetricFamily(
            "chute_job_last_success_timestamp_seconds",
            "When each scheduled job last succeeded",
            labels=["job"],
        )
        for job in sorted(jobs, key=lambda j: j.name):
            if job.last_finished and job.last_outcome == "ok":
                last.add_metric([job.name], job.last_finished)
        return last

    @staticmethod
    def workers(workers: list[WorkerInfo]) -> Iterator[Metric]:
        """Cluster workers by their heartbeats (declared always; no samples without a broker)."""
        families = {
            "alive": GaugeMetricFamily(
                "chute_worker_up", "1 if the worker was heard from within the lease", labels=["worker"]
            ),
            "in_flight": GaugeMetricFamily(
                "chute_worker_in_flight", "Files the worker holds now", labels=["worker"]
            ),
            "done": CounterMetricFamily(
                "chute_worker_done", "Files the worker processed since it started", labels=["worker"]
            ),
            "failed": CounterMetricFamily(
                "chute_worker_failed", "Files that failed on the worker since it started", labels=["worker"]
            ),
            "last_seen": GaugeMetricFamily(
                "chute_worker_last_seen_timestamp_seconds", "The worker's last heartbeat", labels=["worker"]
            ),
        }
        for w in workers:
            for field, family in families.items():
                family.add_metric([w.name], float(getattr(w, field)))
        yield from families.values()


def exposition(engine: Engine, accept: str | None = None) -> tuple[bytes, str]:
    """(body, content type): OpenMetrics when the scraper's Accept asks for it, else the text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(engine))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
