"""Monitor(app) as a drop-in for the original Flask monitoring extension: the four routes in its
shapes (contract tests against the spec, over a real waitress server and httpx), and a dashboard
page made for the original, polling those routes in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from servers import ServedApp

from chute.engine.monitor import Collector, HealthLevels, Monitor
from chute.engine.monitor.demo_app import create_demo_app

STATS_KEYS = {
    "uptime_seconds",
    "total_requests",
    "total_errors",
    "requests_per_second",
    "error_rate",
    "average_response_time_ms",
    "min_response_time_ms",
    "max_response_time_ms",
    "response_time_percentiles",
    "status_codes",
    "top_paths",
    "top_methods",
    "top_endpoints",
    "error_types",
    "recent_request_count",
}
REQUEST_KEYS = {
    "timestamp",
    "datetime",
    "path",
    "method",
    "status_code",
    "duration_ms",
    "error_occurred",
    "error_type",
    "endpoint",
}
DASHBOARD = Path(__file__).with_name("monitor_dashboard.html")


def traffic(url: str) -> None:
    """18 requests: 10 fine, 2 exceptions, 3 404s, a 503 and 2 paths no route matches."""
    with httpx.Client(base_url=url) as client:
        for i in range(10):
            assert client.get(f"/test/items/{i}").status_code == 200
        for _ in range(2):
            assert client.get("/test/error").status_code == 500
        for _ in range(3):
            assert client.get("/test/notfound").status_code == 404
        assert client.get("/test/server-error").status_code == 503
        client.get("/wp-login.php")
        client.post("/test/items/1")  # 405: the route exists, not for POST


@pytest.fixture
def served():
    app = create_demo_app(slow_range=(0.01, 0.02))
    with ServedApp(app) as server:
        server.monitor = app.extensions["chute_monitor"]
        yield server


def test_stats_speaks_the_original_shape(served):
    traffic(served.url)
    stats = httpx.get(f"{served.url}/monitoring/stats").json()
    assert set(stats) == STATS_KEYS
    assert stats["total_requests"] == 18
    # An error is a status >= 400 or an exception: 2 + 3 + 1 + 1 (unmatched 404) + 1 (405).
    assert stats["total_errors"] == 8
    assert stats["error_rate"] == pytest.approx(100 * 8 / 18, abs=0.001)
    assert stats["status_codes"] == {"200": 10, "404": 4, "405": 1, "500": 2, "503": 1}
    assert stats["error_types"] == {"HTTP 404": 4, "RuntimeError": 2, "HTTP 503": 1, "HTTP 405": 1}
    assert stats["top_methods"] == {"GET": 17, "POST": 1}
    assert stats["top_endpoints"]["/test/items/<int:item>"] == 10
    assert stats["top_endpoints"]["<unmatched>"] == 2  # a 405 matched no rule either
    assert stats["top_endpoints"]["/test/notfound"] == 3
    assert stats["top_paths"]["/test/notfound"] == 3 and stats["top_paths"]["/test/items/1"] == 2
    assert stats["recent_request_count"] == 18
    assert stats["requests_per_second"] == pytest.approx(18 / stats["uptime_seconds"], rel=0.05)
    # Milliseconds, checked against the per-request durations the requests route reports.
    logged = httpx.get(f"{served.url}/monitoring/requests?limit=19").json()
    assert logged[-1]["path"] == "/monitoring/stats"
    durations = sorted(r["duration_ms"] for r in logged[:-1])
    assert stats["min_response_time_ms"] == pytest.approx(durations[0], abs=0.002)
    assert stats["max_response_time_ms"] == pytest.approx(durations[-1], abs=0.002)
    assert stats["average_response_time_ms"] == pytest.approx(sum(durations) / 18, rel=0.01)
    p = stats["response_time_percentiles"]
    assert set(p) == {"p50", "p95", "p99"}
    assert durations[0] <= p["p50"] <= p["p95"] <= p["p99"] <= durations[-1]
    # The median of 18 lies between the 9th and 10th; the sketch is within 1 % of one of them.
    assert any(abs(p["p50"] - d) <= 0.011 * d + 0.001 for d in durations[8:10])


def test_an_empty_monitor_answers_the_same_keys_with_zeros(served):
    stats = httpx.get(f"{served.url}/monitoring/stats").json()
    assert set(stats) == STATS_KEYS
    assert stats["total_requests"] == 0 and stats["total_errors"] == 0 and stats["error_rate"] == 0
    assert stats["average_response_time_ms"] == 0 and stats["max_response_time_ms"] == 0
    assert stats["response_time_percentiles"] == {"p50": 0, "p95": 0, "p99": 0}
    assert stats["status_codes"] == {} and stats["error_types"] == {} and stats["top_paths"] == {}
    assert list(httpx.get(f"{served.url}/monitoring/endpoints").json()) == ["/monitoring/stats"]
    health = httpx.get(f"{served.url}/health").json()
    assert health["status"] == "healthy" and health["error_rate"] == 0


def test_requests_is_a_bare_list_oldest_first(served):
    traffic(served.url)
    rows = httpx.get(f"{served.url}/monitoring/requests?limit=6").json()
    assert isinstance(rows, list) and len(rows) == 6
    assert all(set(r) == REQUEST_KEYS for r in rows)
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)
    assert [(r["method"], r["path"], r["status_code"]) for r in rows] == [
        ("GET", "/test/notfound", 404),
        ("GET", "/test/notfound", 404),
        ("GET", "/test/notfound", 404),
        ("GET", "/test/server-error", 503),
        ("GET", "/wp-login.php", 404),
        ("POST", "/test/items/1", 405),
    ]
    assert rows[-3]["endpoint"] == "/test/server-error" and rows[-2]["endpoint"] == "<unmatched>"
    assert all(r["error_occurred"] for r in rows) and rows[3]["error_type"] == "HTTP 503"
    for r in rows:
        when = datetime.fromisoformat(r["datetime"])
        assert when.tzinfo is not None and abs(when.timestamp() - r["timestamp"]) < 1e-3
    everything = httpx.get(f"{served.url}/monitoring/requests").json()
    errors = [r for r in everything if r["path"] == "/test/error"]
    assert [(r["error_occurred"], r["error_type"], r["status_code"]) for r in errors] == [
        (True, "RuntimeError", 500)
    ] * 2
    ok = next(r for r in everything if r["path"] == "/test/items/0")
    assert ok["error_occurred"] is False and ok["error_type"] is None and ok["duration_ms"] > 0
    bad = httpx.get(f"{served.url}/monitoring/requests?limit=0")
    assert bad.status_code == 400 and "limit" in bad.json()["error"]["message"]


def test_endpoints_are_keyed_by_route(served):
    traffic(served.url)
    endpoints = httpx.get(f"{served.url}/monitoring/endpoints").json()
    items = endpoints["/test/items/<int:item>"]
    assert items["count"] == 10 and items["errors"] == 0 and items["status_codes"] == {"200": 10}
    assert items["error_rate"] == 0 and items["methods"] == {"GET": 10}
    assert (
        0
        < items["min_response_time_ms"]
        <= items["average_response_time_ms"]
        <= items["max_response_time_ms"]
    )
    assert set(items["response_time_percentiles"]) == {"p50", "p95", "p99"}
    assert endpoints["/test/error"]["errors"] == 2 and endpoints["<unmatched>"]["count"] == 2
    assert endpoints["<unmatched>"]["error_rate"] == 100.0 and endpoints["/test/notfound"]["errors"] == 3
    assert next(iter(endpoints)) == "/test/items/<int:item>", "busiest first"


def test_health_follows_the_last_minute_of_errors():
    clock = [1_000_000.0]
    monitor = Monitor(collector=Collector(clock=lambda: clock[0]))
    app = create_demo_app(monitor)
    client = app.test_client()
    c = monitor.collector
    for _ in range(95):
        c.record("GET", "/a", "/a", 200, 0.01)
    for _ in range(5):
        c.record("GET", "/a", "/a", 404, 0.01)
    doc = client.get("/health").get_json()
    assert client.get("/health").status_code == 200
    assert doc["status"] == "healthy" and doc["error_rate"] == 5.0  # not above 5 %
    c.record("GET", "/a", "/a", 500, 0.01, "KeyError", "k")
    assert client.get("/health").get_json()["status"] == "warning"
    for _ in range(10):
        c.record("GET", "/a", "/a", 503, 0.01)
    degraded = client.get("/health")
    assert degraded.status_code == 200 and degraded.get_json()["status"] == "degraded"
    assert set(degraded.get_json()) >= {"status", "uptime_seconds", "error_rate"}
    clock[0] += 61  # a minute later those errors are out of the window
    assert client.get("/health").get_json() == {
        "status": "healthy",
        "uptime_seconds": 61.0,
        "error_rate": 0.0,
        "window_seconds": 60.0,
        "requests_in_window": 0,
    }


def test_health_levels_and_health_json_are_one_argument_away():
    from flask import Flask

    app = Flask("levels")
    app.config["CHUTE_MONITOR_LEVELS"] = {"warning_error_percent": 1, "degraded_error_percent": 2}
    monitor = Monitor(app)
    for i in range(100):
        monitor.collector.record("GET", "/a", "/a", 404 if i < 2 else 200, 0.01)
    assert app.test_client().get("/health").get_json()["status"] == "warning"  # 2 % > 1 %
    assert monitor.levels == HealthLevels(1, 2)
    with pytest.raises(ValueError, match="warning_error_percent <= degraded_error_percent"):
        HealthLevels(warning_error_percent=20, degraded_error_percent=10)

    app = Flask("json")
    monitor = Monitor(app, health="json")
    for _ in range(30):
        monitor.collector.record("GET", "/a", "/a", 500, 0.001)  # errors fail, latency is fine
    response = app.test_client().get("/health")
    assert response.status_code == 503 and response.content_type == "application/health+json"
    checks = response.get_json()["checks"]
    assert response.get_json()["status"] == "fail"
    assert checks["http:errors"][0]["status"] == "fail"
    assert checks["http:latency-p95"][0]["status"] == "pass", "each check says its own status"
    with pytest.raises(ValueError, match='"original" or "json"'):
        Monitor(Flask("bad"), health="xml")


def test_the_engines_health_checks_each_say_their_own_status(tmp_path):
    from helpers import served_engine

    engine = served_engine(tmp_path / "root")
    try:
        # Fast errors: the error-rate check fails, the p95 check passes (it used to repeat "fail").
        for _ in range(30):
            engine.requests.record("GET", "/x", "/x", 500, 0.002, "RuntimeError", "x")
        checks = httpx.get(f"{engine.server.url}/health").json()["checks"]
        assert checks["http:errors"][0]["status"] == "fail"
        assert checks["http:latency-p95"][0]["status"] == "pass"
    finally:
        engine.stop()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_a_dashboard_made_for_the_original_works_unchanged_in_chromium():
    # The page lives on the monitored app itself, as the original's did.
    app = create_demo_app(slow_range=(0.01, 0.02))
    app.add_url_rule("/dashboard", "dashboard", lambda: DASHBOARD.read_text())
    with ServedApp(app) as server:
        traffic(server.url)
        with tempfile.TemporaryDirectory() as profile:
            t0 = time.monotonic()
            result = subprocess.run(
                [
                    CHROMIUM,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    f"--user-data-dir={profile}",
                    "--virtual-time-budget=10000",
                    "--dump-dom",
                    f"{server.url}/dashboard",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "HOME": profile},
            )
        assert result.returncode == 0, result.stderr[-2000:]
        dom = result.stdout
        assert time.monotonic() - t0 < 60

    def text(element_id: str) -> str:
        m = re.search(rf'id="{element_id}"[^>]*>(.*?)</', dom, re.S)
        assert m, f"#{element_id} missing from the page"
        return m.group(1).strip()

    assert "<title>done</title>" in dom, text("errors") or dom[-3000:]
    assert text("errors") == ""
    assert text("rounds") == "3"
    # 18 requests of traffic, the page itself, two rounds of four polls, and (the last round's four
    # run at once) up to three of the last round's.
    seen = 18 + 1 + 2 * 4
    assert seen <= int(text("total-requests")) <= seen + 3
    assert re.fullmatch(r"\d+\.\d\d ms", text("avg-time")) and text("avg-time") != "0.00 ms"
    assert float(text("rps")) > 0 and text("error-rate").endswith("%")
    assert "200:" in text("status-codes") and "RuntimeError:2" in text("error-types")
    assert text("health-status") == "degraded"  # 8 errors of the last ~27 requests
    requests_table = dom.split('id="requests"')[1].split("</table>")[0]
    assert "loading" not in requests_table and seen <= requests_table.count("<tr") <= seen + 3
    assert "/wp-login.php" in requests_table and "RuntimeError" in requests_table
    endpoints_table = dom.split('id="endpoints"')[1].split("</table>")[0]
    assert "loading" not in endpoints_table and "/test/items/&lt;int:item&gt;" in endpoints_table
