"""The console driven by pilot key presses, against an in-process engine (LocalSource) and against
the same engine over HTTP (RemoteSource talking to a real server on a loopback port)."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import drop, served_engine, settled, test_config

from chute.engine import Engine, samples
from chute.engine.server import ServerService
from chute.tui.app import ChuteApp
from chute.tui.modals import ConfirmScreen, DetailScreen, HelpScreen
from chute.tui.source import LocalSource, RemoteSource

FAST = {"wait": 0.3, "snapshot_every": 0.5, "history_every": 2.0, "max_backoff": 1.0}


@pytest.fixture
def engine(tmp_path):
    engine = served_engine(tmp_path / "root")
    yield engine
    engine.stop()


@pytest.fixture(params=["local", "remote"])
def source(request, engine):
    if request.param == "local":
        return LocalSource(engine)
    return RemoteSource(engine.server.url, engine.server.token, name="remote")


async def until(pilot, predicate, timeout: float = 10.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def cell(app, table_id: str, row_key: str, column: str) -> str:
    table = app.screen.query_one(table_id)
    return str(table.get_cell(row_key, column))


async def test_retry_flow_end_to_end(engine, source):
    drop(engine, "good.txt", b"fine\n")
    drop(engine, "order.json", samples.json_bad())
    failed = settled(engine, "order.json")
    settled(engine, "good.txt")
    with open(failed.dest, "wb") as f:  # the operator fixes the file where it failed
        f.write(samples.json_good())
    app = ChuteApp([source], feed_options=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        table = app.screen.query_one("#failures-table")
        await until(pilot, lambda: table.row_count == 1, what="the failed row")
        assert cell(app, "#failures-table", str(failed.id), "state") == "failed"
        await pilot.press("r")
        await until(
            pilot,
            lambda: cell(app, "#failures-table", str(failed.id), "state") == "done",
            what="the row to turn done",
        )
        assert engine.file(failed.id).file.state == "done"
        # Nothing failed is shown any more, so r and R do nothing here now: they are disabled.
        assert app.check_action("retry", ()) is None and app.check_action("retry_all", ()) is None


async def test_retry_all_asks_first(engine, source):
    for i in range(3):
        drop(engine, f"bad{i}.json", b"{")
    for i in range(3):
        settled(engine, f"bad{i}.json")
    app = ChuteApp([source], feed_options=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        table = app.screen.query_one("#failures-table")
        await until(pilot, lambda: table.row_count == 3)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause(0.3)
        assert all(f.attempts == 1 for f in engine.files(state="failed").items)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(
            pilot,
            lambda: (
                all(f.attempts == 2 for f in engine.files(state="failed").items)
                and len(engine.files(state="failed").items) == 3
            ),
            what="three second attempts",
        )


async def test_filter_and_detail(engine, source):
    drop(engine, "alpha.txt", b"alpha\n")
    drop(engine, "beta.csv", samples.csv_good(3))
    drop(engine, "gamma.json", b"{")
    for name in ("alpha.txt", "beta.csv", "gamma.json"):
        settled(engine, name)
    app = ChuteApp([source], feed_options=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#files-table")
        await until(pilot, lambda: table.row_count == 3)
        await pilot.press("slash")
        await pilot.press(*"kind:csv")
        await pilot.press("enter")
        await until(pilot, lambda: table.row_count == 1 and "beta.csv" in str(table.get_row_at(0)[2]))
        await pilot.press("slash")
        for _ in range(8):
            await pilot.press("backspace")
        await pilot.press(*"state:failed")
        await pilot.press("enter")
        await until(pilot, lambda: table.row_count == 1 and "gamma.json" in str(table.get_row_at(0)[2]))
        await pilot.press("enter")  # the cursor is on the table: open the detail
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.detail.file.name == "gamma.json"
        assert "invalid JSON" in app.screen.detail.file.reason
        assert [e.type for e in app.screen.detail.events] == ["arrived", "failed"]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))


async def test_help_lists_the_key_table(engine, source):
    from chute.tui.keys import KEYS

    app = ChuteApp([source], feed_options=FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = app.screen.query_one("Static").render()
        words = str(getattr(text, "renderable", text))
        assert words  # rendered
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for key in KEYS:
            if key.action.startswith("switch_engine"):
                assert key.description not in titles  # one engine: nothing to switch to
            else:
                assert key.description in titles


async def test_readonly_removes_every_action_that_changes_something(engine, source):
    drop(engine, "bad.json", b"{")
    settled(engine, "bad.json")
    app = ChuteApp([source], readonly=True, feed_options=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        table = app.screen.query_one("#failures-table")
        await until(pilot, lambda: table.row_count == 1)
        for action in ("retry", "retry_all", "run_job", "mark_read"):
            assert app.check_action(action, ()) is False
        await pilot.press("r")
        await pilot.press("R")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmScreen)
        assert engine.files(state="failed").items[0].attempts == 1
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Retry" not in titles and "Backup now" not in titles


async def test_pause_stops_updates(engine, source):
    app = ChuteApp([source], feed_options=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#files-table")
        await pilot.pause(0.5)
        await pilot.press("p")
        drop(engine, "while-paused.txt", b"x\n")
        settled(engine, "while-paused.txt")
        await pilot.pause(1.5)
        assert table.row_count == 0
        assert "paused" in str(app.screen.query_one("#header").render())
        await pilot.press("p")
        await until(pilot, lambda: table.row_count == 1, what="the update after resuming")


async def test_link_loss_and_recovery(engine):
    server = engine.server
    port = server.port
    source = RemoteSource(server.url, server.token, name="far")
    app = ChuteApp([source], feed_options=FAST, stale_after=30)
    header_text = lambda: str(app.screen.query_one("#header").render())  # noqa: E731
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "live" in header_text(), what="live")
        await asyncio.to_thread(server.stop)
        await until(pilot, lambda: "reconnecting" in header_text(), what="reconnecting")
        assert "reconnecting in" in header_text()
        drop(engine, "during-outage.txt", b"x\n")
        settled(engine, "during-outage.txt")
        restarted = ServerService(engine, port=port)
        restarted.token = server.token
        await asyncio.to_thread(restarted.start)
        try:
            await until(pilot, lambda: "● live" in header_text(), timeout=15, what="live again")
            await pilot.press("2")
            table = app.screen.query_one("#files-table")
            await until(pilot, lambda: table.row_count == 1, what="the file dropped while away")
            assert app.is_running
        finally:
            await asyncio.to_thread(restarted.stop)


async def test_several_engines_get_one_tab_each(tmp_path, monkeypatch):
    monkeypatch.delenv("CHUTE_TOKEN", raising=False)
    engines = []
    for name in ("east", "west"):
        e = Engine(test_config(tmp_path / name, server={"enabled": True, "port": 0}, name=name))
        s = ServerService(e)
        e.add_service(s)
        e.start()
        engines.append((e, s))
    try:
        drop(engines[1][0], "only-west.txt", b"w\n")
        settled(engines[1][0], "only-west.txt")
        sources = [RemoteSource(s.url, s.token, name=e.config.name) for e, s in engines]
        app = ChuteApp(sources, feed_options=FAST)
        async with app.run_test(size=(120, 40)) as pilot:
            header = lambda: str(app.screen.query_one("#header").render())  # noqa: E731
            await until(pilot, lambda: "east" in header() and "live" in header())
            await pilot.press("right_square_bracket")
            await until(pilot, lambda: "west" in header())
            await pilot.press("2")
            table = app.view.query_one("#files-table")
            await until(pilot, lambda: table.row_count == 1)
            await pilot.press("left_square_bracket")
            await until(pilot, lambda: "east" in header())
            # Each tab shows its own engine's link: stop west's server and only west's tab turns.
            from textual.widgets import Tab

            tab_text = lambda i: str(app.query_one(f"#engine-{i}", Tab).label)  # noqa: E731
            await asyncio.to_thread(engines[1][1].stop)
            await until(pilot, lambda: "●" in tab_text(1), what="state marks on the tabs")

            def west_reconnecting() -> bool:
                tab = app.query_one("#engine-1", Tab)
                return any("red" in str(span.style) for span in tab.label.spans)

            await until(pilot, west_reconnecting, timeout=10, what="west's tab to show its broken link")
            assert not any("red" in str(span.style) for span in app.query_one("#engine-0", Tab).label.spans)
    finally:
        for e, _ in engines:
            e.stop()


async def test_a_modal_open_while_live_updates_arrive_does_not_crash(engine, source):
    app = ChuteApp([source], feed_options=FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        drop(engine, "meanwhile.txt", b"x\n")
        settled(engine, "meanwhile.txt")
        await pilot.pause(2.5)  # header timer and feed messages fire under the modal
        assert app.is_running and isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("2")
        table = app.screen.query_one("#files-table")
        await until(pilot, lambda: table.row_count == 1)
