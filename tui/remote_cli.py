"""One-shot commands against a running engine's HTTP API (used when the journal is busy)."""

from __future__ import annotations

import os
import sys

import httpx

from chute.engine.config import Config
from chute.engine.printable import printable


def token_for(config: Config) -> str:
    token = os.environ.get("CHUTE_TOKEN", "").strip()
    if token:
        return token
    path = config.paths.state / "token"
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise SystemExit(f"chute: no CHUTE_TOKEN and cannot read {path}: {exc.strerror}") from None


def client_for(config: Config, timeout: float = 30.0) -> httpx.Client:
    host = config.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return httpx.Client(
        base_url=f"http://{host}:{config.server.port}",
        headers={"Authorization": f"Bearer {token_for(config)}"},
        timeout=timeout,
    )


def call(config: Config, method: str, path: str, **kwargs) -> dict:
    try:
        with client_for(config) as client:
            response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise SystemExit(f"chute: the engine is running but its API did not answer: {exc}") from None
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code >= 400:
        message = body.get("error", {}).get("message", response.text[:200])
        raise SystemExit(f"chute: {method} {path} failed ({response.status_code}): {message}")
    return body


def retry_via_api(config: Config, ids: list[int], all_failed: bool) -> int:
    body = {"state": "failed"} if all_failed else {"ids": ids}
    result = call(config, "POST", "/api/v1/files/retry", json=body)
    for fid, why in result.get("skipped", {}).items():
        print(f"#{fid}: {printable(why)}", file=sys.stderr)
    print(f"{len(result['retried'])} file(s) sent back through the running engine")
    return 0 if result["retried"] or not ids else 1
