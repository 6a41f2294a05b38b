"""The header: which engine, where, and whether the link is live, stale or reconnecting."""

from __future__ import annotations

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


def describe(link: LinkState, now: float, stale_after: float, paused: bool) -> tuple[str, str]:
    """(state word, detail) for a link at time `now`."""
    age = now - link.updated_at if link.updated_at else None
    if paused:
        return "paused", "p resumes"
    if link.state == "reconnecting":
        shown = f", showing data {fmt.age(age)} old" if age is not None else ""
        return "reconnecting", f"in {link.retry_in or 0:.0f}s{shown}"
    if link.state == "connecting":
        return "connecting", ""
    if age is not None and age > stale_after:
        return "stale", f"no news for {fmt.age(age)}"
    return "live", ""


class LinkHeader(Static):
    def show(
        self,
        name: str,
        address: str,
        link: LinkState,
        now: float,
        stale_after: float,
        paused: bool,
        engines: int = 1,
        unread: int = 0,
    ) -> None:
        word, detail = describe(link, now, stale_after, paused)
        text = Text.assemble(
            (" chute ", "bold reverse"),
            " ",
            (name, "bold"),
            (f"  {address}", "dim"),
            "  ",
            (f"● {word}", STYLES.get(word, "")),
            (f" {detail}" if detail else "", "dim"),
        )
        if unread:
            text.append(f"  {unread} unread alert{'s' if unread != 1 else ''}", style="yellow")
        if engines > 1:
            text.append(f"  [ ] {engines} engines", style="dim")
        self.update(text)
