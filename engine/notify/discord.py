"""Discord webhook delivery: embeds within Discord's limits, and what each answer means.

200/204 sent; 429 pauses the whole webhook (its rate-limit bucket) for `retry_after`, and a
success that leaves the bucket empty (X-RateLimit-Remaining: 0) pauses it until the reset, so a
backlog never sends into a closed bucket; 401/403/404 the webhook is gone, stop using it; 5xx and
failures before the request was fully sent retry with backoff; any other 4xx is a bad message,
not worth retrying. Each send has a total deadline (deadline.py).

Idempotency, as far as Discord allows: an executed webhook has no idempotency key (the `nonce`
of Create Message is not documented for webhooks), so a re-send after an unanswered request can
post the same alert twice. Discord creates the message once it has the whole request; an answer
that is slow to come back almost always means the message was made. So a request whose body was
fully sent before the timeout or the connection broke is not sent again: it counts as delivered
("unconfirmed", and an event says so). Only requests that never reached Discord whole, and
answers in which Discord itself says it failed (5xx), are retried. At most once for that narrow
case, rather than the three copies a slow Discord produced before.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from .deadline import Deadline
from .secrets import redact

# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FOOTER_MAX = 2048
TOTAL_MAX = 6000
COLORS = {"critical": 0xD32F2F, "warning": 0xF9A825, "info": 0x1976D2}
PRIVATE_KEYS = ("webhook",)  # kept in the outbox payload for chute, never sent


@dataclass(frozen=True)
class Delivery:
    outcome: str  # sent | unconfirmed | retry | disabled | dead
    delay: float | None = None  # for retry: how long to wait (None: the caller's backoff)
    error: str | None = None
    pause: float | None = None  # seconds the whole channel must wait before its next send


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def embed(title: str, description: str, severity: str, footer: str) -> dict:
    title = _cut(title, TITLE_MAX)
    footer = _cut(footer, FOOTER_MAX)
    room = TOTAL_MAX - len(title) - len(footer)
    return {
        "title": title,
        "description": _cut(description, min(DESCRIPTION_MAX, room)),
        "color": COLORS.get(severity, COLORS["info"]),
        "footer": {"text": footer},
    }


def _seconds(value: object) -> float | None:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


class DiscordSender:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.where = redact(url)
        # One client (its TLS context is costly to build), but a new connection per send: the
        # deadline needs the send's own socket, which a pooled connection would not announce.
        self._client = httpx.Client(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0))

    def send(self, payload: dict) -> Delivery:
        body = {k: v for k, v in payload.items() if k not in PRIVATE_KEYS}
        seen: dict[str, object] = {"socket": None, "body_sent": False}

        def trace(event: str, info: dict) -> None:
            if event == "connection.connect_tcp.complete":
                seen["socket"] = info["return_value"].get_extra_info("socket")
            elif event == "http11.send_request_body.complete":
                seen["body_sent"] = True

        with Deadline(self.timeout) as deadline:
            deadline.watch(lambda: seen["socket"])
            try:
                response = self._client.post(self.url, json=body, extensions={"trace": trace})
            except httpx.HTTPError as exc:
                late = deadline.expired or isinstance(exc, httpx.TimeoutException)
                why = f"timed out after {self.timeout:g}s" if late else f"unreachable: {type(exc).__name__}"
                if seen["body_sent"]:
                    return Delivery(
                        "unconfirmed",
                        error=f"Discord at {self.where} {why} after the whole message was sent; "
                        "not sent again, so it is not posted twice",
                    )
                return Delivery("retry", error=f"Discord at {self.where} {why}")
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> Delivery:
        code = response.status_code
        if code in (200, 204):
            pause = None
            if response.headers.get("x-ratelimit-remaining") == "0":
                pause = _seconds(response.headers.get("x-ratelimit-reset-after"))
            return Delivery("sent", pause=pause)
        if code == 429:
            try:
                delay = _seconds(response.json().get("retry_after"))
            except (ValueError, AttributeError):
                delay = None
            if delay is None:
                delay = _seconds(response.headers.get("retry-after"))
            delay = 5.0 if delay is None else delay
            return Delivery(
                "retry",
                delay=delay,
                pause=delay,
                error=f"rate limited by Discord (429): the webhook waits {delay:g}s",
            )
        if code in (401, 403, 404):
            return Delivery(
                "disabled",
                error=f"Discord refused the webhook ({code}): it was deleted or its URL is "
                "wrong; alerts to Discord are off until the URL changes",
            )
        if code >= 500:
            return Delivery("retry", error=f"Discord answered {code}")
        return Delivery("dead", error=f"Discord rejected the message ({code}): {response.text[:200]}")
