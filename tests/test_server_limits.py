"""The HTTP server under real clients doing awkward things, on a real loopback port: many consoles
long-polling, hundreds of idle sockets, huge bodies, strict parsers, garbage methods, a bind
beyond loopback."""

from __future__ import annotations

import logging
import random
import socket
import string
import threading
import time
import tracemalloc

import httpx
import pytest
from helpers import drop, test_config, wait_for
from prometheus_client.parser import text_string_to_metric_families

from chute.engine import Engine
from chute.engine.monitor.collector import METHODS, Collector
from chute.engine.server import ServerService
from chute.engine.server.logfold import WAITRESS_QUEUE, FoldRepeats


def probe_times(client: httpx.Client) -> dict[str, float]:
    times = {}
    for path in ("/health/live", "/metrics", "/api/v1/snapshot"):
        t0 = time.monotonic()
        assert client.get(path).status_code == 200, path
        times[path] = time.monotonic() - t0
    return times


def test_fifty_long_polls_neither_starve_probes_nor_miss_news(served):
    engine, server, client = served
    last = client.get("/api/v1/snapshot").json()["last_event_id"]
    consoles = 50
    got: list[tuple[float, list[dict]]] = []
    lock = threading.Lock()

    def console() -> None:
        with httpx.Client(base_url=server.url, headers=client.headers, timeout=30) as c:
            body = c.get("/api/v1/events", params={"since": last, "wait": 20}).json()
        with lock:
            got.append((time.time(), body["events"]))

    threads = [threading.Thread(target=console) for _ in range(consoles)]
    for t in threads:
        t.start()
    # All fifty wait at once, and none of them holds one of the server's 8 threads.
    wait_for(lambda: server.parked_polls == consoles, timeout=15, what="fifty parked polls")
    for _ in range(3):
        slow = {p: s for p, s in probe_times(client).items() if s > 1.0}
        assert not slow, slow  # with a thread per poll these took up to 24 s
    drop(engine, "news.txt", b"news\n")
    for t in threads:
        t.join(15)
    assert len(got) == consoles and all(events for _, events in got)
    # Each console heard of the first event within a second of it happening.
    lags = [received - events[0]["ts"] for received, events in got]
    assert max(lags) < 1.0, sorted(lags)[-5:]
    assert server.parked_polls == 0


def test_a_parked_poll_answers_when_its_wait_runs_out_and_new_cursors_wait_again(served):
    _, server, client = served
    last = client.get("/api/v1/snapshot").json()["last_event_id"]
    t0 = time.monotonic()
    body = client.get("/api/v1/events", params={"since": last, "wait": 0.6}).json()
    assert body == {"events": [], "last": last} and 0.55 <= time.monotonic() - t0 < 3
    # A cursor behind the journal is answered at once, without parking.
    t0 = time.monotonic()
    assert client.get("/api/v1/events", params={"since": 0, "wait": 20}).json()["events"]
    assert time.monotonic() - t0 < 2 and server.parked_polls == 0
    # Polls without the token, or with a bad parameter, are not parked: they get their 4xx now.
    t0 = time.monotonic()
    response = httpx.get(server.url + "/api/v1/events", params={"since": last, "wait": 20})
    assert response.status_code == 401
    for bad in ({"limit": 0}, {"limit": "٣"}, {"since": "¹"}, {"wait": "٣"}, {"since": 2**63}):
        assert client.get("/api/v1/events", params={"since": last, "wait": 20, **bad}).status_code == 400
    assert time.monotonic() - t0 < 3


def test_five_hundred_idle_connections_do_not_stop_liveness(served):
    _, server, client = served
    idle = []
    try:
        for i in range(500):
            sock = socket.create_connection((server.host, server.port), timeout=5)
            if i % 2:
                sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # never finished
            idle.append(sock)
        for _ in range(3):
            t0 = time.monotonic()
            assert client.get("/health/live").status_code == 200
            assert time.monotonic() - t0 < 2
        with httpx.Client(base_url=server.url, timeout=5) as fresh:  # a new connection, too
            assert fresh.get("/health/live").status_code == 200
    finally:
        for sock in idle:
            sock.close()


def test_idle_connections_make_room_when_every_slot_is_taken(tmp_path):
    engine = Engine(
        test_config(tmp_path / "tight", server={"enabled": True, "port": 0, "connection_limit": 20})
    )
    engine.server = server = ServerService(engine)
    engine.add_service(server)
    engine.start()
    headers = {"Authorization": f"Bearer {server.token}"}
    idle = []
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as poller:
            last = poller.get("/api/v1/snapshot").json()["last_event_id"]
            polls = []
            poll = threading.Thread(
                target=lambda: polls.append(poller.get("/api/v1/events", params={"since": last, "wait": 3}))
            )
            poll.start()
            wait_for(lambda: server.parked_polls == 1, what="a parked poll")
            for _ in range(100):  # five times the limit, each sending nothing
                idle.append(socket.create_connection((server.host, server.port), timeout=5))
            for _ in range(5):
                with httpx.Client(base_url=server.url, timeout=5) as fresh:
                    t0 = time.monotonic()
                    assert fresh.get("/health/live").status_code == 200
                    assert time.monotonic() - t0 < 2
            poll.join(10)
            # The waiting long poll was not taken for idle: it got its answer.
            assert polls and polls[0].status_code == 200
    finally:
        for sock in idle:
            sock.close()
        engine.stop()


def raw_request(server, head: bytes, body: bytes = b"", timeout: float = 5) -> bytes:
    """Send while reading: a server that refuses a body answers and hangs up mid-upload."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:

        def send() -> None:
            try:
                sock.sendall(head + body)
            except OSError:
                pass  # the server stopped reading, as it should

        sender = threading.Thread(target=send)
        sender.start()
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
        sender.join(timeout)
        return reply


@pytest.mark.parametrize("token", [False, True])
def test_a_huge_body_is_refused_before_it_is_read(served, token):
    engine, server, _ = served
    auth = f"Authorization: Bearer {server.token}\r\n".encode() if token else b""
    head = (
        b"POST /api/v1/files/retry HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
        + auth
        + b"Content-Length: 104857600\r\n\r\n"
    )
    t0 = time.monotonic()
    # Only the headers are sent: an answer means nothing waited for the 100 MB.
    reply = raw_request(server, head)
    assert reply.startswith(b"HTTP/1.1 413 ") and time.monotonic() - t0 < 2
    # Chunked, with no length up front: cut off at the cap, not read to the end.
    chunked = head.replace(b"Content-Length: 104857600", b"Transfer-Encoding: chunked")
    chunk = b"%x\r\n" % (256 * 1024) + b"[" * (256 * 1024) + b"\r\n"
    assert raw_request(server, chunked, chunk * 5).startswith(b"HTTP/1.1 413 ")
    # A body at the cap is read and judged as JSON.
    ok = head.replace(b"104857600", str(1 << 20).encode())
    assert raw_request(server, ok, b" " * (1 << 20)).split(b"\r\n")[0] in (
        b"HTTP/1.1 400 BAD REQUEST",
        b"HTTP/1.1 401 UNAUTHORIZED",
    )
    assert engine.snapshot().watcher_alive


def test_bearer_scheme_is_case_insensitive(served):
    _, server, _ = served
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        headers = {"Authorization": f"{scheme} {server.token}"}
        assert httpx.get(server.url + "/api/v1/snapshot", headers=headers).status_code == 200, scheme
    for header in (f"Basic {server.token}", f"Bearer{server.token}", "Bearer", f"Token {server.token}"):
        assert (
            httpx.get(server.url + "/api/v1/snapshot", headers={"Authorization": header}).status_code == 401
        )


def test_metrics_has_one_charset_and_speaks_openmetrics_when_asked(served):
    _, _, client = served
    client.get("/api/v1/snapshot")
    text = client.get("/metrics")
    content_type = text.headers["content-type"]
    params = [p.strip().split("=")[0].lower() for p in content_type.split(";")[1:]]
    assert content_type.startswith("text/plain;") and len(params) == len(set(params)), content_type
    families = {f.name for f in text_string_to_metric_families(text.text)}
    assert {"chute_files", "chute_queue_depth", "chute_http_requests"} <= families
    om = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    om_params = [p.strip().split("=")[0] for p in om.headers["content-type"].split(";")[1:]]
    assert om.headers["content-type"].startswith("application/openmetrics-text;")
    assert len(om_params) == len(set(om_params)) and om.text.endswith("# EOF\n")
    assert "chute_http_requests_total" in om.text


def test_made_up_methods_count_as_other_and_stay_small(served):
    _, server, client = served
    rnd = random.Random(10)
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        for _ in range(300):
            method = "".join(rnd.choices(string.ascii_uppercase, k=rnd.randint(5, 4000)))
            sock.sendall(f"{method} /api/v1/snapshot HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.count(b"HTTP/1.1 401 ") == 300 and b" 500 " not in reply
    endpoints = client.get("/api/v1/requests/endpoints")
    methods = set()
    for e in endpoints.json()["endpoints"]:
        methods |= set(e["methods"])
    assert methods <= METHODS | {"OTHER"} and "OTHER" in methods
    assert len(endpoints.content) < 20_000
    recent = client.get("/api/v1/requests/recent", params={"limit": 1000}).json()["requests"]
    assert {r["method"] for r in recent} <= METHODS | {"OTHER"}


def test_collector_memory_is_flat_under_garbage():
    """What a client controls (method, path, which route) cannot grow the monitor."""
    collector = Collector()
    rnd = random.Random(4)
    routes = [f"/api/v1/route{i}" for i in range(20)] + ["<unmatched>"]

    pool = ["".join(rnd.choices(string.printable, k=rnd.randint(1, 3000))) for _ in range(100)]

    def garbage(n: int) -> None:
        for i in range(n):
            junk = f"{pool[i % 100]}{i}"  # a new string every time
            status = rnd.choice([200, 400, 401, 404, 405, 500])
            collector.record(junk, "/" + junk, rnd.choice(routes), status, rnd.uniform(0.0005, 0.5))

    tracemalloc.start()  # before the warm-up, so that what it frees later is seen freed
    try:
        garbage(3000)  # fills the recent ring and the sketches' buckets
        before = tracemalloc.take_snapshot()
        garbage(3000)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
    # The 3000 requests carried ~4.5 MB of made-up methods and paths; none of it may stay.
    assert growth < 150_000, growth
    assert all(set(e["methods"]) == {"OTHER"} for e in collector.endpoints())


def test_collector_keys_are_bounded_in_number_and_length():
    """Even an app with endless route templates and exception types, all of them huge."""
    collector = Collector(max_routes=50)
    rnd = random.Random(5)
    for i in range(2000):
        junk = "".join(rnd.choices(string.ascii_letters, k=rnd.randint(1, 3000)))
        collector.record("GET", "/x", f"/{i % 80}/{junk}", 500, 0.01, junk, junk)
    endpoints = collector.endpoints()
    assert len(endpoints) <= 51
    assert all(len(e["route"]) <= 300 and len(e["exceptions"]) <= 21 for e in endpoints)
    assert all(
        len(k) <= 300 and len(v["last_message"]) <= 300 for e in endpoints for k, v in e["exceptions"].items()
    )


def test_queue_depth_warnings_are_folded(caplog):
    now = [0.0]
    folder = FoldRepeats(every=60, clock=lambda: now[0])
    logger = logging.getLogger(WAITRESS_QUEUE + ".test")
    logger.addFilter(folder)
    caplog.set_level(logging.WARNING)
    for depth in range(1000):
        logger.warning("Task queue depth is %d", depth)
    now[0] = 61
    logger.warning("Task queue depth is %d", 5)
    lines = [r.getMessage() for r in caplog.records if r.name == logger.name]
    assert lines == [
        "Task queue depth is 0",
        "Task queue depth is 5 (and 999 like it folded since the last one)",
    ]


def test_the_server_folds_waitress_queue_warnings(served, caplog):
    server = served[1]
    caplog.set_level(logging.WARNING)
    folder = next(f for f in logging.getLogger(WAITRESS_QUEUE).filters if isinstance(f, FoldRepeats))
    folded_before = folder.folded

    def burst() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for _ in range(10):
                c.get("/metrics")

    threads = [threading.Thread(target=burst) for _ in range(40)]  # 40 clients, 8 server threads
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    lines = [r for r in caplog.records if "Task queue depth" in r.getMessage()]
    assert len(lines) <= 1 and folder.folded - folded_before + len(lines) >= 5


def test_binding_beyond_loopback_warns_and_documents_the_address(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    engine = Engine(test_config(tmp_path / "wide", server={"enabled": True, "port": 0, "host": "0.0.0.0"}))
    engine.server = ServerService(engine)
    engine.add_service(engine.server)
    engine.start()
    try:
        warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
        assert "plain HTTP" in warning and "/metrics and /health" in warning and "TLS" in warning
        server = engine.server
        url = f"http://127.0.0.1:{server.port}"
        doc = httpx.get(url + "/api/v1/openapi.json", headers={"Authorization": f"Bearer {server.token}"})
        assert doc.json()["servers"] == [{"url": url}]
    finally:
        engine.stop()


def test_loopback_bind_is_quiet_and_documents_its_address(served, caplog):
    _, server, client = served
    assert client.get("/api/v1/openapi.json").json()["servers"] == [{"url": server.url}]
    assert not [r for r in caplog.records if "plain HTTP" in r.getMessage()]
