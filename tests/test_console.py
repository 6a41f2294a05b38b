"""The console driven by pilot key presses, as an operator would, at 80x24 and 120x40: against an
in-process engine (LocalSource) and against real servers on loopback ports (RemoteSource), each
engine with its own token."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from helpers import drop, served_engine, settled, until, wait_for
from servers import RedisServer, free_port

from chute.engine import samples
from chute.engine.model import FAILED
from chute.engine.server import ServerService
from chute.tui import fmt
from chute.tui.app import ChuteApp
from chute.tui.engines import resolve
from chute.tui.modals import ConfirmScreen, DetailScreen, HelpScreen
from chute.tui.source import LocalSource, RemoteSource

FAST = {"wait": 0.3, "snapshot_every": 0.5, "history_every": 2.0, "max_backoff": 1.0}
SMALL, LARGE = (80, 24), (120, 40)
# Each operator path runs at both sizes, once in-process and once over HTTP.
SIZES_AND_LINKS = [
    pytest.param(SMALL, "remote", id="80x24-remote"),
    pytest.param(LARGE, "local", id="120x40-local"),
]


@pytest.fixture
def engine(tmp_path):
    engine = served_engine(tmp_path / "root")
    yield engine
    engine.stop()


def source_for(engine, link: str):
    if link == "local":
        return LocalSource(engine)
    return RemoteSource(engine.server.url, engine.server.token, name="remote")


def header(app) -> str:
    return app.header.render().plain


def cell(app, table_id: str, row_key: str, column: str) -> str:
    table = app.view.query_one(table_id)
    value = table.get_cell(row_key, column)
    return getattr(value, "plain", str(value))


def fail_several(engine, n: int) -> list[int]:
    """n failed files, settled one after another so their ids are in order; ids newest first."""
    ids = []
    for i in range(n):
        drop(engine, f"bad{i}.json", b"{")
        ids.append(settled(engine, f"bad{i}.json").id)
    return sorted(ids, reverse=True)


def retried(engine, file_id: int) -> bool:
    return any(e.type == "retry_requested" for e in engine.file(file_id).events)


@pytest.mark.parametrize(("size", "link"), SIZES_AND_LINKS)
async def test_number_key_then_arrows_then_r_retries_the_third_failed_file(engine, size, link):
    ids = fail_several(engine, 4)
    app = ChuteApp([source_for(engine, link)], feed_options=FAST)
    async with app.run_test(size=size) as pilot:
        await pilot.press("3")
        table = app.view.query_one("#failures-table")
        await until(pilot, lambda: table.row_count == 4, what="four failed rows")
        assert app.focused is table  # the number key put the focus in the table: arrows land
        await pilot.press("down", "down")
        assert table.selected_id() == ids[2]
        await pilot.press("r")
        await until(pilot, lambda: retried(engine, ids[2]), what="the journal to record the retry")
        # Only the third file went back, none of the others.
        assert [retried(engine, fid) for fid in ids] == [False, False, True, False]
        assert engine.file(ids[2]).file.attempts == 2
        # Once it failed again the row shows the latest attempt, not the first one's.
        await until(pilot, lambda: cell(app, "#failures-table", str(ids[2]), "tries") == "2")
        # r on a row that is not failed says why instead of doing nothing.
        await pilot.press("2")
        files = app.view.query_one("#files-table")
        drop(engine, "fine.txt", b"ok\n")
        fine = settled(engine, "fine.txt")
        await until(pilot, lambda: str(fine.id) in files.rows, what="the done file in Files")
        await pilot.press("g")
        assert files.selected_id() == fine.id
        await pilot.press("r")
        await until(pilot, lambda: any("not failed" in str(n.message) for n in app._notifications))
        assert not retried(engine, fine.id)


@pytest.mark.parametrize(("size", "link"), SIZES_AND_LINKS)
async def test_filter_then_a_number_key_moves_on_and_esc_clears(engine, size, link):
    drop(engine, "alpha.txt", b"alpha\n")
    drop(engine, "beta.csv", samples.csv_good(3))
    drop(engine, "gamma.json", b"{")
    for name in ("alpha.txt", "beta.csv", "gamma.json"):
        settled(engine, name)
    app = ChuteApp([source_for(engine, link)], feed_options=FAST)
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        table = app.view.query_one("#files-table")
        box = app.view.query_one("#files-filter")
        await until(pilot, lambda: table.row_count == 3)
        await pilot.press("slash", *"kind:csv", "enter")
        await until(
            pilot,
            lambda: (
                table.row_count == 1 and "beta.csv" in cell(app, "#files-table", table.selected_key(), "name")
            ),
        )
        assert app.focused is table  # enter gave the focus back
        await pilot.press("1")
        await until(pilot, lambda: app.view.active_tab == "overview")
        assert box.value == "kind:csv"  # the 1 went to the app, not into the filter
        await pilot.press("2")
        assert app.focused is table
        await pilot.press("escape")  # esc in the table clears the filter
        await until(pilot, lambda: table.row_count == 3, what="all files again")
        assert app.view.pane("files").filter_text == "" and box.has_class("hidden")
        await pilot.press("enter")  # the selected row's detail
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))
        await pilot.press("colon", *"kind json", "enter")  # the command line does the same
        await until(pilot, lambda: table.row_count == 1)
        assert "gamma.json" in cell(app, "#files-table", table.selected_key(), "name")


@pytest.mark.parametrize(("size", "link"), SIZES_AND_LINKS)
async def test_detail_scrolls_to_the_timeline(engine, size, link):
    ids = fail_several(engine, 1)
    engine.retry(ids)  # a second attempt: more attempts and more timeline than fit at 80x24
    wait_for(lambda: engine.file(ids[0]).file.attempts == 2 and engine.file(ids[0]).file.state == FAILED)
    # Latency is one attempt's: from the retry request, not from the first arrival.
    detail = engine.file(ids[0])
    retry_at = max(e.ts for e in detail.events if e.type == "retry_requested")
    assert detail.file.latency == pytest.approx(detail.file.finished_at - retry_at, abs=0.05)
    assert detail.file.latency < detail.file.finished_at - detail.file.arrived_at
    app = ChuteApp([source_for(engine, link)], feed_options=FAST)
    async with app.run_test(size=size) as pilot:
        await pilot.press("colon", *f"file {ids[0]}", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        screen = app.screen
        body = screen.query_one("#detail-body")
        timeline = screen.query_one("#detail-timeline")
        await pilot.press("end")
        await pilot.pause(0.2)
        assert body.scroll_y == body.max_scroll_y
        if size == SMALL:
            assert body.max_scroll_y > 0  # it did not fit: scrolling is what brought it in view
        assert screen.region.contains_region(timeline.region)
        assert len(screen.detail.events) >= 4  # arrived, failed, retry_requested, failed
        picture = app.export_screenshot().replace("&#160;", " ")
        assert fmt.stamp(screen.detail.events[-1].ts) in picture  # to the second, on screen
        await pilot.press("home", "t")  # t jumps back to the timeline
        await pilot.pause(0.2)
        assert screen.region.contains_region(screen.query_one("#timeline").region)
        await pilot.press("c")  # copy the path (OSC 52)
        assert app.clipboard == engine.file(ids[0]).file.dest
        await pilot.press("r")  # retry from the detail screen
        await until(pilot, lambda: engine.file(ids[0]).file.attempts == 3, timeout=15)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))


@pytest.fixture
def cluster_engine(tmp_path):
    """An engine with a broker on a real Redis; no worker processes: the test plays the workers
    through the real worker routes, with the worker token."""
    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        pytest.skip("redis-server is not installed: the console's Workers table needs a real Redis")
    redis = RedisServer(redis_binary)
    os.environ.pop("CHUTE_WORKER_TOKEN", None)
    cluster = {"broker": redis.url, "kinds": ["text"], "lease": 30, "queue": f"q{free_port()}"}
    engine = served_engine(tmp_path / "root", cluster=cluster)
    yield engine
    engine.stop()
    redis.kill()


def as_worker(engine, name: str) -> httpx.Client:
    token = (engine.config.paths.state / "worker-token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}", "X-Chute-Worker": name}
    return httpx.Client(base_url=engine.server.url, headers=headers, timeout=10)


def beat(engine, name: str, **info) -> None:
    with as_worker(engine, name) as worker:
        assert worker.post("/worker/v1/heartbeat", json=info).status_code == 200


@pytest.mark.parametrize(("size", "link"), SIZES_AND_LINKS)
async def test_overview_lists_the_workers_by_their_heartbeats(cluster_engine, size, link):
    app = ChuteApp([source_for(cluster_engine, link)], feed_options=FAST)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.view.link.state == "live", what="a live link")
        box = app.view.query_one("#overview-workers")
        table = app.view.query_one("#workers-table")
        await pilot.pause(0.3)
        assert not box.display  # a broker but no worker yet: nothing new on screen
        beat(cluster_engine, "w-a", host="alpha", pid=11, done=3, failed=1)
        beat(cluster_engine, "w-b", host="beta", pid=22, done=7)
        await until(pilot, lambda: table.row_count == 2, what="two worker rows")
        assert box.display
        assert [cell(app, "#workers-table", "w-a", c) for c in ("host", "pid", "done", "failed")] == [
            "alpha",
            "11",
            "3",
            "1",
        ]
        assert cell(app, "#workers-table", "w-b", "host") == "beta"
        beat(cluster_engine, "w-a", host="alpha", pid=11, done=4, failed=1)  # the same row, updated
        await until(pilot, lambda: cell(app, "#workers-table", "w-a", "done") == "4", what="w-a's new count")
        assert table.row_count == 2
        assert "alpha" in app.export_screenshot().replace("&#160;", " ")


async def test_file_detail_says_which_worker_has_and_had_the_file(cluster_engine):
    drop(cluster_engine, "note.txt", b"hello\n")
    db = cluster_engine.config.paths.state / "journal.sqlite"

    def dispatched():
        with sqlite3.connect(db) as c:
            return c.execute("SELECT file_id, token FROM dispatches").fetchone()

    wait_for(dispatched, what="the file dispatched")
    file_id, token = dispatched()
    app = ChuteApp([source_for(cluster_engine, "remote")], feed_options=FAST)
    async with app.run_test(size=LARGE) as pilot:
        with as_worker(cluster_engine, "w-a") as worker:
            assert worker.get(f"/worker/v1/files/{file_id}", params={"token": token}).status_code == 200
            await pilot.press("colon", *f"file {file_id}", "enter")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen))
            assert "w-a (this attempt)" in app.export_screenshot().replace("&#160;", " ")
            await pilot.press("escape")
            result = {"state": "done", "meta": {}, "started_at": time.time(), "duration": 0.01}
            placed = worker.post(
                f"/worker/v1/files/{file_id}/result", data={"token": token, "result": json.dumps(result)}
            )
            assert placed.status_code == 200, placed.text
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))
        await pilot.press("colon", *f"file {file_id}", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        picture = app.export_screenshot().replace("&#160;", " ")
        assert "on w-a" in picture and "(this attempt)" not in picture


async def test_two_engines_with_their_own_tokens_are_both_live(tmp_path):
    east = served_engine(tmp_path / "east", name="east")
    west = served_engine(tmp_path / "west", name="west")
    try:
        assert east.server.token != west.server.token
        (tmp_path / "east.token").write_text(east.server.token + "\n")
        engines = tmp_path / "engines.toml"
        engines.write_text(
            f'[engines.east]\nurl = "{east.server.url}"\ntoken_file = "east.token"\n\n'
            f'[engines.west]\nurl = "{west.server.url}"\ntoken_env = "WEST_TOKEN"\n'
        )
        drop(west, "only-west.txt", b"w\n")
        settled(west, "only-west.txt")
        targets = resolve(["east", "west"], engines_file=engines, env={"WEST_TOKEN": west.server.token})
        sources = [RemoteSource(t.url, t.token, name=t.name) for t in targets]
        app = ChuteApp(sources, feed_options=FAST)
        async with app.run_test(size=SMALL) as pilot:
            await until(pilot, lambda: all(v.link.state == "live" for v in app.views), what="both live")
            assert "east" in header(app)
            from textual.widgets import Tab

            assert [str(app.query_one(f"#engine-{i}", Tab).label.plain) for i in (0, 1)] == [
                "● east",
                "● west",
            ]
            await pilot.press("right_square_bracket")
            await until(pilot, lambda: "west" in header(app))
            await pilot.press("2")
            table = app.view.query_one("#files-table")
            await until(pilot, lambda: table.row_count == 1)
            await pilot.press("colon", *"engine east", "enter")
            await until(pilot, lambda: "east" in header(app))
            assert app.view.query_one("#files-table").row_count == 0
            # Stop west's server: only west's tab turns red, east stays live.
            await asyncio.to_thread(west.server.stop)
            await until(pilot, lambda: app.views[1].link.state == "reconnecting", what="west reconnecting")
            assert app.views[0].link.state == "live"
    finally:
        east.stop()
        west.stop()


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("base URL with /api/v1", "not a chute engine"),
        ("wrong token", "token refused"),
        ("dead port", "connection refused"),
    ],
)
async def test_a_broken_link_says_why_and_never_crashes(engine, case, reason):
    url, token = engine.server.url, engine.server.token
    if case == "base URL with /api/v1":
        url += "/api/v1"
    elif case == "wrong token":
        token = "not-the-token"
    else:
        url = f"http://127.0.0.1:{dead_port()}"
    app = ChuteApp([RemoteSource(url, token)], feed_options=FAST)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: reason in header(app), what=f"{reason!r} in the header")
        assert len(header(app)) <= SMALL[0]
        for key in ("2", "enter", "r", "3", "R", "colon", "f", "space", "1", "enter"):
            await pilot.press(key)
        await pilot.resize_terminal(*LARGE)
        assert app.is_running and reason in header(app)


async def test_readonly_is_shown_and_removes_every_action_that_changes_something(engine):
    fail_several(engine, 1)
    app = ChuteApp([LocalSource(engine)], readonly=True, feed_options=FAST)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("3")
        table = app.view.query_one("#failures-table")
        await until(pilot, lambda: table.row_count == 1)
        assert "read-only" in header(app)
        for action in ("retry", "retry_all", "run_job", "mark_read"):
            assert app.check_action(action, ()) is False
        await pilot.press("r", "R")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmScreen)
        assert engine.files(state="failed").items[0].attempts == 1
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Retry" not in titles and "Backup now" not in titles
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("r")
        await pilot.pause(0.3)
        assert engine.files(state="failed").items[0].attempts == 1


@pytest.mark.parametrize("link", ["local", "remote"])
async def test_names_show_literally_markup_and_escapes_included(engine, link):
    drop(engine, "[bold red]x.txt", b"x\n")
    drop(engine, "\x1b[31mred\x07.txt", b"y\n")
    settled(engine, "[bold red]x.txt")
    settled(engine, "\x1b[31mred\x07.txt")
    app = ChuteApp([source_for(engine, link)], feed_options=FAST)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("2")
        table = app.view.query_one("#files-table")
        await until(pilot, lambda: table.row_count == 2)
        names = {cell(app, "#files-table", key.value, "name") for key in table.rows}
        assert names == {"[bold red]x.txt", "\\x1b[31mred\\x07.txt"}
        await pilot.pause(0.2)
        picture = app.export_screenshot().replace("&#160;", " ")
        assert "[bold red]x.txt" in picture and "\\x1b[31mred\\x07.txt" in picture


async def test_help_fits_and_lists_the_key_table(engine):
    from chute.tui.keys import BOUND

    app = ChuteApp([LocalSource(engine)], feed_options=FAST)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        box = app.screen.query_one("#help-box")
        assert app.screen.region.contains_region(box.region)  # fits 80x24; the rest scrolls
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for key in BOUND:
            if key.engines > 1:
                assert key.description not in titles  # one engine: nothing to switch to
            else:
                assert key.description in titles


async def test_retry_all_asks_first(engine):
    fail_several(engine, 3)
    app = ChuteApp([LocalSource(engine)], feed_options=FAST)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("3")
        table = app.view.query_one("#failures-table")
        await until(pilot, lambda: table.row_count == 3)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause(0.3)
        assert all(f.attempts == 1 for f in engine.files(state="failed").items)
        # From the palette a key acts where it belongs: mark-read on Failures goes to Schedules.
        app.run_key("mark_read")
        await until(pilot, lambda: app.view.active_tab == "schedules")
        await pilot.press("3")
        await until(pilot, lambda: app.view.active_tab == "failures" and app.focused is table)
        await pilot.press("s")  # sorting keeps the selection on its file
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(
            pilot,
            lambda: [f.attempts for f in engine.files(state="failed").items] == [2, 2, 2],
            what="three second attempts",
        )


async def test_pause_stops_updates(engine):
    app = ChuteApp([LocalSource(engine)], feed_options=FAST)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("2")
        table = app.view.query_one("#files-table")
        await pilot.pause(0.5)
        await pilot.press("p")
        drop(engine, "while-paused.txt", b"x\n")
        settled(engine, "while-paused.txt")
        await pilot.pause(1.5)
        assert table.row_count == 0
        assert "paused" in header(app)
        await pilot.press("p")
        await until(pilot, lambda: table.row_count == 1, what="the update after resuming")


async def test_link_loss_and_recovery(engine):
    server = engine.server
    port = server.port
    app = ChuteApp([RemoteSource(server.url, server.token, name="far")], feed_options=FAST)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: "live" in header(app), what="live")
        await asyncio.to_thread(server.stop)
        await until(pilot, lambda: "reconnecting in" in header(app), what="reconnecting")
        drop(engine, "during-outage.txt", b"x\n")
        settled(engine, "during-outage.txt")
        restarted = ServerService(engine, port=port)
        restarted.token = server.token
        await asyncio.to_thread(restarted.start)
        try:
            await until(pilot, lambda: "● live" in header(app), timeout=15, what="live again")
            await pilot.press("2")
            table = app.view.query_one("#files-table")
            await until(pilot, lambda: table.row_count == 1, what="the file dropped while away")
        finally:
            await asyncio.to_thread(restarted.stop)


async def test_a_screen_open_while_live_updates_arrive_does_not_crash(engine):
    app = ChuteApp([LocalSource(engine)], feed_options=FAST)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        drop(engine, "meanwhile.txt", b"x\n")
        settled(engine, "meanwhile.txt")
        await pilot.pause(1.5)  # header timer and feed messages fire under the modal
        assert app.is_running and isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "2")
        table = app.view.query_one("#files-table")
        await until(pilot, lambda: table.row_count == 1)


def test_engines_file_names_each_engine_with_its_own_token(tmp_path):
    from chute.tui.engines import EnginesError, default_path

    (tmp_path / "prod.token").write_text("tok-prod\n")
    path = tmp_path / "engines.toml"
    path.write_text(
        '[engines.prod]\nurl = "https://prod.example.com:8765/"\ntoken_file = "prod.token"\n\n'
        '[engines.staging]\nurl = "http://10.0.0.7:8765"\ntoken_env = "STAGING_TOKEN"\n'
    )
    env = {"STAGING_TOKEN": "tok-staging", "CHUTE_TOKEN": "tok-env"}
    prod, staging, plain = resolve(["prod", "staging", "127.0.0.1:9000"], engines_file=path, env=env)
    [listed] = resolve(["http://10.0.0.7:8765"], engines_file=path, env=env)
    assert (prod.name, prod.url, prod.token) == ("prod", "https://prod.example.com:8765", "tok-prod")
    assert (staging.name, staging.token) == ("staging", "tok-staging")
    assert (plain.name, plain.url, plain.token) == ("127.0.0.1:9000", "http://127.0.0.1:9000", "tok-env")
    assert listed == staging  # a URL listed in the file takes that engine's name and token
    assert default_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/chute/engines.toml")
    bad = {
        'url = "http://h:1"\ntoken = "secret"': "engines.e.token: a token does not go in this file",
        'url = "http://h:1"\ntoken_env = "NOPE"': "engines.e.token_env: $NOPE is not set",
        'url = "http://h:1"\ntoken_file = "missing"': "engines.e.token_file: cannot read",
        'url = "h:1"\ntoken_env = "STAGING_TOKEN"': "engines.e.url: needs an http:// or https:// URL",
        'url = "http://h:1"\ntoken_env = "STAGING_TOKEN"\ncolour = 1': "engines.e.colour: unknown key",
        'url = "http://h:1"\ntoken_env = "A"\ntoken_file = "b"': "one of token_file or token_env, not both",
    }
    for body, message in bad.items():
        path.write_text(f"[engines.e]\n{body}\n")
        with pytest.raises(EnginesError, match=re.escape(message)):
            resolve(["e"], engines_file=path, env=env)
    path.write_text('[engines.e]\nurl = "http://h:1"\ntoken_env = "STAGING_TOKEN"\n')
    with pytest.raises(EnginesError, match="no engine named 'nope'"):
        resolve(["nope"], engines_file=path, env={"STAGING_TOKEN": "x"})
    # No token at all: an open monitored app needs none; a far side that wants one says so (401).
    [open_app] = resolve(["http://127.0.0.1:9"], env={"XDG_CONFIG_HOME": str(tmp_path / "empty")})
    assert open_app.token == ""


def test_plain_chute_says_what_to_do_when_its_port_is_taken_and_attach_names_a_bad_target(tmp_path):
    import subprocess
    import sys

    chute = [sys.executable, "-m", "chute.tui.cli"]
    (tmp_path / "root").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [*chute, "--root", str(tmp_path / "root"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 1 and "--port 0 any free one, --no-server none" in run.stderr
    run = subprocess.run(
        [*chute, "attach", "prod", "--engines", str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "missing.toml: no such file" in run.stderr
