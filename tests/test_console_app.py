"""The console attached to a plain Flask app with Monitor(app), served live by waitress on a
loopback port: the source learns it is an app, files and failures are hidden, the Requests pane
shows the app's endpoints and requests, the overview its HTTP figures, sparklines and health, the
alert centre its alerts; same keys, same header."""

from __future__ import annotations

import httpx
import pytest
from flask import Flask
from helpers import until, wait_for
from servers import ServedApp

from chute.engine.monitor import Monitor
from chute.tui.app import ChuteApp
from chute.tui.source import RemoteSource

FAST = {"wait": 0.3, "snapshot_every": 0.5, "history_every": 1.0, "max_backoff": 1.0}
RULES = {"check_every": 0.2, "http_min_requests": 5, "http_error_rate": 0.5}


def cell(app, table_id: str, row_key: str, column: str) -> str:
    value = app.view.query_one(table_id).get_cell(row_key, column)
    return getattr(value, "plain", str(value))


@pytest.fixture
def shop(tmp_path, monkeypatch):
    monkeypatch.delenv("CHUTE_TOKEN", raising=False)
    grouping = {"enabled": False, "group_wait": 0.2, "group_interval": 0.2}  # no Discord, quick groups
    monitor = Monitor(name="shop", alerts=True, discord=grouping, rules=RULES, token=True)
    app = Flask("shop", instance_path=str(tmp_path / "instance"))

    @app.get("/orders/<int:order>")
    def order(order: int):
        return {"order": order}

    @app.get("/pay")
    def pay():
        raise RuntimeError("the payment provider timed out")

    monitor.init_app(app)
    with ServedApp(app) as server:
        server.monitor = monitor
        yield server
    monitor.stop()


def traffic(server, ok: int = 12, errors: int = 8) -> None:
    with httpx.Client(base_url=server.url) as client:
        for i in range(ok):
            client.get(f"/orders/{i}")
        for _ in range(errors):
            client.get("/pay")


async def test_the_console_on_a_monitored_app_shows_what_an_app_has(shop):
    traffic(shop)
    source = RemoteSource(shop.url, shop.monitor.token)
    app = ChuteApp([source], feed_options=FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.view.link.state == "live", what="the link")
        assert source.kind == "app" and "files" not in source.offers
        assert source.name == "shop", "the app's own name, from what it offers"
        tabs = app.view.tabs
        await until(pilot, lambda: app.view.hidden == {"files", "failures"}, what="files and failures hidden")
        assert not tabs.get_tab("files").display and tabs.get_tab("requests").display
        # The Requests pane: the app's endpoints with percentiles and error rates, its requests.
        await pilot.press("4")
        table = app.view.query_one("#endpoints-table")
        await until(pilot, lambda: "/orders/<int:order>" in table.rows, what="the app's endpoints")
        assert cell(app, "#endpoints-table", "/orders/<int:order>", "count") == "12"
        assert cell(app, "#endpoints-table", "/pay", "err").startswith("100")
        assert cell(app, "#endpoints-table", "/orders/<int:order>", "p95") not in ("", "—")
        assert not any(k.value.startswith("/monitoring/chute/") for k in table.rows), "its own polls"
        recent = app.view.query_one("#recent-table")
        await until(pilot, lambda: recent.row_count == 20, what="the live request log")
        # A number key for what an app has not says so, and stays where it is.
        await pilot.press("2")
        assert app.view.active_tab == "requests"
        assert any("it has no Files" in str(n.message) for n in app._notifications)
        # The overview: HTTP figures, health and the sparklines of latency and errors.
        await pilot.press("1")
        overview = app.view.pane("overview")
        await until(pilot, lambda: overview.health is not None, what="the app's health")
        assert overview.health.status == "fail"  # 8 errors of 20 in the last minute
        assert overview.query_one("#spark-http-errors").display
        assert not overview.query_one("#overview-counts").display
        # The header says which app and that the link is live, as for an engine.
        header = app.header.render().plain
        assert "shop" in header and "live" in header


async def test_the_alert_centre_of_a_monitored_app_in_the_console(shop):
    source = RemoteSource(shop.url, shop.monitor.token)
    traffic(shop, ok=4, errors=10)
    services = shop.monitor.services
    wait_for(lambda: any(a.kind == "http_errors" for a in services.alerts()), timeout=10, what="an alert")
    app = ChuteApp([source], feed_options=FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.view.link.state == "live", what="the link")
        await pilot.press("5")
        alerts = app.view.query_one("#alerts-table")
        await until(pilot, lambda: alerts.row_count >= 1, what="the app's alerts")
        unread = services.unread()
        assert unread >= 1
        await pilot.press("m")
        await until(pilot, lambda: services.unread() == unread - 1, what="the alert marked read in the app")
        assert "b backup" not in str(app.view.query_one("#jobs-label").render())
        # b: an app has no backups; said, not done.
        await pilot.press("b")
        await until(pilot, lambda: any("no backups" in str(n.message) for n in app._notifications))


async def test_a_wrong_token_says_so_in_the_header(shop):
    app = ChuteApp([RemoteSource(shop.url, "wrong")], feed_options=FAST)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.view.link.reason == "token refused (401)", what="the 401 said")


def test_attach_takes_an_open_app_without_a_token(tmp_path):
    from chute.tui.engines import resolve

    engines = tmp_path / "engines.toml"
    engines.write_text('[engines.shop]\nurl = "http://127.0.0.1:5000"\n')
    (shop,) = resolve(["shop"], engines, env={})
    assert shop.token == "" and shop.url == "http://127.0.0.1:5000"
    (bare,) = resolve(["127.0.0.1:5001"], engines, env={})
    assert bare.token == "" and bare.name == "127.0.0.1:5001"


async def test_no_token_for_an_app_that_wants_one_says_so(shop):
    app = ChuteApp([RemoteSource(shop.url, None)], feed_options=FAST)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.view.link.reason == "needs a token (401)", what="the 401 said")
