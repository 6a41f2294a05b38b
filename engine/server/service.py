"""The HTTP server as an engine service: waitress in a thread, started and stopped with the engine."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from waitress import create_server
from waitress.channel import HTTPChannel

from ..endpoint import publish
from . import auth
from .app import create_app

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger(__name__)


class ServerService:
    def __init__(
        self, engine: Engine, host: str | None = None, port: int | None = None, threads: int = 8
    ) -> None:
        self.engine = engine
        self.host = host or engine.config.server.host
        self.port = engine.config.server.port if port is None else port
        self.threads = threads
        self.token: str | None = None
        self.token_source: str | None = None
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self.token, self.token_source = auth.load_or_create(self.engine.config.paths.state)
        app = create_app(self.engine, self.token)
        try:
            self._server = create_server(
                app,
                host=self.host,
                port=self.port,
                threads=self.threads,
                ident="chute",
                clear_untrusted_proxy_headers=True,
            )
        except OSError as exc:
            raise OSError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        self.port = self._server.effective_port
        publish(self.engine.config.paths.state, self.host, self.port)  # state/api.json, for one-shots
        self._thread = threading.Thread(target=self._server.run, name="chute-http", daemon=True)
        self._thread.start()
        log.info("API on %s", self.url)

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._server = None
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
