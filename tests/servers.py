"""Real servers on loopback for the notification tests: SMTP (aiosmtpd), a Discord stand-in (a real
HTTP server answering as Discord does), and a blackhole that accepts and never answers."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeDiscord:
    """Answers webhook POSTs from a script of (status, json body) pairs; the last one repeats."""

    def __init__(self, script: list[tuple[int, dict | None]] | None = None) -> None:
        self.script = list(script or [(204, None)])
        self.requests: list[tuple[float, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append((time.time(), body))
                status, answer = fake.script.pop(0) if len(fake.script) > 1 else fake.script[0]
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
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
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


def smtp_server(mode: str, ca, user: str = "chute", password: str = "s3cret"):
    """Start aiosmtpd on loopback. mode: starttls | ssl | plain. Returns (controller, capture, port)."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    capture = SmtpCapture()
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
