"""The worker's side of the worker routes: fetch a file's bytes, send back its result, beat."""

from __future__ import annotations

import json
import logging
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from .protocol import ROUTES, WORKER_HEADER, Task

log = logging.getLogger(__name__)


class Stale(Exception):
    """The engine no longer wants this attempt (placed already, re-dispatched, or gone)."""


class Refused(Exception):
    """The engine refused the worker itself (wrong token, no cluster there): retrying cannot help."""


class EngineClient:
    def __init__(self, url: str, token: str, worker: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.url + ROUTES,
            headers={"Authorization": f"Bearer {token}", WORKER_HEADER: worker},
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        if response.status_code in (404, 409, 410):
            raise Stale(message)
        if response.status_code in (401, 403, 413, 503):
            raise Refused(f"{self.url} answered {response.status_code}: {message}")
        response.raise_for_status()

    def fetch(self, task: Task, dest: Path) -> None:
        """Stream the claimed file's bytes into `dest` (and tell the engine we are on it)."""
        with self.http.stream("GET", f"/files/{task.id}", params={"token": task.token}) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            with open(dest, "wb") as f:
                for chunk in response.iter_bytes(1 << 20):
                    f.write(chunk)

    def claim(self, task: Task) -> None:
        """Tell the engine we are on it, without the bytes (the worker reads a shared folder)."""
        self._check(self.http.get(f"/files/{task.id}", params={"token": task.token, "body": "0"}))

    def post_result(self, task: Task, result: dict, outputs: dict[str, Path], tries: int = 5) -> dict:
        """Send the result and its output files; an engine briefly away is tried again."""
        for n in range(tries):
            try:
                with ExitStack() as stack:
                    files = [
                        ("output", (suffix, stack.enter_context(open(path, "rb"))))
                        for suffix, path in outputs.items()
                    ]
                    response = self.http.post(
                        f"/files/{task.id}/result",
                        data={"token": task.token, "result": json.dumps(result, default=str)},
                        files=files or None,
                    )
                self._check(response)
                return response.json()
            except httpx.TransportError as exc:
                if n == tries - 1:
                    raise
                log.warning(
                    "cannot reach the engine to send file #%d's result (%s); trying again", task.id, exc
                )
                time.sleep(0.5 * 2**n)
        raise AssertionError("unreachable")

    def heartbeat(self, info: dict) -> dict:
        response = self.http.post("/heartbeat", json=info)
        self._check(response)
        return response.json()
