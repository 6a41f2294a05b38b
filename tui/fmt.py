"""Small formatting helpers shared by the panes (pure functions: easy to test, deterministic)."""

from __future__ import annotations

import time

from rich.text import Text

from chute.engine.printable import printable

STATE_STYLE = {
    "done": "green",
    "failed": "bold red",
    "queued": "yellow",
    "retrying": "yellow",
    "placing": "cyan",
    "dispatched": "blue",
    "processing": "cyan",
    "duplicate": "magenta",
    "vanished": "dim",
}


def clock(ts: float | None) -> str:
    if not ts:
        return "—"
    return time.strftime("%H:%M:%S", time.localtime(ts))


def day_clock(ts: float | None) -> str:
    if not ts:
        return "—"
    return time.strftime("%m-%d %H:%M", time.localtime(ts))


def stamp(ts: float | None) -> str:
    """Day and time to the second, for timelines where order within a minute matters."""
    if not ts:
        return "—"
    return time.strftime("%m-%d %H:%M:%S", time.localtime(ts))


def seconds(value: float | None) -> str:
    """A duration in the unit that reads best."""
    if value is None:
        return "—"
    if value < 0.001:
        return f"{value * 1e6:.0f}µs"
    if value < 1:
        return f"{value * 1000:.1f}ms" if value < 0.1 else f"{value * 1000:.0f}ms"
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.0f}m"
    return f"{value / 3600:.1f}h"


def age(seconds_ago: float) -> str:
    if seconds_ago < 60:
        return f"{seconds_ago:.0f}s"
    if seconds_ago < 3600:
        return f"{seconds_ago / 60:.0f}m"
    return f"{seconds_ago / 3600:.1f}h"


def count(n: int | float | None) -> str:
    if n is None:
        return "—"
    return f"{n:,.0f}"


def size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n}"


def state(value: str) -> Text:
    return Text(value, style=STATE_STYLE.get(value, ""))


def status(code: int) -> Text:
    style = "green" if code < 300 else "cyan" if code < 400 else "yellow" if code < 500 else "bold red"
    return Text(str(code), style=style)


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f}%"


def where(dest: str | None, root: str | None) -> str:
    """A destination relative to the engine's root (or from processed/ or failed/ when unknown)."""
    if not dest:
        return "—"
    if root and dest.startswith(root.rstrip("/") + "/"):
        return dest[len(root.rstrip("/")) + 1 :]
    for marker in ("/processed/", "/failed/"):
        at = dest.rfind(marker)
        if at >= 0:
            return dest[at + 1 :]
    return dest


def safe(text: str | None) -> str:
    """Text from outside (file names, reasons, messages) with every control character shown as an
    escape, as the CLI prints it, so a name cannot move the cursor, recolour or hide itself."""
    return printable(text) if text else ""


def plain(text: str | None, style: str = "") -> Text:
    """A cell or label that is shown as written: escaped, never parsed as markup, cut with …"""
    return Text(safe(text), style=style, no_wrap=True, overflow="ellipsis", end="")


def one_line(text: str | None, width: int = 80) -> str:
    """Whitespace runs (newlines included) folded to one space, escaped, cut to `width` with …"""
    if not text:
        return ""
    flat = safe(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def place(dest: str | None, name: str) -> str:
    """Where a file went, briefly: its folder without the date, plus the new name if it had to
    change (processed/csv, failed, processed/text as "report (1).txt")."""
    if not dest:
        return "—"
    parts = dest.replace("\\", "/").split("/")
    folder = (
        "processed/" + parts[-3]
        if len(parts) >= 4 and parts[-4] == "processed"
        else ("failed" if len(parts) >= 3 and parts[-3] == "failed" else "/".join(parts[-3:-1]))
    )
    return folder if parts[-1] == name else f"{folder} as {parts[-1]}"
