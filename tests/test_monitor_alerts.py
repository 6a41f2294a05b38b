"""Alerts, reports and the alert centre of a monitored Flask app, through the engine's notifier,
against the same real servers as the engine's tests: a local HTTP server answering as Discord
does (429 included) and aiosmtpd with STARTTLS; a restart loses nothing; a token closes the
routes; several processes of one app send each message once."""

from __future__ import annotations

import email
import os
import re
import stat
from email import policy

import httpx
import pytest
from flask import Flask
from helpers import wait_for
from servers import FakeDiscord, ServedApp, smtp_server

from chute.engine.config import ConfigError
from chute.engine.monitor import Monitor

FAST = {"group_wait": 0.3, "group_interval": 0.3, "repeat_interval": 3600.0, "timeout": 2.0}
RULES = {"check_every": 0.2, "http_min_requests": 5, "http_error_rate": 0.5}


def monitored(instance, **options) -> tuple[Flask, Monitor]:
    app = Flask("shop", instance_path=str(instance))
    add_demo_routes(app)
    monitor = Monitor(app, name="shop", **options)
    if monitor.services is not None:
        monitor.services.retry_base = 0.2
    return app, monitor


def add_demo_routes(app: Flask) -> None:
    @app.get("/ok")
    def ok():
        return {"ok": True}

    @app.get("/boom")
    def boom():
        raise RuntimeError("the payment provider timed out")


@pytest.fixture
def discord(monkeypatch):
    fake = FakeDiscord([(429, {"message": "You are being rate limited.", "retry_after": 0.5}), (204, None)])
    monkeypatch.setenv("CHUTE_DISCORD_WEBHOOK", fake.url)
    yield fake
    fake.close()


def test_an_error_burst_reaches_discord_once_grouped_and_the_alert_centre(tmp_path, discord):
    app, monitor = monitored(tmp_path / "instance", discord=FAST, rules=RULES)
    try:
        with ServedApp(app) as server, httpx.Client(base_url=server.url) as client:
            for _ in range(5):
                client.get("/ok")
            for _ in range(20):
                assert client.get("/boom").status_code == 500
            wait_for(lambda: len(discord.requests) >= 3, timeout=15, what="two alerts and a retry")
            first = discord.requests[0][1]["embeds"][0]["title"]
            retried = [t for t, body in discord.requests if body["embeds"][0]["title"] == first]
            assert len(retried) == 2 and retried[1] - retried[0] >= 0.45, "the 429 waited retry_after"
            wait_for(
                lambda: {a["type"] for a in client.get("/api/alerts").json()} >= {"http_errors", "health"},
                timeout=10,
                what="both alerts in the alert centre",
            )
            alerts = client.get("/api/alerts").json()
            burst = next(a for a in alerts if a["type"] == "http_errors")
            assert burst["title"] == "HTTP error burst" and "20 of 25 requests failed" in burst["message"]
            assert set(burst) >= {
                "id",
                "timestamp",
                "datetime",
                "type",
                "severity",
                "title",
                "message",
                "read",
            }
            assert burst["read"] is False
            health = next(a for a in alerts if a["type"] == "health")
            assert health["severity"] == "critical" and "http:errors" in health["message"]
            # Each alert goes to Discord once (the 429 retried, not duplicated).
            wait_for(
                lambda: all(i.state == "sent" for i in monitor.services.journal.outbox.items("discord")),
                timeout=10,
            )
            titles = [r[1]["embeds"][0]["title"] for r in discord.requests[1:]]
            assert sorted(titles) == sorted({*titles}) and "HTTP error burst" in titles
            # The original's alert centre routes.
            assert client.get("/api/alerts/unread-count").json() == {"unread_count": len(alerts)}
            assert client.post(f"/api/alerts/{burst['id']}/read").json() == {"id": burst["id"], "read": True}
            assert client.get("/api/alerts/unread-count").json() == {"unread_count": len(alerts) - 1}
            assert [a["id"] for a in client.get("/api/alerts?unread=true").json()] == [
                a["id"] for a in alerts if a["id"] != burst["id"]
            ]
            assert client.put("/api/alerts/read-all").json() == {"marked": len(alerts) - 1}
            assert client.get("/api/alerts/unread-count").json() == {"unread_count": 0}
            assert client.post("/api/alerts/99999/read").status_code == 404
            # chute's view of the same alert centre, in the engine API's shape.
            doc = client.get("/monitoring/chute/alerts").json()
            assert doc["unread"] == 0 and len(doc["alerts"]) == len(alerts)
            assert (
                client.post(f"/monitoring/chute/alerts/{burst['id']}/read", json={"read": False}).json()[
                    "read"
                ]
                is False
            )
            assert client.get("/monitoring/chute/alerts").json()["unread"] == 1
            assert discord.url.split("/")[-1] not in str(client.get("/api/alerts").text)
    finally:
        monitor.stop()


def test_a_restart_loses_no_alert(tmp_path, monkeypatch):
    down = FakeDiscord([(500, None)])
    monkeypatch.setenv("CHUTE_DISCORD_WEBHOOK", down.url)
    app, monitor = monitored(tmp_path / "instance", discord=FAST, rules=RULES)
    client = app.test_client()
    for _ in range(10):
        client.get("/boom")
    wait_for(lambda: down.requests, timeout=15, what="a delivery that fails")
    monitor.stop()
    down.close()
    up = FakeDiscord([(204, None)])
    monkeypatch.setenv("CHUTE_DISCORD_WEBHOOK", up.url)
    app, again = monitored(tmp_path / "instance", discord=FAST, rules=RULES)
    try:
        again.start()  # no traffic after the restart: the queued alert still goes out
        wait_for(lambda: up.requests, timeout=15, what="the queued alert after the restart")
        assert up.requests[0][1]["embeds"][0]["title"] in ("HTTP error burst", "engine health is fail")
        assert again.services.alerts(), "the alert centre kept its alerts"
    finally:
        again.stop()
        up.close()


def test_the_weekly_report_is_emailed_with_the_request_figures(tmp_path, ca, monkeypatch):
    controller, capture, port = smtp_server("starttls", ca)
    monkeypatch.setenv("CHUTE_SMTP_PASSWORD", "s3cret")
    mail = {
        "host": "127.0.0.1",
        "port": port,
        "user": "chute",
        "sender": "shop@example.com",
        "to": ("ops@example.com",),
        "timeout": 5.0,
        "ca_file": ca.path,
    }
    app, monitor = monitored(tmp_path / "instance", email=mail)
    try:
        assert monitor.services.config.schedule.report == "monday 09:00", "weekly by default"
        with ServedApp(app) as server, httpx.Client(base_url=server.url) as client:
            for _ in range(8):
                client.get("/ok")
            client.get("/boom")
            client.get("/missing")
            monitor.services.run_report()  # what the schedule calls on Monday at 09:00
            wait_for(lambda: capture.messages, timeout=20, what="the report email")
            wait_for(lambda: not monitor.services.scheduler.status()[0].running, timeout=10)
            started = client.post("/monitoring/chute/reports")  # and what "make a report now" calls
            assert started.status_code == 202, started.text
            wait_for(lambda: len(capture.messages) == 2, timeout=20, what="the second report")
        msg = email.message_from_bytes(capture.messages[0], policy=policy.default)
        assert msg["Subject"] == "shop report: 10 requests, 20.0% errors"
        assert msg["From"] == "shop@example.com" and msg["To"] == "ops@example.com"
        parts = {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}
        assert "since the last report: 10 requests, 2 errors" in parts["text/plain"]
        assert "/boom" in parts["text/plain"] and "RuntimeError 1" in parts["text/plain"]
        assert "<h2>Endpoints</h2>" in parts["text/html"] and "/ok" in parts["text/html"]
        saved = list((tmp_path / "instance" / "chute" / "reports").glob("report-*.txt"))
        assert len(saved) == 2 and "shop — request report" in saved[0].read_text()
        second = email.message_from_bytes(capture.messages[1], policy=policy.default)
        # Only what came since the first report: the POST that asked for it, if recorded by then.
        assert re.search(r"since the last report: [01] requests", second.get_body(("plain",)).get_content())
        jobs = monitor.services.scheduler.status()
        assert jobs[0].name == "report" and jobs[0].last_outcome == "ok"
    finally:
        monitor.stop()
        controller.stop()


def test_a_token_closes_every_route_but_health(tmp_path, monkeypatch):
    monkeypatch.delenv("CHUTE_TOKEN", raising=False)
    app = Flask("private", instance_path=str(tmp_path / "instance"))
    app.config["CHUTE_MONITOR_TOKEN"] = True
    monitor = Monitor(app)
    token_file = tmp_path / "instance" / "chute" / "token"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert token_file.read_text().strip() == monitor.token
    client = app.test_client()
    for path in ("/monitoring/stats", "/monitoring/requests", "/api/alerts", "/monitoring/chute/snapshot"):
        refused = client.get(path)
        assert refused.status_code == 401 and str(token_file) in refused.get_json()["error"]["message"]
        assert monitor.token not in refused.get_data(as_text=True)
        assert client.get(path, headers={"Authorization": f"Bearer {monitor.token}"}).status_code == 200
    assert client.get("/health").status_code == 200
    monkeypatch.setenv("CHUTE_TOKEN", "from-the-environment")
    other = Flask("other", instance_path=str(tmp_path / "other"))
    assert Monitor(other, token=True).token == "from-the-environment"


def test_bad_settings_name_the_key_and_secrets_stay_out_of_them(tmp_path, monkeypatch):
    monkeypatch.delenv("CHUTE_DISCORD_WEBHOOK", raising=False)

    def make(**options):
        return Monitor(Flask("x", instance_path=str(tmp_path)), **options)

    with pytest.raises(ConfigError) as err:
        make(email={"host": "smtp.example.com"})
    assert err.value.key == "email.to"
    with pytest.raises(ConfigError) as err:
        make(discord={"webhook_url": "https://discord.com/api/webhooks/1/secret-x"})
    assert err.value.key == "discord.webhook_url" and "secret-x" not in str(err.value)
    with pytest.raises(ConfigError) as err:
        make(alerts=True, report="fortnightly")
    assert err.value.key == "schedule.report"
    with pytest.raises(ConfigError) as err:
        make(discord={"group_wait": "soon"})
    assert err.value.key == "discord.group_wait"
    with pytest.raises(ConfigError) as err:
        make(discord={})  # on, but CHUTE_DISCORD_WEBHOOK is not set: said at once, not at the first alert
    assert err.value.key == "discord.enabled" and "CHUTE_DISCORD_WEBHOOK" in str(err.value)
    # Without alerts: no SQLite file, no thread, and the alert routes answer empty.
    app = Flask("plain", instance_path=str(tmp_path / "plain"))
    Monitor(app)
    client = app.test_client()
    assert (
        client.get("/api/alerts").get_json() == []
        and client.get("/monitoring/chute/alerts").status_code == 404
    )
    assert not (tmp_path / "plain").exists()


def test_one_process_of_an_app_delivers_and_every_one_serves_the_alert_centre(tmp_path, discord):
    first, a = monitored(tmp_path / "instance", discord=FAST, rules=RULES)
    second, b = monitored(tmp_path / "instance", discord=FAST, rules=RULES)
    b.services.elect_every = 0.2
    try:
        a.start()
        wait_for(lambda: a.services.running, timeout=5)
        second.test_client().get("/ok")  # its first request starts it
        assert b.services.journal is not None
        for _ in range(10):
            first.test_client().get("/boom")
        wait_for(lambda: b.services.alerts(), timeout=10, what="the alert, seen from the other process")
        assert not b.services.running
        a.stop()
        wait_for(lambda: b.services.running, timeout=5, what="the second process to take over")
    finally:
        a.stop()
        b.stop()


def test_an_unwritable_instance_folder_never_fails_a_request_and_says_why(tmp_path, caplog):
    blocker = tmp_path / "instance"
    blocker.write_text("a file where the instance folder should be")
    app, monitor = monitored(blocker, alerts=True)
    try:
        client = app.test_client()
        assert client.get("/ok").status_code == 200
        assert client.get("/monitoring/stats").get_json()["total_requests"] == 1
        refused = client.get("/api/alerts")
        assert refused.status_code == 503 and str(blocker / "chute") in refused.get_json()["error"]["message"]
        assert client.get("/api/alerts/unread-count").status_code == 503
        assert "cannot be opened" in caplog.text
    finally:
        monitor.stop()


CHILD = """
import sys, time
from flask import Flask
from chute.engine.monitor import Monitor

app = Flask("shop", instance_path=sys.argv[1])
monitor = Monitor(app, name="shop", discord={FAST!r}, rules={RULES!r})
monitor.services.retry_base = 0.2
monitor.start()
for _ in range(10):
    monitor.collector.record("GET", "/boom", "/boom", 500, 0.01, "RuntimeError", "down")
while not monitor.services.running or not monitor.services.journal.outbox.items("discord"):
    time.sleep(0.05)
print("queued", flush=True)
time.sleep(60)
"""


def test_kill_9_of_the_sending_process_loses_no_alert(tmp_path, monkeypatch):
    import subprocess
    import sys

    fake = FakeDiscord([(500, None)])
    monkeypatch.setenv("CHUTE_DISCORD_WEBHOOK", fake.url)
    instance = tmp_path / "instance"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(FAST=FAST, RULES=RULES), str(instance)],
        stdout=subprocess.PIPE,
        text=True,
    )
    _, survivor = monitored(instance, discord=FAST, rules=RULES)
    try:
        assert child.stdout.readline().strip() == "queued"
        survivor.services.elect_every = 0.2
        survivor.start()
        wait_for(lambda: fake.requests, timeout=10, what="the child's first (failing) delivery")
        assert not survivor.services.running, "the child holds the lock"
        fake.script = [(204, None)]
        child.kill()  # SIGKILL: no goodbye, the lock goes with the process
        child.wait(5)
        wait_for(lambda: survivor.services.running, timeout=5, what="the survivor to take over")
        wait_for(
            lambda: all(i.state == "sent" for i in survivor.services.journal.outbox.items("discord")),
            timeout=15,
            what="the child's queued alerts delivered by the survivor",
        )
        sent = {r[1]["embeds"][0]["title"] for r in fake.requests}
        assert "HTTP error burst" in sent
    finally:
        child.kill()
        survivor.stop()
        fake.close()
