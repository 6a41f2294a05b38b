"""Processing on Dramatiq workers over a real Redis: workers are separate processes with their own
folders, reaching the engine and Redis only over TCP. Each failure is done for real: kill -9 a
worker mid-task, freeze one until its lease is gone, kill -9 the coordinator mid-burst, restart
Redis empty. Every file must end placed once, and the journal must agree with the disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cluster_worker import registry as ocr_registry
from helpers import fresh_env, served_engine, wait_for
from servers import RedisServer, free_port

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    REDIS is None,
    reason="redis-server is not installed: the cluster tests need a real Redis (apt install redis-server)",
)
LAUNCHER = Path(__file__).with_name("cluster_worker.py")
FINAL = ("done", "failed", "duplicate", "vanished")


@pytest.fixture
def redis_server():
    server = RedisServer(REDIS)
    yield server
    server.kill()


def worker_env() -> dict[str, str]:
    env = fresh_env()
    for key in ("CHUTE_WORKER_TOKEN", "CHUTE_BROKER_URL"):
        env.pop(key, None)
    return env


class Workers:
    """`chute worker` processes, each with its own folder, started in parallel."""

    def __init__(
        self, tmp: Path, broker: str | None, queue: str, engine_url: str, token_file: Path, command=None
    ):
        # broker None: the workers take it from CHUTE_BROKER_URL (a URL with a password)
        self.tmp, self.broker, self.queue = tmp, broker, queue
        self.engine_url, self.token_file = engine_url, token_file
        self.command = command or [sys.executable, str(LAUNCHER)]
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, *names: str, concurrency: int = 1) -> None:
        for name in names:
            folder = self.tmp / f"worker-{name}"
            folder.mkdir(exist_ok=True)
            # Its log goes to a file: a pipe nobody reads fills up and blocks the worker.
            with open(self.tmp / f"worker-{name}.log", "ab") as log:
                self.procs[name] = subprocess.Popen(
                    [
                        *self.command,
                        *(["--broker", self.broker] if self.broker else []),
                        "--queue",
                        self.queue,
                        "--engine",
                        self.engine_url,
                        "--token-file",
                        str(self.token_file),
                        "--dir",
                        str(folder),
                        "--name",
                        name,
                        "--concurrency",
                        str(concurrency),
                        "--log-level",
                        "WARNING",
                    ],
                    cwd=folder,
                    env=worker_env()
                    | ({} if self.broker else {"CHUTE_BROKER_URL": os.environ["CHUTE_BROKER_URL"]}),
                    start_new_session=True,  # its own group, so kill -9 and SIGSTOP reach all of it
                    stderr=log,
                )

    def kill9(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def cluster_engine(root: Path, redis: RedisServer, **cluster):
    settings = {"broker": redis.url, "kinds": ["ocr"], "lease": 1.5, "queue": f"q{free_port()}", **cluster}
    return served_engine(root, registry=ocr_registry(), cluster=settings)


@pytest.fixture
def cluster(tmp_path, redis_server):
    """(engine, workers) with one in-process engine serving its API; workers started by the test."""
    os.environ.pop("CHUTE_WORKER_TOKEN", None)
    made: list = []

    def make(**cluster_settings):
        engine = cluster_engine(tmp_path / "root", redis_server, **cluster_settings)
        token = engine.config.paths.state / "worker-token"
        workers = Workers(tmp_path, redis_server.url, engine.config.cluster.queue, engine.server.url, token)
        made.append((engine, workers))
        return engine, workers

    yield make
    for engine, workers in made:
        workers.stop()
        engine.stop()


def drop_all(inbox: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        tmp = inbox.parent / f".{name}.part"
        tmp.write_bytes(data)
        os.rename(tmp, inbox / name)


def rows(engine) -> dict[str, tuple]:
    found = {}
    before = None
    while True:
        page = engine.files(limit=1000, before=before)
        for f in page.items:
            found[f.name] = (f.id, f.state, f.dest)
        if page.next_before is None:
            return found
        before = page.next_before


def all_final(engine, n: int) -> bool:
    found = rows(engine)
    return len(found) == n and all(state in FINAL for _, state, _ in found.values())


def events_of(engine, fid: int, type_: str) -> list:
    return [e for e in engine.file(fid).events if e.type == type_]


def assert_placed_once(engine, names: list[str]) -> None:
    """Each name: one journal row, done, its original at its dest, no second copy anywhere."""
    found = rows(engine)
    processed = engine.config.paths.processed
    on_disk = [
        p
        for p in processed.rglob("*")
        if p.is_file() and not p.name.endswith((".meta.json", ".ocr.txt", ".thumb.png"))
    ]
    assert len(on_disk) == len(names), "one original per file under processed/"
    for name in names:
        _fid, state, dest = found[name]
        assert state == "done", (name, state)
        assert Path(dest).is_file() and Path(dest + ".meta.json").is_file(), name
    assert len({found[n][2] for n in names}) == len(names)
    assert not list(engine.config.paths.failed.rglob("*.*"))


# --- the routes and the token ------------------------------------------------------------------


def test_worker_token_opens_worker_routes_only(cluster):
    engine, _workers = cluster()
    state = engine.config.paths.state
    token_file = state / "worker-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    worker_token = token_file.read_text().strip()
    operator = engine.server.token
    assert worker_token != operator
    url = engine.server.url
    me = {"X-Chute-Worker": "probe"}

    def call(method, path, token, **kw):
        return httpx.request(method, url + path, headers={"Authorization": f"Bearer {token}", **me}, **kw)

    # The worker token opens no operator route; the operator token opens no worker route.
    assert call("GET", "/api/v1/files", worker_token).status_code == 401
    assert call("POST", "/api/v1/files/retry", worker_token, json={"state": "failed"}).status_code == 401
    assert call("POST", "/worker/v1/heartbeat", operator, json={}).status_code == 401
    assert call("GET", "/worker/v1/files/1?token=abcdefgh", operator).status_code == 401
    # With its own token: a heartbeat lists the worker; an unknown attempt is a 409, not a file.
    beat = call("POST", "/worker/v1/heartbeat", worker_token, json={"host": "h", "pid": 7, "done": 2})
    assert beat.status_code == 200 and beat.json()["lease"] == 1.5
    listed = httpx.get(url + "/api/v1/workers", headers={"Authorization": f"Bearer {operator}"}).json()
    assert [(w["name"], w["host"], w["pid"], w["done"], w["alive"]) for w in listed["workers"]] == [
        ("probe", "h", 7, 2, True)
    ]
    stale = call("GET", "/worker/v1/files/1?token=abcdefgh", worker_token)
    assert stale.status_code == 409 and "not current" in stale.json()["error"]["message"]
    bad = call(
        "POST",
        "/worker/v1/files/1/result",
        worker_token,
        data={"token": "abcdefgh", "result": json.dumps({"state": "done", "started_at": 1, "duration": 1})},
        files=[("output", ("../../etc/passwd", b"x"))],
    )
    assert bad.status_code == 400 and "output" in bad.json()["error"]["message"]
    assert (
        call("POST", "/worker/v1/files/1/result", worker_token, data={"token": "abcdefgh"}).status_code == 400
    )
    assert worker_token not in (state / "journal.sqlite").read_bytes().decode("latin-1")


def test_an_engine_without_a_broker_imports_no_cluster_code(tmp_path):
    script = (
        "import sys\n"
        "from chute.engine import Config, Engine\n"
        f"e = Engine(Config.for_root({str(tmp_path)!r}))\n"
        "e.start(); e.stop()\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('dramatiq', 'redis', 'pika')]\n"
        "loaded += [m for m in sys.modules if m.startswith('chute.engine.cluster.') and not m.endswith('.broker')]\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=worker_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert not (tmp_path / "state" / "worker-token").exists()


@pytest.mark.parametrize(
    "broker, words",
    [
        ("http://redis:6379", "cluster.broker: must start with redis://"),
        ("redis://:hunter2@redis:6379/0", "cluster.broker: the broker password is a secret"),
    ],
)
def test_bad_broker_settings_name_the_key(tmp_path, broker, words):
    from chute.engine.config import ConfigError, load

    config = tmp_path / "chute.toml"
    config.write_text(f'[cluster]\nbroker = "{broker}"\n')
    with pytest.raises(ConfigError) as err:
        load(config)
    assert words in str(err.value)
    assert "hunter2" not in str(err.value)


# --- the happy path, at scale ------------------------------------------------------------------


def test_files_over_three_workers_each_placed_once(cluster):
    n = int(os.environ.get("CHUTE_CLUSTER_FILES", "200"))
    engine, workers = cluster(kinds=["ocr", "image"])
    workers.start("a", "b", "c", concurrency=2)
    from PIL import Image

    png = Path(engine.config.paths.root, "x.png")
    Image.new("RGB", (40, 30), "red").save(png)
    files = {f"scan{i:04d}.ocr": f"page {i} words here\n".encode() for i in range(n)}
    files.update({f"pic{i}.png": png.read_bytes() + bytes([i]) for i in range(5)})
    files.update({f"note{i}.txt": b"stays local\n" for i in range(5)})
    drop_all(engine.config.paths.inbox, files)
    wait_for(lambda: all_final(engine, len(files)), timeout=90, interval=0.2, what="every file placed")

    assert_placed_once(engine, list(files))
    found = rows(engine)
    # Outputs came back over HTTP and sit beside their originals.
    for name in ("scan0000.ocr", f"scan{n - 1:04d}.ocr"):
        dest = found[name][2]
        assert Path(dest + ".ocr.txt").read_text() == files[name].decode().upper()
        meta = json.loads(Path(dest + ".meta.json").read_text())
        assert meta["outputs"] == [Path(dest).name + ".ocr.txt"] and meta["found"]["words"] == 4
    assert Path(found["pic0.png"][2] + ".thumb.png").is_file()
    # Dispatched kinds went to workers; text stayed in the engine.
    worked = {
        e.data.get("worker")
        for name in ("scan0000.ocr", "pic1.png")
        for e in events_of(engine, found[name][0], "processing")
    }
    assert worked <= {"a", "b", "c"} and worked
    assert not events_of(engine, found["note0.txt"][0], "dispatched")
    # Every worker did some of the work, and the heartbeats say how much.
    wait_for(
        lambda: sum(w.done for w in engine.workers()) == n + 5,
        timeout=10,
        what="heartbeats to count every file",
    )
    assert {w.name for w in engine.workers() if w.done} == {"a", "b", "c"}
    metrics = httpx.get(engine.server.url + "/metrics").text
    assert 'chute_worker_done_total{worker="a"}' in metrics
    with sqlite3.connect(engine.config.paths.state / "journal.sqlite") as db:
        assert db.execute("SELECT count(*) FROM dispatches").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM dispatch_outbox").fetchone()[0] == 0
    # Nothing left behind in the workers' own folders.
    for name in "abc":
        assert not [p for p in (workers.tmp / f"worker-{name}").iterdir()]


# --- failures ----------------------------------------------------------------------------------


def processing_worker(engine, name: str) -> str:
    if name not in (found := rows(engine)):
        return ""
    started = events_of(engine, found[name][0], "processing")
    return started[-1].data["worker"] if started else ""


def test_worker_killed_mid_task_its_file_is_placed_once_by_another(cluster):
    engine, workers = cluster()
    workers.start("a", "b")
    drop_all(engine.config.paths.inbox, {"slow.ocr": b"sleep 2.5\nslow scan\n"})
    victim = wait_for(lambda: processing_worker(engine, "slow.ocr"), timeout=30, what="a worker to take it")
    workers.kill9(victim)
    wait_for(lambda: all_final(engine, 1), timeout=30, what="the file placed after its worker died")
    assert_placed_once(engine, ["slow.ocr"])
    fid = rows(engine)["slow.ocr"][0]
    lost = events_of(engine, fid, "worker_lost")
    assert len(lost) == 1 and lost[0].data["worker"] == victim
    survivor = ({"a", "b"} - {victim}).pop()
    assert processing_worker(engine, "slow.ocr") == survivor
    dest = rows(engine)["slow.ocr"][2]
    assert json.loads(Path(dest + ".meta.json").read_text())["attempts"] == 1


def test_a_worker_back_late_with_a_stale_result_is_dropped(cluster):
    engine, workers = cluster()
    workers.start("a", "b")
    drop_all(engine.config.paths.inbox, {"late.ocr": b"sleep 1.0\nlate scan\n"})
    frozen = wait_for(lambda: processing_worker(engine, "late.ocr"), timeout=30, what="a worker to take it")
    os.killpg(workers.procs[frozen].pid, signal.SIGSTOP)  # no heartbeats: its lease runs out
    try:
        wait_for(lambda: all_final(engine, 1), timeout=30, what="the other worker to place it")
    finally:
        os.killpg(workers.procs[frozen].pid, signal.SIGCONT)
    fid = rows(engine)["late.ocr"][0]
    wait_for(lambda: events_of(engine, fid, "stale_result"), timeout=20, what="the late result to arrive")
    assert_placed_once(engine, ["late.ocr"])
    outputs = list(engine.config.paths.processed.rglob("*.ocr.txt"))
    assert len(outputs) == 1, "the stale result's upload was not kept"
    assert not list((engine.config.paths.state / "tmp").iterdir())


def test_a_file_that_keeps_killing_workers_fails_with_the_reason(cluster):
    engine, workers = cluster(max_deliveries=2)
    workers.start("a", "b")
    drop_all(engine.config.paths.inbox, {"poison.ocr": b"die\n"})
    wait_for(lambda: all_final(engine, 1), timeout=40, what="the poison file to fail")
    fid, state, dest = rows(engine)["poison.ocr"]
    assert state == "failed"
    detail = engine.file(fid)
    assert detail.file.error_kind == "lost"
    assert detail.file.reason.startswith("lost 2 workers while processing")
    assert "lost 2 workers" in Path(dest + ".error.txt").read_text()


def journal_counts(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10) as db:
        counts = dict(db.execute("SELECT state, count(*) FROM files GROUP BY state").fetchall())
        counts["outbox"] = db.execute("SELECT count(*) FROM dispatch_outbox").fetchone()[0]
        counts["dispatches"] = db.execute("SELECT count(*) FROM dispatches").fetchone()[0]
    return counts


def test_coordinator_killed_during_a_dispatch_burst_then_restarted(tmp_path, redis_server):
    """kill -9 the engine while it dispatches, twice; restarted, it drains its outbox and every
    file is placed once. Engine and workers are the real `chute engine` and `chute worker`."""
    root = tmp_path / "ws"
    root.mkdir()
    port = free_port()
    config = root / "chute.toml"
    config.write_text(
        "[watcher]\nmin_age = 0.2\nscan_interval = 1.0\n"
        f"[server]\nport = {port}\n"
        f'[cluster]\nbroker = "{redis_server.url}"\nkinds = ["text"]\nlease = 2.0\nqueue = "burst"\n'
    )
    inbox = root / "inbox"
    inbox.mkdir()
    engine_cmd = [sys.executable, "-m", "chute.engine", "--config", str(config), "--log-level", "WARNING"]

    def start_engine() -> subprocess.Popen:
        with open(tmp_path / "engine.log", "ab") as log:
            proc = subprocess.Popen(engine_cmd, env=worker_env(), stderr=log)
        wait_for(lambda: _live(port), timeout=30, what="the engine's API")
        return proc

    engine = start_engine()
    url = f"http://127.0.0.1:{port}"
    workers = Workers(
        tmp_path,
        redis_server.url,
        "burst",
        url,
        root / "state" / "worker-token",
        command=[sys.executable, "-m", "chute.tui.cli", "worker"],
    )
    workers.start("a", "b", "c", concurrency=2)
    db = root / "state" / "journal.sqlite"
    n = 300
    try:
        drop_all(inbox, {f"t{i:04d}.txt": f"line {i}\n".encode() for i in range(n)})
        interrupted = []
        for _ in range(2):
            wait_for(
                lambda: journal_counts(db).get("dispatched", 0) > 0, timeout=30, what="dispatches in flight"
            )
            time.sleep(0.2)
            engine.send_signal(signal.SIGKILL)
            engine.wait(10)
            interrupted.append(journal_counts(db))
            engine = start_engine()
        wait_for(
            lambda: (
                (c := journal_counts(db)).get("done", 0) == n and c["outbox"] == 0 and c["dispatches"] == 0
            ),
            timeout=90,
            interval=0.3,
            what="every file placed and the outbox drained",
        )
        status = subprocess.run(
            [sys.executable, "-m", "chute.tui.cli", "status", "--config", str(config), "--json"],
            env=worker_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert {w["name"] for w in json.loads(status.stdout)["workers"] if w["alive"]} == {"a", "b", "c"}
    finally:
        workers.stop()
        engine.send_signal(signal.SIGTERM)
        engine.wait(30)
    assert engine.returncode == 0, (tmp_path / "engine.log").read_text()
    # Each kill landed with work out at the workers (or still to be sent).
    assert all(c.get("dispatched", 0) + c.get("processing", 0) > 0 for c in interrupted), interrupted
    with sqlite3.connect(db) as conn:
        placed = conn.execute("SELECT name, state, dest FROM files").fetchall()
    assert len(placed) == n and {s for _, s, _ in placed} == {"done"}
    assert len({d for _, _, d in placed}) == n
    on_disk = [p for p in (root / "processed").rglob("*.txt") if p.is_file()]
    assert sorted(p.name for p in on_disk) == sorted(f"t{i:04d}.txt" for i in range(n))
    assert not any(inbox.iterdir()) and not any((root / "state" / "work").iterdir())


def _live(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_redis_restarted_empty_mid_run_loses_nothing(cluster, redis_server):
    engine, workers = cluster(lease=1.0)
    workers.start("a", "b")
    n = 40
    files = {f"r{i:03d}.ocr": b"sleep 0.1\nwords\n" for i in range(n)}
    drop_all(engine.config.paths.inbox, files)
    wait_for(
        lambda: sum(1 for _, s, _ in rows(engine).values() if s == "done") >= 5,
        timeout=30,
        what="a first few done",
    )
    redis_server.kill()  # no persistence: the restarted server is empty, its queue gone
    redis_server.start()
    wait_for(
        lambda: all_final(engine, n), timeout=60, interval=0.2, what="every file after the Redis restart"
    )
    assert_placed_once(engine, list(files))
    resent = [e for e in engine.events(limit=1000) if e.type == "broker_lost"]
    assert resent and resent[0].data["resent"] > 0, "the engine noticed that Redis came back empty"


def test_workers_read_a_shared_folder_instead_of_fetching(tmp_path, cluster):
    engine, workers = cluster(shared_work=str(tmp_path / "root" / "state" / "work"))
    workers.start("a")
    files = {f"shared{i}.ocr": f"shared page {i}\n".encode() for i in range(3)}
    drop_all(engine.config.paths.inbox, files)
    wait_for(lambda: all_final(engine, len(files)), timeout=30, what="the files placed")
    assert_placed_once(engine, list(files))
    fetches = [
        r
        for r in engine.requests.recent(1000)
        if r["path"].startswith("/worker/v1/files/") and r["method"] == "GET"
    ]
    assert len(fetches) == 3 and {r["status"] for r in fetches} == {204}, "taken, not downloaded"


@pytest.fixture
def netns():
    """A network namespace joined to this one by a veth link: (namespace, host address, its address)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("the network-namespace test needs root and iproute2 (ip)")
    tag = f"{os.getpid() % 10000}{free_port() % 100}"
    ns, host_if, ns_if = f"chute{tag}", f"chh{tag}", f"chw{tag}"
    net = f"10.{200 + os.getpid() % 50}.{free_port() % 250}"
    steps = [
        ["ip", "netns", "add", ns],
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
        ["ip", "link", "set", ns_if, "netns", ns],
        ["ip", "addr", "add", f"{net}.1/24", "dev", host_if],
        ["ip", "link", "set", host_if, "up"],
        ["ip", "-n", ns, "addr", "add", f"{net}.2/24", "dev", ns_if],
        ["ip", "-n", ns, "link", "set", ns_if, "up"],
        ["ip", "-n", ns, "link", "set", "lo", "up"],
    ]
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"cannot make a network namespace here: {' '.join(step)}: {done.stderr.strip()}")
        yield ns, f"{net}.1", f"{net}.2"
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_a_worker_in_its_own_network_namespace_behind_a_veth_link(tmp_path, netns, monkeypatch):
    """Redis off loopback needs a password: it travels in CHUTE_BROKER_URL, never in the config."""
    ns, host_addr, _ = netns
    redis = RedisServer(REDIS, host=host_addr, password="s3cret-pass")
    monkeypatch.setenv("CHUTE_BROKER_URL", redis.url)
    engine = served_engine(
        tmp_path / "root",
        registry=ocr_registry(),
        server={"enabled": True, "port": 0, "host": host_addr},
        cluster={"kinds": ["ocr"], "lease": 2.0, "queue": "netns"},
    )
    token = engine.config.paths.state / "worker-token"
    workers = Workers(
        tmp_path,
        None,
        "netns",
        engine.server.url,
        token,
        command=["ip", "netns", "exec", ns, sys.executable, str(LAUNCHER)],
    )
    try:
        workers.start("far")
        files = {f"far{i}.ocr": f"far page {i}\n".encode() for i in range(5)}
        drop_all(engine.config.paths.inbox, files)
        wait_for(lambda: all_final(engine, len(files)), timeout=60, what="the files placed by the far worker")
        assert_placed_once(engine, list(files))
        assert {w.name: w.done for w in engine.workers()}.keys() == {"far"}
        assert all(processing_worker(engine, name) == "far" for name in files)
        log = (tmp_path / "worker-far.log").read_text() + "".join(
            e.message for e in engine.events(limit=1000)
        )
        assert "s3cret-pass" not in log
    finally:
        workers.stop()
        engine.stop()
        redis.kill()


def test_health_warns_when_work_waits_and_no_worker_is_alive(cluster):
    engine, workers = cluster()
    drop_all(engine.config.paths.inbox, {"waiting.ocr": b"nobody home\n"})
    wait_for(lambda: rows(engine).get("waiting.ocr", (0, ""))[1] == "dispatched", timeout=20, what="dispatch")
    health = httpx.get(engine.server.url + "/health").json()
    assert health["status"] == "warn"
    assert health["checks"]["cluster:workers"][0] == {"status": "warn", "observedValue": 0, "waiting": 1}
    workers.start("a")
    wait_for(lambda: all_final(engine, 1), timeout=30, what="the worker to take it")
    assert httpx.get(engine.server.url + "/health").json()["checks"]["cluster:workers"][0]["status"] == "pass"


def test_a_message_nobody_takes_is_sent_again_after_dispatch_timeout(cluster, redis_server):
    import redis

    engine, workers = cluster(dispatch_timeout=1.0)
    drop_all(engine.config.paths.inbox, {"unclaimed.ocr": b"anyone?\n"})
    queue = f"dramatiq:{engine.config.cluster.queue}"
    client = redis.Redis.from_url(redis_server.url)
    wait_for(lambda: client.llen(queue) >= 3, timeout=20, what="the message sent again, twice")
    workers.start("a")  # the copies share one attempt token: the file is still placed once
    wait_for(lambda: all_final(engine, 1), timeout=30, what="the file placed")
    assert_placed_once(engine, ["unclaimed.ocr"])
    fid = rows(engine)["unclaimed.ocr"][0]
    assert len(events_of(engine, fid, "processing")) == 1
    client.close()
