"""The HTTP server as an engine service: waitress in a thread, started and stopped with the engine."""

from __future__ import annotations

import ipaddress
import logging
import threading
from typing import TYPE_CHECKING

from waitress import create_server
from waitress.channel import HTTPChannel

from ..endpoint import publish
from . import auth
from .app import create_app
from .crowding import make_room
from .limits import MAX_BODY, MAX_UPLOAD
from .logfold import WAITRESS_QUEUE, fold
from .longpoll import LongPolls

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger(__name__)
# A connection with no request in flight is closed after this long (waitress's default is 120 s,
# long enough for 100 idle sockets to lock probes out). Parked long polls have a request in flight.
CHANNEL_TIMEOUT = 30
CLEANUP_INTERVAL = 10


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServerService:
    def __init__(self, engine: Engine, host: str | None = None, port: int | None = None) -> None:
        self.engine = engine
        config = engine.config.server
        self.host = host or config.host
        self.port = config.port if port is None else port
        self.threads = config.threads
        self.connection_limit = config.connection_limit
        self.token: str | None = None
        self.token_source: str | None = None
        self._server = None
        self._polls: LongPolls | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def parked_polls(self) -> int:
        """Event long polls waiting now (without a thread)."""
        return self._polls.parked if self._polls is not None else 0

    def start(self) -> None:
        self.token, self.token_source = auth.load_or_create(self.engine.config.paths.state)
        app = create_app(self.engine, self.token, wait_in_handler=False)
        fold(WAITRESS_QUEUE)
        try:
            self._server = create_server(
                app,
                host=self.host,
                port=self.port,
                threads=self.threads,
                connection_limit=self.connection_limit,
                channel_timeout=CHANNEL_TIMEOUT,
                cleanup_interval=CLEANUP_INTERVAL,
                # select() cannot watch descriptors above 1023; poll() can.
                asyncore_use_poll=True,
                # Bodies here are small JSON: a bigger one is refused before it is read. With a
                # broker, workers send outputs: Flask still holds every other route to MAX_BODY.
                max_request_body_size=(MAX_UPLOAD if self.engine.worker_token() else MAX_BODY) + 1,
                ident="chute",
                clear_untrusted_proxy_headers=True,
            )
        except OSError as exc:
            raise OSError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        self.port = self._server.effective_port
        make_room(self._server, self.connection_limit)
        app.config["CHUTE_URL"] = self.url
        self._polls = LongPolls(self._server, self.engine, self.token)
        self._polls.start()
        publish(self.engine.config.paths.state, self.host, self.port)  # state/api.json, for one-shots
        self._thread = threading.Thread(target=self._server.run, name="chute-http", daemon=True)
        self._thread.start()
        log.info("API on %s", self.url)
        if not is_loopback(self.host):
            log.warning(
                "the API listens on %s, beyond this machine, in plain HTTP: the token and every "
                "answer cross the network unencrypted, and /metrics and /health answer anyone "
                "without a token. Put a TLS proxy in front (see the README) or bind 127.0.0.1.",
                self.url,
            )

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._server = None
        if self._polls is not None:
            self._polls.close()
        done = threading.Event()

        def close_all() -> None:
            # Runs inside the server's own loop thread (closing sockets from another thread
            # leaves its select() on a dead descriptor): connections first, then the listener,
            # then the trigger. With its map empty, the loop returns.
            try:
                for channel in list(server._map.values()):
                    if isinstance(channel, HTTPChannel):
                        channel.handle_close()
                for channel in list(server._map.values()):
                    if channel is not server.trigger:
                        channel.close()
                server.trigger.close()
            finally:
                done.set()

        server.trigger.pull_trigger(close_all)
        done.wait(5)
        if self._thread is not None:
            self._thread.join(5)
        server.task_dispatcher.shutdown(timeout=5)
