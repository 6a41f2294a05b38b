"""One-shot commands against a running engine's HTTP API.

Where the API is: `--url`, else the URL the running engine wrote into state/api.json (so an engine
on another port is found). The token: CHUTE_TOKEN, else the root's state/token.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

from chute.engine.config import Config
from chute.engine.printable import printable

POLL = 0.25  # seconds between looks at a job the engine is running for us


class Api:
    def __init__(self, url: str, config: Config | None, timeout: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            url = "http://" + url
        self.url = url.rstrip("/")
        self.token = token_for(config.paths.state if config else None)
        self.timeout = timeout

    def call(self, method: str, path: str, **kwargs) -> dict:
        try:
            with httpx.Client(
                base_url=self.url,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=self.timeout,
            ) as client:
                response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise SystemExit(f"chute: the engine's API at {self.url} did not answer: {exc}") from None
        json_body = response.headers.get("content-type", "").startswith("application/json")
        body = response.json() if json_body else {}
        if response.status_code >= 400:
            message = body.get("error", {}).get("message", response.text[:200])
            raise SystemExit(f"chute: {method} {self.url}{path} failed ({response.status_code}): {message}")
        return body


def token_for(state: Path | None) -> str:
    token = os.environ.get("CHUTE_TOKEN", "").strip()
    if token:
        return token
    if state is None:
        raise SystemExit("chute: --url needs a token: set CHUTE_TOKEN (the engine's state/token)")
    path = state / "token"
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise SystemExit(f"chute: no CHUTE_TOKEN and cannot read {path}: {exc.strerror}") from None


def retry_via_api(api: Api, ids: list[int], all_failed: bool) -> int:
    body = {"state": "failed"} if all_failed else {"ids": ids}
    result = api.call("POST", "/api/v1/files/retry", json=body)
    for fid, why in result.get("skipped", {}).items():
        print(f"#{fid}: {printable(why)}", file=sys.stderr)
    print(f"{len(result['retried'])} file(s) sent back through the running engine at {api.url}")
    return 0 if result["retried"] or not ids else 1


def _job(api: Api, name: str) -> dict:
    for job in api.call("GET", "/api/v1/snapshot").get("schedules", []):
        if job.get("name") == name:
            return job
    raise SystemExit(f"chute: the engine at {api.url} has no {name} job")


def run_job_via_api(api: Api, name: str, where: Path | None = None) -> int:
    """Ask the engine to run a job now and wait for its outcome (Ctrl-C stops waiting, not the job)."""
    runs = _job(api, name).get("runs", 0)
    api.call("POST", f"/api/v1/{name}s")
    print(f"{name} running in the engine at {api.url}…", file=sys.stderr, flush=True)
    while True:
        job = _job(api, name)
        if job.get("runs", 0) > runs and not job.get("running"):
            break
        time.sleep(POLL)
    print((job.get("last_message") or job.get("last_outcome")) + (f"; in {where}" if where else ""))
    return 0 if job.get("last_outcome") == "ok" else 1
