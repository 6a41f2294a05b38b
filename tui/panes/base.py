"""What every pane shares: its engine's source, the snapshot and pause bound down from the engine
view, a guarded fetch, and the widget that takes focus when the pane is shown."""

from __future__ import annotations

from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from chute.engine.model import Event, Snapshot

from .. import fmt
from ..messages import SourceFailed
from ..source import Source, SourceError


class Pane(Vertical):
    snapshot: reactive[Snapshot | None] = reactive(None, init=False)
    paused: reactive[bool] = reactive(False, init=False)

    def __init__(self, source: Source, *, root: str | None = None, readonly: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.root = root
        self.readonly = readonly
        self._said: dict[str, str] = {}

    @property
    def main(self) -> Widget:
        """The widget a number key puts the focus on."""
        raise NotImplementedError

    def say(self, widget_id: str, text: str) -> None:
        """Set a status line, redrawing only when its words change (a refresh repeats them)."""
        if self._said.get(widget_id) != text:
            self._said[widget_id] = text
            self.query_one(f"#{widget_id}", Static).update(fmt.plain(text))

    def watch_paused(self, paused: bool) -> None:
        self.set_class(paused, "-paused")  # tinted while frozen, so nobody mistakes it for live

    def load(self) -> None:
        """(Re)load what the pane shows from the source; panes that only follow the snapshot
        have nothing to load."""

    def on_events(self, events: list[Event]) -> None:
        """Live events from the feed (not sent while paused)."""

    async def fetch(self, fn, *args, **kwargs):
        """A source call whose failure is reported up once, not raised into the pane."""
        try:
            return await fn(*args, **kwargs)
        except SourceError as exc:
            self.post_message(SourceFailed(str(exc)))
            return None
