"""Email and Discord against real servers on loopback: aiosmtpd, and a local HTTP server that
answers as Discord does (200/204, 429 with retry_after, 404, 500). Alerts are grouped, the outbox
survives restarts, secrets stay out of logs, and a dead neighbour never stalls the pipeline."""

from __future__ import annotations

import email
import email.utils
import logging
import sqlite3
import subprocess
import sys
import time

import pytest
from helpers import drop, fresh_env, settled, test_config, wait_for
from servers import Blackhole, FakeDiscord, Trickle, free_port, smtp_server

from chute.engine import Engine
from chute.engine.config import EmailConfig
from chute.engine.journal import Journal
from chute.engine.notify.alerter import Alerter
from chute.engine.notify.discord import DESCRIPTION_MAX, TOTAL_MAX, DiscordSender, embed
from chute.engine.notify.email import EmailSender

MSG = {"subject": "chute report", "text": "plain words", "html": "<p>html <b>words</b></p>"}


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_email_arrives_with_text_and_html(ca, mode):
    controller, capture, port = smtp_server(mode, ca)
    try:
        cfg = EmailConfig(
            enabled=True,
            host="127.0.0.1",
            port=port,
            security=mode,
            user="chute",
            sender="chute@example.com",
            to=("ops@example.com", "dev@example.com"),
            timeout=5,
        )
        assert EmailSender(cfg, "s3cret", ca.path).send(MSG).outcome == "sent"
    finally:
        controller.stop()
    (raw,) = capture.messages
    msg = email.message_from_bytes(raw)
    assert msg["Subject"] == "chute report" and msg["To"] == "ops@example.com, dev@example.com"
    types = [part.get_content_type() for part in msg.walk()]
    assert "text/plain" in types and "text/html" in types
    assert email.utils.parsedate_to_datetime(msg["Date"]) and msg["Message-ID"].endswith("@example.com>")


def test_email_failures_say_why(ca):
    controller, capture, port = smtp_server("starttls", ca)
    try:
        cfg = EmailConfig(enabled=True, host="127.0.0.1", port=port, user="chute", to=("a@b.c",), timeout=2)
        refused = EmailSender(cfg, "wrong", ca.path).send(MSG)
        assert refused.outcome == "disabled" and "refused the login: 535" in refused.error
        untrusted = EmailSender(cfg, "s3cret", None).send(MSG)
        assert untrusted.outcome == "retry" and "TLS" in untrusted.error
    finally:
        controller.stop()
    plain, _, plain_port = smtp_server("plain", ca)
    try:
        cfg = EmailConfig(enabled=True, host="127.0.0.1", port=plain_port, to=("a@b.c",), timeout=2)
        clear = EmailSender(cfg, None).send(MSG)
        assert clear.outcome == "retry" and "will not send in clear text" in clear.error
    finally:
        plain.stop()
    dead = EmailSender(
        EmailConfig(enabled=True, host="127.0.0.1", port=free_port(), to=("a@b.c",), timeout=2), None
    )
    assert "cannot reach" in dead.send(MSG).error
    hole = Blackhole()
    try:
        t0 = time.monotonic()
        hung = EmailSender(
            EmailConfig(enabled=True, host="127.0.0.1", port=hole.port, to=("a@b.c",), timeout=1), None
        )
        assert "did not answer within 1s" in hung.send(MSG).error
        assert time.monotonic() - t0 < 5
    finally:
        hole.close()
    assert capture.messages == []


def test_report_email_retried_until_the_server_comes_back(ca, tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("CHUTE_SMTP_PASSWORD", "s3cret")
    config = test_config(
        tmp_path / "root",
        email={
            "enabled": True,
            "host": "127.0.0.1",
            "port": port,
            "user": "chute",
            "to": ("ops@example.com",),
            "timeout": 2.0,
            "ca_file": ca.path,
        },
    )
    engine = Engine(config)
    engine.notify_retry_base = 0.3
    engine.start()
    controller = None
    try:
        engine.run_job("report")
        wait_for(
            lambda: any(i.attempts >= 1 for i in engine.journal.outbox.items("email")), what="a failed try"
        )
        item = engine.journal.outbox.items("email")[0]
        assert item.state == "pending" and "cannot reach" in item.last_error
        assert list(config.paths.archive.glob("report-*.txt")), "the report stays archived"
        assert any(e.type == "notify_retry" for e in engine.events(since=0))
        # The server comes up on that port: the next retry delivers.
        import servers
        from aiosmtpd.controller import Controller

        controller, capture, _ = servers.smtp_server("starttls", ca)
        controller.stop()
        controller = Controller(
            capture,
            hostname="127.0.0.1",
            port=port,
            tls_context=controller.SMTP_kwargs["tls_context"],
            require_starttls=True,
            authenticator=controller.SMTP_kwargs["authenticator"],
            auth_require_tls=True,
        )
        controller.start()
        wait_for(lambda: engine.journal.outbox.items("email")[0].state == "sent", timeout=30, what="delivery")
        assert "chute report" in email.message_from_bytes(capture.messages[0])["Subject"]
    finally:
        engine.stop()
        if controller:
            controller.stop()


def discord_engine(tmp_path, monkeypatch, fake: FakeDiscord, **discord):
    monkeypatch.setenv("CHUTE_DISCORD_WEBHOOK", fake.url)
    settings = {
        "enabled": True,
        "group_wait": 1.0,
        "group_interval": 1.0,
        "repeat_interval": 3600.0,
        "timeout": 2.0,
        **discord,
    }
    engine = Engine(test_config(tmp_path / "root", discord=settings, alerts={"check_every": 0.2}))
    engine.notify_retry_base = 0.2
    engine.start()
    return engine


def test_500_failures_make_one_message_that_says_500(tmp_path, monkeypatch):
    fake = FakeDiscord()
    engine = discord_engine(tmp_path, monkeypatch, fake, group_wait=4.0)
    try:
        for i in range(500):
            drop(engine, f"bad-{i:03d}.json", b"{")
        wait_for(lambda: engine.snapshot().counts["failed"] == 500, timeout=60)
        wait_for(lambda: fake.requests, timeout=10, what="the grouped message")
        time.sleep(1.5)
        assert len(fake.requests) == 1
        (embed_,) = fake.requests[0][1]["embeds"]
        assert embed_["title"] == "500 file(s) failed"
        assert "…and 490 more" in embed_["description"]
        (alert,) = engine.alerts()
        assert alert.count == 500 and alert.kind == "files_failed" and not alert.read
    finally:
        engine.stop()
        fake.close()


def test_429_waits_retry_after_then_delivers(tmp_path, monkeypatch):
    fake = FakeDiscord(
        [(429, {"message": "You are being rate limited.", "retry_after": 1.5, "global": False}), (204, None)]
    )
    engine = discord_engine(tmp_path, monkeypatch, fake, group_wait=0.2)
    try:
        drop(engine, "x.json", b"{")
        wait_for(lambda: len(fake.requests) >= 2, timeout=15, what="the retry")
        assert fake.requests[1][0] - fake.requests[0][0] >= 1.4
        wait_for(lambda: engine.journal.outbox.items("discord")[0].state == "sent")
    finally:
        engine.stop()
        fake.close()


def test_404_stops_using_the_webhook_and_says_so(tmp_path, monkeypatch):
    fake = FakeDiscord([(404, {"message": "Unknown Webhook", "code": 10015})])
    engine = discord_engine(tmp_path, monkeypatch, fake, group_wait=0.2, group_interval=0.2)
    try:
        drop(engine, "a.json", b"{")
        wait_for(
            lambda: any(a.kind == "notifier" for a in engine.alerts()), timeout=10, what="the notifier alert"
        )
        drop(engine, "b.json", b"{")
        settled(engine, "b.json")
        time.sleep(1.5)
        assert len(fake.requests) == 1, "a refused webhook is not hammered"
        notifier_alert = next(a for a in engine.alerts() if a.kind == "notifier")
        assert notifier_alert.severity == "critical" and "404" in notifier_alert.body
    finally:
        engine.stop()
        fake.close()
    # The operator makes a new webhook: a new URL is used again, and the queued alerts go out.
    fresh = FakeDiscord([(204, None)])
    again = discord_engine(tmp_path, monkeypatch, fresh, group_wait=0.2)
    try:
        wait_for(lambda: fresh.requests, timeout=10, what="delivery to the new webhook")
    finally:
        again.stop()
        fresh.close()


def test_5xx_retries_with_backoff_then_delivers(tmp_path, monkeypatch):
    fake = FakeDiscord([(500, None), (502, None), (204, None)])
    engine = discord_engine(tmp_path, monkeypatch, fake, group_wait=0.2)
    try:
        drop(engine, "x.json", b"{")
        wait_for(lambda: len(fake.requests) >= 3, timeout=15)
        gaps = [b[0] - a[0] for a, b in zip(fake.requests, fake.requests[1:], strict=False)]
        assert gaps[1] - gaps[0] > 0.1, "backoff grows (0.2 s, then 0.4 s, plus the same overhead)"
        wait_for(lambda: engine.journal.outbox.items("discord")[0].state == "sent")
    finally:
        engine.stop()
        fake.close()


def test_a_restart_loses_no_alert(tmp_path, monkeypatch):
    down = FakeDiscord([(500, None)])
    engine = discord_engine(tmp_path, monkeypatch, down, group_wait=0.2)
    drop(engine, "x.json", b"{")
    wait_for(lambda: down.requests, timeout=10)
    engine.stop()
    down.close()
    assert engine.journal is not None
    up = FakeDiscord([(204, None)])
    again = discord_engine(tmp_path, monkeypatch, up, group_wait=0.2)
    try:
        wait_for(lambda: up.requests, timeout=15, what="the queued alert after the restart")
        assert up.requests[0][1]["embeds"][0]["title"] == "1 file(s) failed"
    finally:
        again.stop()
        up.close()


def test_health_and_http_bursts_raise_alerts(tmp_path, monkeypatch):
    fake = FakeDiscord()
    engine = discord_engine(tmp_path, monkeypatch, fake, group_wait=0.2)
    try:
        for _ in range(30):
            engine.requests.record("GET", "/boom", "/boom", 500, 0.01, "RuntimeError", "boom")
        wait_for(lambda: any(a.kind == "http_errors" for a in engine.alerts()), timeout=10)
        engine.watcher._observer.stop()
        engine.watcher._observer.join()
        wait_for(
            lambda: any(a.kind == "health" and "watcher:alive" in a.body for a in engine.alerts()), timeout=10
        )
        health = next(a for a in engine.alerts() if a.kind == "health" and "watcher:alive" in a.body)
        assert health.title == "engine health is fail" and health.severity == "critical"
        wait_for(lambda: len(fake.requests) >= 2, timeout=10)
    finally:
        engine.stop()
        fake.close()


def test_the_webhook_url_never_reaches_logs_events_or_alerts(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeDiscord([(500, None), (404, None)])
    engine = discord_engine(tmp_path, monkeypatch, fake, group_wait=0.2)
    try:
        drop(engine, "x.json", b"{")
        wait_for(lambda: any(a.kind == "notifier" for a in engine.alerts()), timeout=15)
        secret = "secret-token-abc"
        assert secret not in caplog.text
        assert all(secret not in e.message and secret not in str(e.data) for e in engine.events(since=0))
        assert all(secret not in a.body and secret not in a.title for a in engine.alerts())
        assert all(secret not in str(i) for i in engine.journal.outbox.items())
    finally:
        engine.stop()
        fake.close()


def test_secrets_in_the_config_text_are_refused(tmp_path):
    from chute.engine.config import ConfigError, load

    for text, key in (
        ('[email]\npassword = "hunter2"\n', "email.password"),
        ('[discord]\nwebhook_url = "https://discord.com/api/webhooks/1/x"\n', "discord.webhook_url"),
    ):
        path = tmp_path / "chute.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as err:
            load(path)
        assert err.value.key == key and "hunter2" not in str(err.value) and "/x" not in str(err.value)


def test_embeds_respect_discord_limits():
    e = embed("t" * 1000, "d" * 10_000, "critical", "f" * 3000)
    assert len(e["title"]) <= 256 and len(e["description"]) <= DESCRIPTION_MAX
    assert len(e["title"]) + len(e["description"]) + len(e["footer"]["text"]) <= TOTAL_MAX


def test_alerter_groups_like_alertmanager():
    clock = [0.0]
    a = Alerter(group_wait=30, group_interval=300, repeat_interval=3600, clock=lambda: clock[0])
    for i in range(500):
        a.raise_("files", "files_failed", "warning", "{n} failed", f"f{i}")
    assert a.due() == []  # still gathering
    clock[0] = 31
    (first,) = a.due()
    assert first.title == "500 failed" and first.count == 500 and len(first.lines) == 10
    a.raise_("files", "files_failed", "warning", "{n} failed", "late")
    clock[0] = 100
    assert a.due() == []  # within group_interval
    clock[0] = 332
    (second,) = a.due()
    assert second.title == "1 failed" and second.total == 501
    a.raise_("health", "health", "critical", "health is fail", "x")
    a.set_active("health", True)
    clock[0] = 400
    assert [f.key for f in a.due()] == ["health"]
    clock[0] = 400 + 3601
    (repeat,) = a.due()
    assert repeat.repeat and repeat.title.startswith("still:")


def test_dead_neighbours_do_not_stall_the_pipeline(tmp_path, monkeypatch):
    hole = Blackhole()
    monkeypatch.setenv("CHUTE_DISCORD_WEBHOOK", f"http://127.0.0.1:{hole.port}/api/webhooks/1/x")
    config = test_config(
        tmp_path / "root",
        discord={"enabled": True, "group_wait": 0.0, "group_interval": 0.0, "timeout": 5.0},
        email={"enabled": True, "host": "127.0.0.1", "port": hole.port, "to": ("a@b.c",), "timeout": 5.0},
    )
    engine = Engine(config)
    engine.start()
    try:
        t0 = time.monotonic()
        for i in range(200):
            drop(engine, f"{i}.json", b"{" if i % 2 else b"{}")
        wait_for(
            lambda: engine.snapshot().counts["done"] + engine.snapshot().counts["failed"] == 200, timeout=30
        )
        assert time.monotonic() - t0 < 10
        engine.run_job("report")
        wait_for(lambda: list(config.paths.archive.glob("report-*.html")), timeout=10)
    finally:
        engine.stop()
        hole.close()


def test_discord_sender_answers():
    fake = FakeDiscord([(204, None), (200, {}), (400, {"message": "Invalid Form Body"})])
    try:
        sender = DiscordSender(fake.url, 2)
        assert sender.send({"content": "x"}).outcome == "sent"
        assert sender.send({"content": "x"}).outcome == "sent"
        bad = sender.send({"content": "x"})
        assert bad.outcome == "dead" and "400" in bad.error
    finally:
        fake.close()


def test_stopping_does_not_wait_for_a_hung_webhook(tmp_path, monkeypatch):
    hole = Blackhole()
    monkeypatch.setenv("CHUTE_DISCORD_WEBHOOK", f"http://127.0.0.1:{hole.port}/api/webhooks/1/x")
    engine = Engine(
        test_config(tmp_path / "root", discord={"enabled": True, "group_wait": 0.0, "timeout": 60.0})
    )
    engine.start()
    try:
        drop(engine, "x.json", b"{")
        wait_for(lambda: hole.conns, timeout=10, what="the webhook call to hang")
    finally:
        t0 = time.monotonic()
        engine.stop()
        hole.close()
    assert time.monotonic() - t0 < 10
    again = Engine(test_config(tmp_path / "root"))
    again.start()
    try:
        assert again.journal.outbox.items("discord")[0].state == "pending", "kept for the next start"
    finally:
        again.stop()


# --- under faults ----------------------------------------------------------------------------


def email_settings(port: int, ca, **more) -> dict:
    return {
        "enabled": True,
        "host": "127.0.0.1",
        "port": port,
        "user": "chute",
        "to": ("ops@example.com",),
        "timeout": 2.0,
        "ca_file": ca.path,
        **more,
    }


def queued_before_start(root, items: list[tuple[str, dict]]) -> None:
    """Outbox items waiting in the journal when the engine starts (from an earlier run)."""
    test_config(root).paths.make()
    journal = Journal(root / "state" / "journal.sqlite")
    for channel, payload in items:
        journal.outbox.add(channel, payload)
    journal.close()


def embed_item(n: int) -> tuple[str, dict]:
    return ("discord", {"embeds": [embed(f"alert {n}", "x", "warning", "f")]})


def test_a_restart_during_group_wait_loses_no_alert(tmp_path, monkeypatch):
    fake = FakeDiscord()
    engine = discord_engine(tmp_path, monkeypatch, fake, group_wait=60.0)
    try:
        for i in range(50):
            drop(engine, f"bad-{i}.json", b"{")
        wait_for(lambda: engine.snapshot().counts["failed"] == 50, timeout=30)
    finally:
        engine.stop()
    assert fake.requests == [] and engine.journal is not None
    again = discord_engine(tmp_path, monkeypatch, fake, group_wait=0.2)
    try:
        wait_for(lambda: fake.requests, timeout=10, what="the group gathered before the restart")
        assert fake.requests[0][1]["embeds"][0]["title"] == "50 file(s) failed"
        (alert,) = [a for a in again.alerts() if a.kind == "files_failed"]
        assert alert.count == 50
    finally:
        again.stop()
        fake.close()


def test_a_kill_during_group_wait_loses_no_alert(tmp_path, monkeypatch):
    """kill -9 right after the failures: counted again from the journal at the next start."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "chute.toml").write_text(
        '[discord]\nenabled = true\ngroup_wait = 60.0\n[schedule]\nreport = ""\n[watcher]\nmin_age = 0.2\n'
    )
    fake = FakeDiscord()
    env = {**fresh_env(), "CHUTE_DISCORD_WEBHOOK": fake.url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chute.engine", "--config", str(root / "chute.toml"), "--no-server"], env=env
    )
    try:
        wait_for(lambda: (root / "state" / "journal.sqlite").exists(), what="the engine to start")
        for i in range(30):
            (root / "inbox" / f"bad-{i}.json").write_bytes(b"{")

        def failed() -> int:
            try:
                with sqlite3.connect(root / "state" / "journal.sqlite") as conn:
                    return conn.execute("SELECT count(*) FROM files WHERE state='failed'").fetchone()[0]
            except sqlite3.OperationalError:
                return 0  # the engine is still creating its tables

        wait_for(lambda: failed() == 30, timeout=30, what="30 failures")
    finally:
        proc.kill()
        proc.wait()
    again = discord_engine(tmp_path, monkeypatch, fake, group_wait=0.2)
    try:
        wait_for(lambda: fake.requests, timeout=10, what="the failures from before the kill")
        assert fake.requests[0][1]["embeds"][0]["title"] == "30 file(s) failed"
        (alert,) = [a for a in again.alerts() if a.kind == "files_failed"]
        assert alert.count == 30
    finally:
        again.stop()
        fake.close()


def test_a_dead_webhook_never_blocks_email(ca, tmp_path, monkeypatch):
    root = tmp_path / "root"
    queued_before_start(root, [embed_item(i) for i in range(25)])
    controller, capture, port = smtp_server("starttls", ca)
    fake = FakeDiscord([(404, {"message": "Unknown Webhook", "code": 10015})])
    monkeypatch.setenv("CHUTE_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("CHUTE_DISCORD_WEBHOOK", fake.url)
    engine = Engine(
        test_config(root, discord={"enabled": True, "timeout": 2.0}, email=email_settings(port, ca))
    )
    engine.notify_retry_base = 0.2
    engine.start()
    try:
        assert engine.notifier.queue_email("after the webhook died", "text", None)
        wait_for(lambda: capture.messages, timeout=10, what="the email")
        wait_for(lambda: any(a.title == "Discord webhook refused" for a in engine.alerts()))
        assert len(fake.requests) == 1, "a refused webhook is not called again"
    finally:
        engine.stop()
        controller.stop()
        fake.close()


def test_a_trickling_smtp_server_meets_a_deadline_and_discord_goes_on(tmp_path, monkeypatch):
    trickle = Trickle(gap=0.2)
    try:
        cfg = EmailConfig(enabled=True, host="127.0.0.1", port=trickle.port, to=("a@b.c",), timeout=1.0)
        t0 = time.monotonic()
        result = EmailSender(cfg, None).send(MSG)
        assert result.outcome == "retry" and "within 1s (the whole send)" in result.error
        assert time.monotonic() - t0 < 3, "a byte every 0.2 s never trips a per-read timeout"

        fake = FakeDiscord()
        monkeypatch.setenv("CHUTE_DISCORD_WEBHOOK", fake.url)
        email_cfg = {
            "enabled": True,
            "host": "127.0.0.1",
            "port": trickle.port,
            "to": ("a@b.c",),
            "timeout": 4.0,
        }
        engine = Engine(
            test_config(tmp_path / "root", discord={"enabled": True, "group_wait": 0.2}, email=email_cfg)
        )
        engine.start()
        try:
            engine.notifier.queue_email("stuck", "text", None)
            wait_for(lambda: trickle.connections, what="the email send to begin")
            drop(engine, "x.json", b"{")
            wait_for(lambda: fake.requests, timeout=3, what="Discord while the email is stuck")
            assert engine.journal.outbox.items("email")[0].attempts == 0, "the email send is still going"
            item = wait_for(
                lambda: [i for i in engine.journal.outbox.items("email") if i.attempts], timeout=8
            )[0]
            assert "the whole send" in item.last_error
        finally:
            engine.stop()
            fake.close()
    finally:
        trickle.close()


def test_a_slow_discord_gets_each_alert_once(tmp_path, monkeypatch):
    fake = FakeDiscord(delay=1.2)
    engine = discord_engine(tmp_path, monkeypatch, fake, group_wait=0.2, timeout=0.5)
    try:
        drop(engine, "x.json", b"{")
        wait_for(lambda: [i for i in engine.journal.outbox.items("discord") if i.state == "sent"], timeout=10)
        time.sleep(1.5)  # time enough for re-sends, were there any
        assert len(fake.requests) == 1
        assert any(e.type == "notify_unconfirmed" for e in engine.events(since=0))
    finally:
        engine.stop()
        fake.close()


def test_a_rate_limit_pauses_the_whole_webhook(tmp_path, monkeypatch):
    root = tmp_path / "root"
    queued_before_start(root, [embed_item(i) for i in range(6)])
    fake = FakeDiscord(
        [
            (204, None, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "0.8"}),
            (429, {"message": "You are being rate limited.", "retry_after": 1.0, "global": False}),
            (204, None),
        ]
    )
    engine = discord_engine(root.parent, monkeypatch, fake, group_wait=0.2)
    try:
        wait_for(lambda: all(i.state == "sent" for i in engine.journal.outbox.items("discord")), timeout=15)
        times = [t for t, _ in fake.requests]
        assert len(times) == 7, "one 429, then each item once"
        assert times[1] - times[0] >= 0.75, "an empty bucket is waited out before the next send"
        assert times[2] - times[1] >= 0.95, "a 429 pauses every item, not just the one that met it"
        assert [r["embeds"][0]["title"] for _, r in fake.requests[2:]] == [f"alert {i}" for i in range(1, 6)]
    finally:
        engine.stop()
        fake.close()


@pytest.mark.parametrize(
    ("password", "answer", "title", "state"),
    [
        ("wrong", "250 OK", "email login refused", "pending"),
        (
            "s3cret",
            "552 5.3.4 Message size exceeds fixed limit",
            "email notification could not be delivered",
            "dead",
        ),
    ],
)
def test_permanent_email_failures_raise_an_alert_and_stop_retrying(
    ca, tmp_path, monkeypatch, password, answer, title, state
):
    controller, _, port = smtp_server("starttls", ca, answer=answer)
    monkeypatch.setenv("CHUTE_SMTP_PASSWORD", password)
    engine = Engine(test_config(tmp_path / "root", email=email_settings(port, ca)))
    engine.notify_retry_base = 0.1
    engine.start()
    try:
        engine.notifier.queue_email("big", "text", None)
        alert = wait_for(lambda: [a for a in engine.alerts() if a.title == title], timeout=10)[0]
        assert ("535" if password == "wrong" else "552") in alert.body
        time.sleep(0.5)  # backoff of 0.1 s would have retried several times by now
        (item,) = engine.journal.outbox.items("email")
        assert item.state == state and item.attempts == 1
    finally:
        engine.stop()
        controller.stop()
