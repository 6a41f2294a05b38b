"""The request monitor on any Flask app: route templates, errors, windows, bounded memory, and
quantiles checked against exact ones."""

from __future__ import annotations

import random

import pytest

from chute.engine.monitor import Collector, Monitor, Sketch
from chute.engine.monitor.demo_app import create_demo_app


def exact(data: list[float], q: float) -> float:
    data = sorted(data)
    return data[round(q * (len(data) - 1))]


@pytest.mark.parametrize(
    "make",
    [
        lambda r: r.lognormvariate(-5, 2.0),  # heavy right tail, like real latencies
        lambda r: r.paretovariate(1.2) / 1000,  # very skewed
        lambda r: r.uniform(0.001, 0.002),  # narrow
        lambda r: r.expovariate(50) if r.random() < 0.95 else r.uniform(2, 30),  # bimodal: fast + timeouts
    ],
)
def test_sketch_quantiles_within_one_percent_of_exact(make):
    rnd = random.Random(42)
    data = [make(rnd) for _ in range(50_000)]
    sketch = Sketch()
    for x in data:
        sketch.add(x)
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        want = exact(data, q)
        got = sketch.quantile(q)
        assert abs(got - want) <= 0.01 * want, (q, want, got)
    assert sketch.count == len(data)
    assert sketch.min == min(data) and sketch.max == max(data)
    assert sketch.sum == pytest.approx(sum(data))


def test_sketches_merge_like_one():
    rnd = random.Random(1)
    a, b, both = Sketch(), Sketch(), Sketch()
    for i in range(20_000):
        x = rnd.lognormvariate(-3, 1)
        (a if i % 3 else b).add(x)
        both.add(x)
    merged = a.copy().merge(b)
    for q in (0.5, 0.95, 0.99):
        assert merged.quantile(q) == both.quantile(q)
    assert merged.count == both.count


def test_sketch_memory_is_bounded():
    sketch = Sketch(max_buckets=100)
    for i in range(1, 100_000):
        sketch.add(10 ** (-9 + 18 * i / 100_000))  # 18 decades
    assert len(sketch.buckets) <= 100
    assert sketch.quantile(0.99) == pytest.approx(10**8.82, rel=0.02)


def test_monitor_records_route_templates_errors_and_unmatched():
    app = create_demo_app(slow_range=(0.01, 0.02))
    monitor: Monitor = app.extensions["chute_monitor"]
    client = app.test_client()
    for i in range(30):
        client.get(f"/test/items/{i}")
    client.get("/test/normal")
    client.get("/test/slow")
    client.get("/test/error")
    client.get("/test/notfound")
    client.get("/test/server-error")
    for i in range(50):
        client.get(f"/wp-admin/scan-{i}.php")  # a scanner: must not grow the table
    by_route = {e["route"]: e for e in monitor.collector.endpoints()}
    assert "/test/items/<int:item>" in by_route and by_route["/test/items/<int:item>"]["count"] == 30
    assert by_route["<unmatched>"]["count"] == 50
    assert not any(r.startswith("/wp-admin") for r in by_route)
    err = by_route["/test/error"]
    assert err["errors"] == 1 and err["status"] == {"500": 1}
    assert err["exceptions"]["RuntimeError"]["last_message"] == "the demo route failed on purpose"
    assert by_route["/test/notfound"]["errors"] == 0 and by_route["/test/notfound"]["status"] == {"404": 1}
    assert by_route["/test/server-error"]["errors"] == 1
    slow = by_route["/test/slow"]["latency"]
    assert 0.01 <= slow["p50"] <= 0.05
    assert by_route["/test/items/<int:item>"]["windows"]["1m"]["count"] == 30
    recent = monitor.collector.recent(5)
    assert recent[0]["path"] == "/wp-admin/scan-49.php" and recent[0]["route"] == "<unmatched>"
    stats = monitor.collector.stats()
    assert stats["requests"] == 85 and stats["errors"] == 2  # chute's own: 5xx and exceptions
    chute = client.get("/monitoring/chute/requests/stats").get_json()
    assert chute["requests"] == 85 and chute["errors"] == 2
    assert client.get("/monitoring/chute/requests/endpoints").get_json()["endpoints"]
    recent = client.get("/monitoring/chute/requests/recent?limit=3").get_json()["requests"]
    assert recent[0]["route"] == "/monitoring/chute/requests/endpoints"
    assert client.get("/monitoring/chute/requests/recent?limit=0").status_code == 400


def test_exceptions_propagated_in_testing_mode_are_still_recorded():
    app = create_demo_app()
    app.testing = True  # exceptions propagate out of the app
    with pytest.raises(RuntimeError):
        app.test_client().get("/test/error")
    (entry,) = [
        e for e in app.extensions["chute_monitor"].collector.endpoints() if e["route"] == "/test/error"
    ]
    assert entry["errors"] == 1 and "RuntimeError" in entry["exceptions"]


def test_health_turns_with_the_error_rate():
    clock = [1_000_000.0]
    c = Collector(clock=lambda: clock[0])
    for _ in range(100):
        c.record("GET", "/a", "/a", 200, 0.01)
    assert c.health()["status"] == "pass"
    for _ in range(10):
        c.record("GET", "/a", "/a", 500, 0.01, "ValueError", "bad")
    assert c.health()["status"] == "warn"
    for _ in range(40):
        c.record("GET", "/a", "/a", 500, 0.01)
    assert c.health()["status"] == "fail"
    clock[0] += 3600  # an hour later the window is clean again
    assert c.health()["status"] == "pass"
    assert c.stats()["windows"]["1h"]["count"] == 0


def test_windows_roll_by_minute():
    clock = [6_000_000.0]
    c = Collector(clock=lambda: clock[0])
    for minute in range(70):
        for _ in range(10):
            c.record("GET", "/a", "/a", 200 if minute < 65 else 500, 0.01 * (minute + 1))
        clock[0] += 60
    clock[0] -= 60
    w = c.stats()["windows"]
    assert w["1m"]["count"] == 10 and w["5m"]["count"] == 50 and w["1h"]["count"] == 600
    assert w["5m"]["errors"] == 50 and w["1m"]["error_rate"] == 1.0
    assert c.stats()["requests"] == 700
    hist = c.history(3)
    assert [p["count"] for p in hist] == [10, 10, 10]


def test_route_table_is_bounded():
    c = Collector(max_routes=10)
    for i in range(1000):
        c.record("GET", f"/r{i}", f"/r{i}", 200, 0.001)
    routes = {e["route"] for e in c.endpoints()}
    assert len(routes) == 11 and "<other>" in routes
