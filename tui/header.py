"""The header, made for 80 columns first: link state and the age of what is shown (with the reason
when the link is broken), the engine, unread alerts, read-only. When the line is too long the
address goes first, then the engine count, then the reason is cut with …"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from . import fmt
from .feed import LinkState

STYLES = {
    "live": "bold green",
    "stale": "bold yellow",
    "reconnecting": "bold red",
    "connecting": "bold yellow",
    "paused": "bold cyan",
}


def describe(link: LinkState, now: float, stale_after: float, paused: bool) -> tuple[str, str, str]:
    """(state word, when the next try is, the age of what is shown) for a link at time `now`."""
    age = now - link.updated_at if link.updated_at else None
    shown = f"data {fmt.age(age)} old" if age is not None else ""  # an empty screen says "no data"
    if paused:
        return "paused", "", " · ".join(x for x in (shown, "p resumes") if x)
    if link.state == "reconnecting":
        return "reconnecting", f"in {link.retry_in or 0:.0f}s", shown
    if link.state == "connecting":
        return "connecting", "", shown if link.reason else ""
    if age is not None and age > stale_after:
        return "stale", "", f"no answer for {fmt.age(age)}"
    # Live means the engine answered within its poll interval: the age is shown once it matters.
    return "live", "", ""


@dataclass(frozen=True)
class HeaderState:
    name: str
    address: str
    link: LinkState
    now: float
    stale_after: float
    paused: bool
    engines: int = 1
    unread: int = 0
    readonly: bool = False


def render(h: HeaderState, width: int) -> Text:
    word, when, shown = describe(h.link, h.now, h.stale_after, h.paused)
    style = STYLES.get(word, "")
    reason = fmt.safe(h.link.reason) if h.link.reason and word in ("reconnecting", "connecting") else ""
    head = [(f" ● {word}" + (f" {when}" if when else ""), style)]
    age = [((" · " if reason else " ") + shown, "dim")] if shown else []
    tail: list[tuple[str, str]] = [("  ", ""), (fmt.safe(h.name), "bold")]
    address = (f" {fmt.safe(h.address)}", "dim")
    extra: list[tuple[str, str]] = []
    if h.unread:
        extra.append((f"  {h.unread} alert{'s' if h.unread != 1 else ''}", "yellow"))
    if h.readonly:
        extra += [("  ", ""), (" read-only ", "bold reverse")]
    engines = (f"  [ ] {h.engines} engines", "dim") if h.engines > 1 else None

    def length(parts) -> int:
        return sum(cell_len(t) for t, _ in parts)

    optional = [p for p in (address, engines) if p is not None]
    fixed = length(head) + length(age) + length(tail) + length(extra)
    need = fixed + (2 + cell_len(reason) if reason else 0)
    while optional and need + length(optional) > width:
        optional.pop()  # the engine count goes first, then the address
    if reason:
        room = max(12, width - fixed - length(optional) - 2)
        head.append((": " + (reason if cell_len(reason) <= room else reason[: room - 1] + "…"), style))
    parts = head + age + tail + ([address] if address in optional else []) + extra
    if engines is not None and engines in optional:
        parts.append(engines)
    return Text.assemble(*parts, no_wrap=True, overflow="ellipsis")


class LinkHeader(Static):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state: HeaderState | None = None
        self._shown: Text | None = None

    def show(self, state: HeaderState) -> None:
        self.state = state
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self.state is None:
            return
        text = render(self.state, self.size.width or 80)
        if text != self._shown:  # the clock ticks every second; redraw only what changed
            self._shown = text
            self.update(text)
