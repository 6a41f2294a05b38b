"""Where the console's data comes from: one protocol, two transports.

`LocalSource` wraps an in-process Engine; `RemoteSource` speaks the v1 HTTP API with httpx. Both
return the same dataclasses from engine.model, so the console cannot tell them apart (and its
tests run against both). Every method is async; a broken link raises SourceError.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx

from chute.engine.model import (
    Alert,
    EndpointStats,
    Event,
    FileDetail,
    FilePage,
    MinutePoint,
    RequestRecord,
    RetryResult,
    Snapshot,
    from_dict,
)

if TYPE_CHECKING:
    from chute.engine import Engine


class SourceError(Exception):
    """The engine could not be reached or refused the request; the message says which."""


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
    async def mark_alert_read(self, alert_id: int, read: bool = True) -> None: ...
    async def run_job(self, name: str) -> dict[str, Any]: ...
    async def close(self) -> None: ...


class LocalSource:
    """An engine in this process. Calls run in threads so the UI never waits on SQLite."""

    def __init__(self, engine: Engine, name: str | None = None) -> None:
        self.engine = engine
        self.name = name or engine.config.name
        self.address = "embedded"

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

    async def run_job(self, name: str) -> dict[str, Any]:
        try:
            return await self._call(self.engine.run_job, name)
        except (KeyError, RuntimeError) as exc:
            raise SourceError(str(exc)) from exc

    async def close(self) -> None:
        pass


class RemoteSource:
    """An engine elsewhere, over its HTTP API. Follows /events by cursor with long polls."""

    def __init__(self, url: str, token: str | None, name: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.address = self.url
        self.name = name or httpx.URL(self.url).host or self.url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._client = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout)
        self.bytes_received = 0
        self.requests_made = 0

    async def _get(self, path: str, params: dict | None = None, timeout: float | None = None) -> Any:
        return await self._request("GET", path, params=params, timeout=timeout)

    async def _request(self, method: str, path: str, timeout: float | None = None, **kwargs) -> Any:
        try:
            response = await self._client.request(
                method,
                path,
                timeout=timeout or self._timeout,
                **{k: v for k, v in kwargs.items() if v is not None},
            )
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot reach {self.url}: {exc.__class__.__name__} {exc}".strip()) from exc
        self.requests_made += 1
        self.bytes_received += len(response.content) + sum(
            len(k) + len(v) + 4 for k, v in response.headers.items()
        )
        if response.status_code == 401:
            raise SourceError(f"{self.url} refused the token (401): set --token or CHUTE_TOKEN")
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"{self.url}{path} answered {response.status_code} without JSON") from None
        if response.status_code >= 400:
            message = body.get("error", {}).get("message", "") if isinstance(body, dict) else ""
            if response.status_code == 404:
                return None
            raise SourceError(f"{method} {path}: {response.status_code} {message}")
        return body

    async def snapshot(self) -> Snapshot:
        return from_dict(Snapshot, await self._get("/api/v1/snapshot"))

    async def history(self, minutes: int = 60) -> list[MinutePoint]:
        doc = await self._get("/api/v1/history", {"minutes": minutes})
        return [from_dict(MinutePoint, p) for p in doc["minutes"]]

    async def files(self, state=None, kind=None, q=None, limit=100, before=None) -> FilePage:
        params = {"state": state, "kind": kind, "q": q, "limit": limit, "before": before}
        doc = await self._get("/api/v1/files", {k: v for k, v in params.items() if v is not None})
        return from_dict(FilePage, doc)

    async def file(self, file_id: int) -> FileDetail | None:
        doc = await self._get(f"/api/v1/files/{int(file_id)}")
        return None if doc is None else from_dict(FileDetail, doc)

    async def retry(self, ids: list[int]) -> RetryResult:
        doc = await self._request("POST", "/api/v1/files/retry", json={"ids": [int(i) for i in ids]})
        return RetryResult(retried=doc["retried"], skipped={int(k): v for k, v in doc["skipped"].items()})

    async def events(self, since: int, wait: float = 0.0) -> tuple[list[Event], int]:
        doc = await self._get("/api/v1/events", {"since": since, "wait": wait}, timeout=wait + self._timeout)
        return [from_dict(Event, e) for e in doc["events"]], doc["last"]

    async def endpoints(self) -> list[EndpointStats]:
        doc = await self._get("/api/v1/requests/endpoints")
        return [from_dict(EndpointStats, e) for e in doc["endpoints"]]

    async def recent_requests(self, limit: int = 50) -> list[RequestRecord]:
        doc = await self._get("/api/v1/requests/recent", {"limit": limit})
        return [from_dict(RequestRecord, r) for r in doc["requests"]]

    async def alerts(self, limit: int = 100) -> tuple[list[Alert], int]:
        doc = await self._get("/api/v1/alerts", {"limit": limit})
        return [from_dict(Alert, a) for a in doc["alerts"]], doc["unread"]

    async def mark_alert_read(self, alert_id: int, read: bool = True) -> None:
        await self._request("POST", f"/api/v1/alerts/{int(alert_id)}/read", json={"read": read})

    async def run_job(self, name: str) -> dict[str, Any]:
        path = {"backup": "/api/v1/backups", "report": "/api/v1/reports"}[name]
        return await self._request("POST", path, timeout=300)

    async def close(self) -> None:
        await self._client.aclose()
