"""Discord webhook delivery: embeds within Discord's limits, and what each answer means.

200/204 sent; 429 wait `retry_after` then retry; 401/403/404 the webhook is gone, stop using it;
5xx and timeouts retry with backoff; any other 4xx is a bad message, not worth retrying.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from .secrets import redact

# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FOOTER_MAX = 2048
TOTAL_MAX = 6000
COLORS = {"critical": 0xD32F2F, "warning": 0xF9A825, "info": 0x1976D2}


@dataclass(frozen=True)
class Delivery:
    outcome: str  # sent | retry | disabled | dead
    delay: float | None = None  # for retry: how long to wait (None: the caller's backoff)
    error: str | None = None


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


class DiscordSender:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.where = redact(url)

    def send(self, payload: dict) -> Delivery:
        try:
            response = httpx.post(self.url, json=payload, timeout=self.timeout)
        except httpx.TimeoutException:
            return Delivery("retry", error=f"Discord at {self.where} timed out after {self.timeout:g}s")
        except httpx.HTTPError as exc:
            return Delivery("retry", error=f"Discord at {self.where} unreachable: {type(exc).__name__}")
        code = response.status_code
        if code in (200, 204):
            return Delivery("sent")
        if code == 429:
            delay = None
            try:
                delay = float(response.json().get("retry_after"))
            except (ValueError, TypeError, AttributeError):
                try:
                    delay = float(response.headers.get("retry-after", ""))
                except ValueError:
                    delay = None
            return Delivery(
                "retry",
                delay=delay if delay is not None else 5.0,
                error=f"rate limited by Discord (429), retry after {delay}s",
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
