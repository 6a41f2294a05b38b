"""Where the console's data comes from: one protocol, two transports.

`LocalSource` wraps an in-process Engine; `RemoteSource` speaks the v1 HTTP API with httpx. Both
return the same dataclasses from engine.model, so the console cannot tell them apart (and its
tests run against both). Every method is async; a broken link raises SourceError.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx

from chute.engine.model import (
    Alert,
    EndpointStats,
    Event,
    FileDetail,
    FilePage,
    Health,
    MinutePoint,
    RequestRecord,
    RetryResult,
    Snapshot,
    WorkerInfo,
    from_dict,
)

if TYPE_CHECKING:
    from chute.engine import Engine
# What a far side can offer. An engine offers all of it; a Flask app with Monitor(app) says what it
# offers at /monitoring/chute/ (requests, history, health, and alerts and reports when they are on).
ENGINE_OFFERS = frozenset(
    ("files", "events", "schedules", "backups", "requests", "history", "health", "alerts", "reports")
)
APP_ROOT = "/monitoring/chute"


class SourceError(Exception):
    """The engine could not be reached or refused the request; the message says which, and
    `reason` says it in a few words for the header (token refused, connection refused, ...)."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


def _unreachable(url: str, exc: httpx.HTTPError) -> SourceError:
    text = f"{exc.__class__.__name__} {exc}".strip()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and not (isinstance(cause, OSError) and cause.errno is not None):
        cause = cause.__cause__ or cause.__context__  # anyio wraps the errno'd error in a plain one
    if isinstance(cause, ssl.SSLError) or "SSL" in text.upper() or "CERTIFICATE" in text.upper():
        reason = "TLS: " + str(cause or exc)
    elif isinstance(exc, httpx.TimeoutException):
        reason = "no answer (timed out)"
    elif isinstance(exc, httpx.RemoteProtocolError):
        reason = "connection closed by the engine"
    elif isinstance(cause, socket.gaierror):
        reason = "unknown host"
    elif isinstance(cause, ConnectionRefusedError) or "refused" in text.lower():
        reason = "connection refused"
    elif isinstance(cause, OSError) and cause.strerror:
        reason = "cannot connect: " + cause.strerror.lower()
    else:
        reason = "cannot connect: " + (str(exc) or exc.__class__.__name__)
    return SourceError(f"cannot reach {url}: {text}", reason)


@runtime_checkable
class Source(Protocol):
    name: str
    address: str

    async def snapshot(self) -> Snapshot: ...
    async def history(self, minutes: int = 60) -> list[MinutePoint]: ...
    async def files(
        self,
        state: str | None = None,
        kind: str | None = None,
        q: str | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> FilePage: ...
    async def file(self, file_id: int) -> FileDetail | None: ...
    async def retry(self, ids: list[int]) -> RetryResult: ...
    async def events(self, since: int, wait: float = 0.0) -> tuple[list[Event], int]: ...
    async def endpoints(self) -> list[EndpointStats]: ...
    async def recent_requests(self, limit: int = 50) -> list[RequestRecord]: ...
    async def alerts(self, limit: int = 100) -> tuple[list[Alert], int]: ...
    async def health(self) -> Health: ...
    async def mark_alert_read(self, alert_id: int, read: bool = True) -> None: ...
    async def run_job(self, name: str) -> dict[str, Any]: ...
    async def workers(self) -> list[WorkerInfo]: ...
    async def close(self) -> None: ...


class LocalSource:
    """An engine in this process. Calls run in threads so the UI never waits on SQLite."""

    def __init__(self, engine: Engine, name: str | None = None) -> None:
        self.engine = engine
        self.name = name or engine.config.name
        self.address = "embedded"
        self.kind = "engine"
        self.offers = ENGINE_OFFERS

    async def _call(self, fn, *args, **kwargs):
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ValueError as exc:
            raise SourceError(str(exc)) from exc

    async def snapshot(self) -> Snapshot:
        return await self._call(self.engine.snapshot)

    async def history(self, minutes: int = 60) -> list[MinutePoint]:
        return await self._call(self.engine.history, minutes)

    async def files(self, state=None, kind=None, q=None, limit=100, before=None) -> FilePage:
        return await self._call(self.engine.files, state=state, kind=kind, q=q, limit=limit, before=before)

    async def file(self, file_id: int) -> FileDetail | None:
        return await self._call(self.engine.file, file_id)

    async def retry(self, ids: list[int]) -> RetryResult:
        return await self._call(self.engine.retry, ids)

    async def events(self, since: int, wait: float = 0.0) -> tuple[list[Event], int]:
        items = await self._call(self.engine.events, since, 500, min(wait, 1.0))
        return items, items[-1].id if items else since

    async def endpoints(self) -> list[EndpointStats]:
        return self.engine.endpoints()

    async def recent_requests(self, limit: int = 50) -> list[RequestRecord]:
        return self.engine.recent_requests(limit)

    async def alerts(self, limit: int = 100) -> tuple[list[Alert], int]:
        items = await self._call(self.engine.alerts, limit)
        return items, await self._call(self.engine.unread_alerts)

    async def mark_alert_read(self, alert_id: int, read: bool = True) -> None:
        await self._call(self.engine.mark_alert_read, alert_id, read)

    async def health(self) -> Health:
        return await self._call(self.engine.health)

    async def run_job(self, name: str) -> dict[str, Any]:
        try:
            return await self._call(self.engine.run_job, name)
        except (KeyError, RuntimeError) as exc:
            raise SourceError(str(exc)) from exc

    async def workers(self) -> list[WorkerInfo]:
        return await self._call(self.engine.workers)

    async def close(self) -> None:
        pass


class RemoteSource:
    """An engine elsewhere, over its HTTP API. Follows /events by cursor with long polls.

    Or a Flask app with Monitor(app): on connecting it asks the far side what it offers (the app
    answers at /monitoring/chute/ with the engine API's shapes underneath); what an app does not
    have (files, events, schedules, backups) is empty here, and the view hides it."""

    def __init__(self, url: str, token: str | None, name: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.address = self.url
        parsed = httpx.URL(self.url)
        self._default_name = (f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host) or self.url
        self.name = name or self._default_name
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._has_token = bool(token)  # an open monitored app needs none
        self._timeout = timeout
        self._client = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout)
        self.bytes_received = 0
        self.requests_made = 0
        self.kind = "engine"
        self.offers = ENGINE_OFFERS
        self._api = "/api/v1"
        self._learned = False

    async def _learn(self) -> None:
        """Engine or app? Asked once, on the first snapshot (the feed's first call)."""
        if self._learned:
            return
        # An engine answers its JSON 404 (None here); a refused token or a dead link raises.
        doc = await self._request("GET", f"{APP_ROOT}/", missing_ok=True)
        if isinstance(doc, dict) and doc.get("kind") == "app" and isinstance(doc.get("offers"), list):
            self.kind = "app"
            self.offers = frozenset(doc["offers"])
            self._api = APP_ROOT
            if not self.name or self.name == self._default_name:
                self.name = str(doc.get("name") or self.name)
        self._learned = True

    async def _get(
        self, path: str, params: dict | None = None, timeout: float | None = None, need: tuple[str, ...] = ()
    ) -> Any:
        doc = await self._request("GET", path, params=params, timeout=timeout)
        missing = [k for k in need if k not in doc]
        if missing:
            raise SourceError(
                f"{self.url}{path}: the answer has no {', '.join(missing)}: not a chute engine of this version?",
                f"not a chute engine (unreadable {path})",
            )
        return doc

    async def _request(
        self, method: str, path: str, timeout: float | None = None, missing_ok: bool = False, **kwargs
    ) -> Any:
        """One call; any answer that is not the engine's JSON is a SourceError with a reason.
        `missing_ok`: a 404 from the engine means "no such item" and gives None."""
        try:
            response = await self._client.request(
                method,
                path,
                timeout=timeout or self._timeout,
                **{k: v for k, v in kwargs.items() if v is not None},
            )
        except httpx.HTTPError as exc:
            raise _unreachable(self.url, exc) from exc
        self.requests_made += 1
        self.bytes_received += len(response.content) + sum(
            len(k) + len(v) + 4 for k, v in response.headers.items()
        )
        status = response.status_code
        if status == 401 and not self._has_token:
            raise SourceError(
                f"{self.url} needs a token (401): give it with --token-file or CHUTE_TOKEN, or token_file or "
                "token_env in the engines file",
                "needs a token (401)",
            )
        if status == 401:
            raise SourceError(
                f"{self.url} refused the token (401): check the engine's token (token_file, --token-file or "
                "CHUTE_TOKEN)",
                "token refused (401)",
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if status == 404 and missing_ok and isinstance(error, dict):
            return None
        if status == 404 or not isinstance(body, dict):
            base = "/api/" in self.url  # the usual slip: the API's URL given instead of the engine's
            raise SourceError(
                f"{self.url}{path} answered {status}{'' if body is not None else ' without JSON'}: "
                "not a chute engine" + (" (give the engine's base URL, without /api/v1)" if base else ""),
                f"not a chute engine ({status})" + (": drop /api/v1" if base else f" at {path}"),
            )
        if status >= 400:
            message = error.get("message", "") if isinstance(error, dict) else ""
            raise SourceError(f"{method} {path}: {status} {message}".strip(), f"engine answered {status}")
        return body

    def _parse(self, cls: type, doc: Any, path: str) -> Any:
        try:
            return from_dict(cls, doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(
                f"{self.url}{path}: an answer chute cannot read ({exc!r}): not a chute engine of this version?",
                f"not a chute engine (unreadable {path})",
            ) from exc

    async def snapshot(self) -> Snapshot:
        await self._learn()
        path = f"{self._api}/snapshot"
        return self._parse(Snapshot, await self._get(path), path)

    async def history(self, minutes: int = 60) -> list[MinutePoint]:
        path = f"{self._api}/history"
        doc = await self._get(path, {"minutes": minutes}, need=("minutes",))
        return [self._parse(MinutePoint, p, path) for p in doc["minutes"]]

    async def files(self, state=None, kind=None, q=None, limit=100, before=None) -> FilePage:
        if "files" not in self.offers:
            return FilePage(items=[], next_before=None)
        params = {"state": state, "kind": kind, "q": q, "limit": limit, "before": before}
        doc = await self._get("/api/v1/files", {k: v for k, v in params.items() if v is not None})
        return self._parse(FilePage, doc, "/api/v1/files")

    async def file(self, file_id: int) -> FileDetail | None:
        if "files" not in self.offers:
            return None
        path = f"/api/v1/files/{int(file_id)}"
        doc = await self._request("GET", path, missing_ok=True)
        return None if doc is None else self._parse(FileDetail, doc, path)

    async def retry(self, ids: list[int]) -> RetryResult:
        if "files" not in self.offers:
            raise SourceError(f"{self.name} is an app: it has no files to retry", "an app has no files")
        doc = await self._request("POST", "/api/v1/files/retry", json={"ids": [int(i) for i in ids]})
        try:
            return RetryResult(retried=doc["retried"], skipped={int(k): v for k, v in doc["skipped"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SourceError(
                f"{self.url}: unreadable answer to a retry ({exc!r})", "not a chute engine"
            ) from exc

    async def events(self, since: int, wait: float = 0.0) -> tuple[list[Event], int]:
        if "events" not in self.offers:
            await asyncio.sleep(wait)  # nothing to follow: the feed's snapshots carry the news
            return [], since
        # A long poll answers within `wait`: a few seconds more without an answer is a stalled link.
        doc = await self._get(
            "/api/v1/events", {"since": since, "wait": wait}, timeout=wait + 3.0, need=("events", "last")
        )
        return [self._parse(Event, e, "/api/v1/events") for e in doc["events"]], doc["last"]

    async def endpoints(self) -> list[EndpointStats]:
        path = f"{self._api}/requests/endpoints"
        doc = await self._get(path, need=("endpoints",))
        return [self._parse(EndpointStats, e, path) for e in doc["endpoints"]]

    async def recent_requests(self, limit: int = 50) -> list[RequestRecord]:
        path = f"{self._api}/requests/recent"
        doc = await self._get(path, {"limit": limit}, need=("requests",))
        return [self._parse(RequestRecord, r, path) for r in doc["requests"]]

    async def alerts(self, limit: int = 100) -> tuple[list[Alert], int]:
        if "alerts" not in self.offers:
            return [], 0
        path = f"{self._api}/alerts"
        doc = await self._get(path, {"limit": limit}, need=("alerts", "unread"))
        return [self._parse(Alert, a, path) for a in doc["alerts"]], doc["unread"]

    async def mark_alert_read(self, alert_id: int, read: bool = True) -> None:
        await self._request("POST", f"{self._api}/alerts/{int(alert_id)}/read", json={"read": read})

    async def health(self) -> Health:
        """health+json; a failing far side answers 503 with the same document."""
        path = "/health" if self.kind == "engine" else f"{self._api}/health"
        try:
            response = await self._client.get(path)
        except httpx.HTTPError as exc:
            raise _unreachable(self.url, exc) from exc
        try:
            doc = response.json()
            return Health(status=doc["status"], checks=doc.get("checks", {}))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SourceError(
                f"{self.url}{path}: no health+json ({response.status_code})", "no health"
            ) from exc

    async def run_job(self, name: str) -> dict[str, Any]:
        offer = {"backup": "backups", "report": "reports"}[name]
        if offer not in self.offers:
            raise SourceError(f"{self.name} has no {offer} (an app without an engine)", f"no {offer}")
        return await self._request("POST", f"{self._api}/{offer}", timeout=300)

    async def workers(self) -> list[WorkerInfo]:
        if self.kind == "app":
            return []  # an app has no cluster
        # An engine from before the cluster has no such route (a chute 404): it has no workers.
        doc = await self._request("GET", "/api/v1/workers", missing_ok=True)
        if doc is None:
            return []
        if not isinstance(doc.get("workers"), list):
            raise SourceError(f"{self.url}/api/v1/workers: the answer has no workers", "not a chute engine")
        return [self._parse(WorkerInfo, w, "/api/v1/workers") for w in doc["workers"]]

    async def close(self) -> None:
        await self._client.aclose()
