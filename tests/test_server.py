"""The engine's HTTP API on a real waitress server, on an ephemeral loopback port, through httpx."""

from __future__ import annotations

import logging
import os
import random
import stat
import threading
import time

import httpx
import pytest
from helpers import drop, served_engine, settled, wait_for

from chute.engine import samples
from chute.engine.server.openapi import ROUTES


def sample_path(path: str, file_id: int, alert_id: int) -> str:
    return path.replace("{id}", str(alert_id if "/alerts/" in path else file_id))


def test_every_documented_route_answers(served):
    engine, server, client = served
    drop(engine, "doc.json", b"{")
    rec = settled(engine, "doc.json")
    alert_id = engine.journal.alerts.add("files_failed", "warning", "1 file failed", "doc.json: invalid JSON")
    documented = client.get("/api/v1/openapi.json").json()
    walked = []
    for path, methods in documented["paths"].items():
        for method in methods:
            url = sample_path(path, rec.id, alert_id)
            response = client.request(method.upper(), url)
            walked.append((method, path, response.status_code))
            assert response.status_code < 500 or path in ("/api/v1/backups", "/api/v1/reports"), (
                method,
                path,
                response.text,
            )
            if path != "/metrics":
                assert response.headers["content-type"].startswith(
                    ("application/json", "application/health+json")
                )
                assert isinstance(response.json(), dict)
    assert len(walked) == len(ROUTES)
    # The app serves nothing undocumented.
    served_rules = {
        (m.lower(), r.rule.replace("<file_id>", "{id}").replace("<alert_id>", "{id}"))
        for r in create_rules(engine, server)
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    assert served_rules == {(r.method, r.path) for r in ROUTES}


def create_rules(engine, server):
    from chute.engine.server.app import create_app

    app = create_app(engine, server.token)
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def test_auth_is_required_on_every_api_route(served):
    _engine, server, _client = served
    for route in ROUTES:
        url = sample_path(route.path, 1, 1)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": server.token}):
            response = httpx.request(route.method.upper(), server.url + url, headers=headers)
            if route.secured:
                assert response.status_code == 401, (route.method, route.path, headers)
                assert response.headers["www-authenticate"] == 'Bearer realm="chute"'
                assert response.json()["error"]["code"] == "unauthorized"
            else:
                assert response.status_code in (200, 503), (route.method, route.path)


@pytest.mark.parametrize(
    "method, path, body, words",
    [
        ("GET", "/api/v1/files?limit=-1", None, "limit: must be between 1 and 1000"),
        ("GET", "/api/v1/files?limit=1000000", None, "limit: must be between 1 and 1000"),
        ("GET", "/api/v1/files?limit=ten", None, "limit: must be a whole number"),
        ("GET", "/api/v1/files?before=0", None, "before: must be between"),
        ("GET", "/api/v1/files?state=lost", None, "state: must be one of"),
        ("GET", "/api/v1/files?q=" + "x" * 300, None, "q: must be at most 200"),
        ("GET", "/api/v1/files/abc", None, "id: must be a positive whole number"),
        ("GET", "/api/v1/files/-3", None, "id: must be a positive whole number"),
        ("GET", "/api/v1/files/0", None, "id: must be a positive whole number"),
        ("GET", "/api/v1/files/99999999999999999999999", None, "id: must be a positive whole number"),
        ("GET", "/api/v1/history?minutes=0", None, "minutes: must be between 1 and 1440"),
        ("GET", "/api/v1/events?since=-1", None, "since: must be between"),
        ("GET", "/api/v1/events?wait=nan", None, "wait: must be between"),
        ("GET", "/api/v1/events?wait=999", None, "wait: must be between 0 and 30"),
        ("POST", "/api/v1/files/retry", b"{not json", "not valid JSON"),
        ("POST", "/api/v1/files/retry", b"[1, 2]", "must be a JSON object"),
        ("POST", "/api/v1/files/retry", b"{}", 'give either "ids"'),
        ("POST", "/api/v1/files/retry", b'{"ids": []}', "ids: must be a non-empty list"),
        ("POST", "/api/v1/files/retry", b'{"ids": ["1"]}', "every id must be a positive whole number"),
        ("POST", "/api/v1/files/retry", b'{"ids": [true]}', "every id must be a positive whole number"),
        ("POST", "/api/v1/files/retry", b'{"ids": [1.5]}', "every id must be a positive whole number"),
        ("POST", "/api/v1/files/retry", b'{"state": "done"}', 'only "failed" can be retried'),
        ("POST", "/api/v1/files/retry", b'{"ids": [1], "path": "/etc/passwd"}', "unknown field(s): path"),
        ("POST", "/api/v1/files/x/retry", None, "id: must be a positive whole number"),
        ("POST", "/api/v1/alerts/1/read", b'{"read": "yes"}', "read: must be true or false"),
        ("GET", "/api/v1/alerts?unread=maybe", None, "unread: must be one of"),
        ("GET", "/api/v1/requests/recent?limit=0", None, "limit: must be between 1 and 1000"),
        # Digits that are not ASCII: str.isdigit() and int() take them, no client means them.
        ("GET", "/api/v1/files/¹", None, "id: must be a positive whole number"),
        ("GET", "/api/v1/files/②", None, "id: must be a positive whole number"),
        ("GET", "/api/v1/files/٣", None, "id: must be a positive whole number"),
        ("POST", "/api/v1/files/¹/retry", None, "id: must be a positive whole number"),
        ("POST", "/api/v1/alerts/¹/read", None, "id: must be a positive whole number"),
        ("GET", "/api/v1/files?limit=٣", None, "limit: must be a whole number"),
        ("GET", "/api/v1/events?wait=٣", None, "wait: must be between"),
        # Present but empty is not absent.
        ("GET", "/api/v1/history?minutes=", None, "minutes: must be a whole number"),
        ("GET", "/api/v1/files?limit=", None, "limit: must be a whole number"),
        ("GET", "/api/v1/files?state=", None, "state: must be one of"),
        ("GET", "/api/v1/alerts?unread=", None, "unread: must be one of"),
        ("GET", "/api/v1/events?wait=", None, "wait: must be a number"),
        ("POST", "/api/v1/alerts/1/read", b'{"read": true, "x": 1}', "unknown field(s): x"),
    ],
)
def test_bad_parameters_are_400_with_a_message(served, method, path, body, words):
    _, _, client = served
    response = client.request(method, path, content=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_request" and words in error["message"]


def test_not_found_and_conflict(served):
    engine, _, client = served
    assert client.get("/api/v1/files/424242").status_code == 404
    assert client.post("/api/v1/files/424242/retry").status_code == 404
    assert client.post("/api/v1/alerts/77/read").status_code == 404
    drop(engine, "fine.txt", b"fine\n")
    rec = settled(engine, "fine.txt")
    response = client.post(f"/api/v1/files/{rec.id}/retry")
    assert response.status_code == 409 and "cannot be retried" in response.json()["error"]["message"]
    assert client.get("/nothing/here").json()["error"]["code"] == "not_found"
    not_allowed = client.delete("/api/v1/snapshot")
    assert not_allowed.status_code == 405
    assert set(not_allowed.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert set(client.get("/api/v1/backups").headers["allow"].replace(" ", "").split(",")) == {
        "POST",
        "OPTIONS",
    }


def test_retry_by_id_moves_a_failed_file_back_through_the_pipeline(served):
    engine, _, client = served
    drop(engine, "order.json", samples.json_bad())
    rec = settled(engine, "order.json")
    with open(rec.dest, "wb") as f:
        f.write(samples.json_good())
    response = client.post(f"/api/v1/files/{rec.id}/retry")
    assert response.status_code == 202 and response.json()["retried"] == [rec.id]
    wait_for(lambda: client.get(f"/api/v1/files/{rec.id}").json()["file"]["state"] == "done", what="done")
    detail = client.get(f"/api/v1/files/{rec.id}").json()
    assert [a["outcome"] for a in detail["attempts"]] == ["failed", "done"]
    assert detail["meta"]["first_keys"] == ["order", "items", "total"]


def test_retry_many_by_ids_and_all_failed(served):
    engine, _, client = served
    for i in range(3):
        drop(engine, f"b{i}.json", b"{")
    wait_for(lambda: engine.snapshot().counts["failed"] == 3)
    ids = [f.id for f in engine.files(state="failed").items]
    result = client.post("/api/v1/files/retry", json={"ids": [*ids[:2], 999]}).json()
    assert sorted(result["retried"]) == sorted(ids[:2]) and result["skipped"] == {
        "999": "not found or not failed"
    }
    wait_for(lambda: engine.snapshot().counts["failed"] == 3 and engine.pipeline.idle())
    result = client.post("/api/v1/files/retry", json={"state": "failed"}).json()
    assert sorted(result["retried"]) == sorted(ids)


def test_files_pagination_over_http(served):
    engine, _, client = served
    for i in range(7):
        drop(engine, f"f{i}.txt", b"x\n")
    wait_for(lambda: engine.snapshot().counts["done"] == 7)
    seen, before = [], None
    while True:
        params = {"limit": 3, **({"before": before} if before else {})}
        page = client.get("/api/v1/files", params=params).json()
        seen += [f["id"] for f in page["items"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == 7
    assert (
        client.get("/api/v1/files", params={"kind": "text", "q": "f3"}).json()["items"][0]["name"] == "f3.txt"
    )


def test_events_long_poll_returns_as_soon_as_something_happens(served):
    engine, _, client = served
    last = client.get("/api/v1/events").json()["last"]
    t0 = time.monotonic()
    quiet = client.get("/api/v1/events", params={"since": last, "wait": 0.5}).json()
    assert quiet["events"] == [] and quiet["last"] == last and time.monotonic() - t0 >= 0.45
    threading.Timer(0.3, lambda: drop(engine, "poke.txt", b"poke\n")).start()
    t0 = time.monotonic()
    got = client.get("/api/v1/events", params={"since": last, "wait": 10}).json()
    assert got["events"] and time.monotonic() - t0 < 5
    assert got["last"] == got["events"][-1]["id"]


def test_history_snapshot_and_request_stats(served):
    engine, _, client = served
    drop(engine, "h.txt", b"history\n")
    settled(engine, "h.txt")
    minutes = client.get("/api/v1/history", params={"minutes": 5}).json()["minutes"]
    assert len(minutes) == 5 and minutes[-1]["files"] == 1 and minutes[-1]["latency_p95"] > 0
    snap = client.get("/api/v1/snapshot").json()
    assert snap["counts"]["done"] == 1 and snap["unread_alerts"] == 0 and snap["watcher_alive"] is True
    endpoints = {e["route"]: e for e in client.get("/api/v1/requests/endpoints").json()["endpoints"]}
    assert endpoints["/api/v1/history"]["count"] == 1
    recent = client.get("/api/v1/requests/recent", params={"limit": 2}).json()["requests"]
    assert recent[0]["route"] == "/api/v1/requests/endpoints"
    stats = client.get("/api/v1/requests/stats").json()
    assert stats["requests"] >= 4 and "1m" in stats["windows"]


def test_alerts_read_and_unread(served):
    engine, _, client = served
    a = engine.journal.alerts.add("files_failed", "warning", "3 files failed", "a, b, c", count=3)
    engine.journal.alerts.add("job_failed", "critical", "backup failed", "disk full")
    body = client.get("/api/v1/alerts").json()
    assert body["unread"] == 2 and body["alerts"][0]["title"] == "backup failed"
    assert client.post(f"/api/v1/alerts/{a}/read").json() == {"id": a, "read": True}
    assert client.get("/api/v1/alerts", params={"unread": "true"}).json()["unread"] == 1
    assert len(client.get("/api/v1/alerts", params={"unread": "true"}).json()["alerts"]) == 1
    client.post(f"/api/v1/alerts/{a}/read", json={"read": False})
    assert client.get("/api/v1/alerts").json()["unread"] == 2


def test_metrics_exposition(served):
    engine, _, client = served
    drop(engine, "m.txt", b"metrics\n")
    drop(engine, "m.json", b"{")
    settled(engine, "m.txt")
    settled(engine, "m.json")
    client.get("/api/v1/snapshot")
    text = client.get("/metrics").text
    assert 'chute_files{kind="text",state="done"} 1.0' in text
    assert 'chute_files{kind="json",state="failed"} 1.0' in text
    assert 'chute_processing_duration_seconds_count{kind="text"} 1.0' in text
    assert 'chute_processing_duration_seconds_bucket{kind="text",le="+Inf"} 1.0' in text
    assert 'chute_http_requests_total{route="/api/v1/snapshot",status="2xx"} 1.0' in text
    assert 'chute_http_request_duration_seconds_bucket{le="+Inf",route="/api/v1/snapshot"} 1.0' in text
    assert "chute_queue_depth 0.0" in text


def test_health_fails_with_503_when_the_watcher_dies(served):
    engine, _, client = served
    response = client.get("/health")
    assert response.status_code == 200 and response.headers["content-type"] == "application/health+json"
    assert response.json()["status"] == "pass"
    engine.watcher._observer.stop()
    engine.watcher._observer.join()
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail" and body["checks"]["watcher:alive"][0]["status"] == "fail"
    assert client.get("/health/live").json() == {"status": "pass"}


def test_token_file_is_private_and_reused(served, tmp_path):
    engine, server, _ = served
    path = engine.config.paths.state / "token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().strip() == server.token and len(server.token) >= 32
    from chute.engine.server import auth

    assert auth.load_or_create(engine.config.paths.state)[0] == server.token


def test_token_from_environment_wins(tmp_path, monkeypatch):
    from chute.engine.server import auth

    monkeypatch.setenv("CHUTE_TOKEN", "from-the-environment")
    assert auth.load_or_create(tmp_path) == ("from-the-environment", "env")
    assert not (tmp_path / "token").exists()


def test_token_never_in_logs_or_responses(served, caplog):
    engine, server, client = served
    caplog.set_level(logging.DEBUG)
    drop(engine, "t.json", b"{")
    settled(engine, "t.json")
    bodies = [
        client.get(p).text
        for p in (
            "/api/v1/snapshot",
            "/metrics",
            "/health",
            "/api/v1/events",
            "/api/v1/requests/recent",
            "/api/v1/openapi.json",
        )
    ]
    httpx.get(server.url + "/api/v1/snapshot", headers={"Authorization": "Bearer " + server.token[:-1]})
    assert all(server.token not in b for b in bodies)
    assert server.token not in caplog.text


def test_garbage_never_causes_a_500(served):
    engine, server, client = served
    rnd = random.Random(3)
    paths = [r.path for r in ROUTES] + [
        "/api/v1/files/%00",
        "/api/v1/../../etc/passwd",
        "/api/v1/files/1/retry/x",
    ]
    junk = ["", "%", "%ff", "\x00", "-1", "1e999", "[]", "{}", "9" * 40, "ü", "<script>", "' OR 1=1 --"]
    for _ in range(300):
        path = rnd.choice(paths).replace("{id}", rnd.choice([*junk, "1", "2"]))
        params = {
            rnd.choice(["limit", "before", "since", "wait", "state", "q", "minutes", "x"]): rnd.choice(junk)
        }
        method = rnd.choice(["GET", "POST", "PUT", "DELETE"])
        body = rnd.choice([None, b"\xff\xfe", b"{", b'{"ids": [1e400]}', os.urandom(64)])
        try:
            response = client.request(method, path, params=params, content=body)
        except httpx.InvalidURL:
            continue  # httpx will not even send it
        assert response.status_code < 500 or path in ("/api/v1/backups", "/api/v1/reports"), (
            method,
            path,
            params,
            response.text,
        )
    # Not even HTTP: raw bytes on the socket.
    import socket

    host, port = server.host, server.port
    for payload in (os.urandom(512), b"GET /" + b"A" * 70000 + b" HTTP/1.1\r\n\r\n", b"\r\n\r\n\r\n"):
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            reply = sock.recv(200)
            assert reply == b"" or (reply.startswith(b"HTTP/1.") and b" 500 " not in reply[:20])
    assert engine.snapshot().watcher_alive
    assert client.get("/api/v1/snapshot").status_code == 200


def test_server_stops_with_the_engine_even_mid_long_poll(tmp_path, monkeypatch):
    engine = served_engine(tmp_path / "r")
    server = engine.server
    headers = {"Authorization": f"Bearer {server.token}"}
    results = []

    def poll():
        try:
            results.append(
                httpx.get(server.url + "/api/v1/events?since=999999&wait=30", headers=headers, timeout=40)
            )
        except httpx.HTTPError as exc:
            results.append(exc)

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    engine.stop()
    t.join(10)
    assert time.monotonic() - t0 < 8
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health/live", timeout=2)


def test_retry_takes_ids_written_as_whole_floats(served):
    # JSON Schema's "integer" admits 3.0, and contract testers send it.
    engine, _server, client = served
    drop(engine, "bad.json", b"{")
    rec = settled(engine, "bad.json")
    answer = client.post("/api/v1/files/retry", json={"ids": [float(rec.id)]})
    assert answer.status_code == 202, answer.text
    assert answer.json()["retried"] == [rec.id]
