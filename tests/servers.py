"""Real servers on loopback for the notification tests: SMTP (aiosmtpd), a Discord stand-in (a real
HTTP server answering as Discord does), a blackhole that accepts and never answers, and a small
tmpfs for full-disk tests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeDiscord:
    """Answers webhook POSTs from a script of (status, json body[, headers]) entries; the last one
    repeats. `delay` seconds pass before each answer (a slow Discord)."""

    def __init__(self, script: list[tuple] | None = None, delay: float = 0.0) -> None:
        self.script = list(script or [(204, None)])
        self.requests: list[tuple[float, dict]] = []
        self.delay = delay
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append((time.time(), body))
                status, answer, *headers = fake.script.pop(0) if len(fake.script) > 1 else fake.script[0]
                time.sleep(fake.delay)
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                for name, value in (headers[0] if headers else {}).items():
                    self.send_header(name, value)
                if data:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/webhooks/123/secret-token-abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Trickle:
    """An SMTP server that greets one byte every `gap` seconds: each read succeeds just in time,
    so only a deadline on the whole send stops waiting for it."""

    def __init__(self, gap: float) -> None:
        self.gap = gap
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            for byte in b"220-" + b"x" * 10_000:
                if self._stop.wait(self.gap):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


class Blackhole:
    """Accepts TCP connections and never says a word: a hung SMTP or webhook server."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


class SmtpCapture:
    """An aiosmtpd handler keeping every message it receives (or answering each with `answer`)."""

    def __init__(self, answer: str = "250 OK") -> None:
        self.messages: list[bytes] = []
        self.answer = answer
        self.attempts = 0

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.answer.startswith("250"):
            self.messages.append(envelope.content)
        return self.answer


def smtp_server(mode: str, ca, user: str = "chute", password: str = "s3cret", answer: str = "250 OK"):
    """Start aiosmtpd on loopback. mode: starttls | ssl | plain. Returns (controller, capture, port)."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    capture = SmtpCapture(answer)
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and (auth_data.password.decode() == password)
        )
        if ok:
            return AuthResult(success=True)
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Authentication credentials invalid"
        )

    port = free_port()
    # aiosmtpd only counts STARTTLS as TLS for AUTH; implicit SSL is encrypted all the same.
    kwargs = {
        "hostname": "127.0.0.1",
        "port": port,
        "authenticator": authenticator,
        "auth_require_tls": mode == "starttls",
    }
    if mode == "starttls":
        kwargs.update(tls_context=server_ctx, require_starttls=True)
    elif mode == "ssl":
        kwargs.update(ssl_context=server_ctx)
    controller = Controller(capture, **kwargs)
    controller.start()
    return controller, capture, port


class ServedApp:
    """Any WSGI app served by waitress on an ephemeral loopback port, in a thread."""

    def __init__(self, app, threads: int = 4) -> None:
        from waitress import create_server

        self.server = create_server(app, host="127.0.0.1", port=0, threads=threads, ident="test")
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        server = self.server
        # Closed from inside the server's loop: its map empties and run() returns.
        server.trigger.pull_trigger(lambda: [c.close() for c in list(server._map.values())])
        self.thread.join(5)
        server.task_dispatcher.shutdown(timeout=5)

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RedisServer:
    """The system's redis-server on a free loopback port, without persistence (a restart is empty)."""

    def __init__(
        self, binary: str, port: int | None = None, host: str = "127.0.0.1", password: str = ""
    ) -> None:
        self.binary = binary
        self.host = host
        self.password = password
        self.port = port or free_port()
        self.url = f"redis://{f':{password}@' if password else ''}{host}:{self.port}/0"
        self.proc = None
        self.start()

    def start(self) -> None:
        import subprocess

        import redis

        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                *(["--requirepass", self.password] if self.password else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(
            host=self.host, port=self.port, password=self.password or None, socket_connect_timeout=0.2
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)
            finally:
                client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@contextmanager
def small_disk(path: Path, size_kb: int):
    """A tmpfs of size_kb mounted at path, for full-disk tests; yields False where the machine does
    not allow mounts (not root, or no mount namespace), and the caller falls back."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = (
        os.geteuid() == 0
        and shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "chute-test", str(path)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
