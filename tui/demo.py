"""`chute demo`: a throwaway workspace, an embedded engine with its server, the demo Flask app, and
traffic — good and bad files dropped into the inbox, calls to the demo routes — so every screen
comes alive, with failures to retry, in one command."""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

import httpx
from waitress import create_server

from chute.engine import Config, Engine, samples
from chute.engine.monitor import Monitor
from chute.engine.monitor.demo_app import create_demo_app
from chute.engine.server import ServerService

log = logging.getLogger(__name__)
ROUTES = [
    ("/test/normal", 60),
    ("/test/items/{n}", 20),
    ("/test/slow", 4),
    ("/test/error", 5),
    ("/test/notfound", 6),
    ("/test/server-error", 4),
    ("/test/nowhere-{n}", 1),
]


class DemoApp:
    """The demo Flask app on a loopback port, recorded by the engine's own request monitor."""

    def __init__(self, engine: Engine) -> None:
        self.app = create_demo_app(Monitor(collector=engine.requests, add_routes=False))
        self.app.logger.setLevel(logging.CRITICAL)  # its errors are on purpose; the monitor records them
        self._server = create_server(self.app, host="127.0.0.1", port=0, threads=6, ident="chute-demo")
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, name="chute-demo-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.close()


class Traffic:
    """Drops sample files and calls the demo routes until stopped."""

    def __init__(
        self,
        inbox: Path,
        demo_url: str,
        files_per_s: float = 2.0,
        requests_per_s: float = 5.0,
        seed: int | None = None,
    ) -> None:
        self.inbox = inbox
        self.demo_url = demo_url
        self.files_per_s = files_per_s
        self.requests_per_s = requests_per_s
        self.rnd = random.Random(seed)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.dropped = 0
        self.requests = 0

    def start(self, prefill: int = 30) -> None:
        for _ in range(prefill):
            self.drop()
        targets = [self._files] + [self._requests] * 3  # slow routes must not starve the rest
        for i, target in enumerate(targets):
            t = threading.Thread(target=target, name=f"chute-demo-traffic-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)

    def drop(self) -> None:
        name, data = samples.pick(self.dropped, self.rnd)
        tmp = self.inbox / f".{name}.part"  # the safe-writer pattern: write hidden, then rename in
        tmp.write_bytes(data)
        tmp.rename(self.inbox / name)
        self.dropped += 1

    def _files(self) -> None:
        while not self._stop.wait(self.rnd.expovariate(self.files_per_s)):
            try:
                self.drop()
            except OSError as exc:
                log.warning("demo traffic could not drop a file: %s", exc)

    def _requests(self) -> None:
        routes, weights = zip(*ROUTES, strict=True)
        with httpx.Client(base_url=self.demo_url, timeout=10) as client:
            while not self._stop.wait(self.rnd.expovariate(self.requests_per_s / 3)):
                path = self.rnd.choices(routes, weights)[0].format(n=self.rnd.randint(1, 500))
                try:
                    client.get(path)
                    self.requests += 1
                except httpx.HTTPError:
                    pass


class Demo:
    """Everything `chute demo` runs, startable without the console (tests, --headless)."""

    def __init__(self, directory: Path | None = None, port: int = 0, seed: int | None = None) -> None:
        self.owned = directory is None
        self.root = Path(directory or tempfile.mkdtemp(prefix="chute-demo-"))
        self.config = Config.for_root(
            self.root, watcher={"min_age": 0.3, "scan_interval": 5.0}, server={"port": port}, name="demo"
        )
        self.engine = Engine(self.config)
        self.server = ServerService(self.engine)
        self.engine.add_service(self.server)
        self.demo_app: DemoApp | None = None
        self.traffic: Traffic | None = None
        self.seed = seed

    def start(self) -> None:
        self.engine.start()
        self.demo_app = DemoApp(self.engine)
        self.demo_app.start()
        self.traffic = Traffic(self.config.paths.inbox, self.demo_app.url, seed=self.seed)
        self.traffic.start()

    def stop(self) -> None:
        if self.traffic:
            self.traffic.stop()
        if self.demo_app:
            self.demo_app.stop()
        self.engine.stop()
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)


def run_headless(demo: Demo, seconds: float) -> None:
    """Print a status line every two seconds for `seconds` (a console-free demo)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        s = demo.engine.snapshot()
        http = demo.engine.request_stats()
        print(
            f"done {s.counts['done']:>4}  failed {s.counts['failed']:>3}  queue {s.queue_depth:>3}  "
            f"files/min {s.rate_per_min:>4.0f}  http {http['requests']:>5} ({http['error_rate']:.0%} errors)",
            flush=True,
        )
