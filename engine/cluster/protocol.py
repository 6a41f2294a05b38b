"""What the engine and its workers agree on: the queue message, the routes, the headers.

A task travels through the broker as plain JSON; the file's bytes, the outputs and the result
travel over the engine's HTTP API, so a worker needs no shared filesystem.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

ACTOR = "chute_process"
WORKER_HEADER = "X-Chute-Worker"  # which worker speaks, for the journal and /api/v1/workers
ROUTES = "/worker/v1"
# Output suffixes name files placed beside the original: no path separators, nothing hidden.
OUTPUT_SUFFIX = re.compile(r"^\.[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


@dataclass(frozen=True)
class Task:
    """One dispatch of one file. `token` names the attempt: only its result is placed."""

    id: int
    token: str
    name: str
    kind: str
    size: int
    isolated: bool  # run in a child process (risky kinds, big files), as the engine would
    path: str | None = None  # where the worker may read the file directly ([cluster] shared_work)

    def to_kwargs(self) -> dict:
        return asdict(self)


def message(task: Task, queue: str):
    """The Dramatiq message for a task (the engine sends it without declaring an actor)."""
    from dramatiq import Message

    return Message(queue_name=queue, actor_name=ACTOR, args=(), kwargs=task.to_kwargs(), options={})


class StaleAttempt(Exception):
    """An attempt token that is no longer the file's current one: its work is not wanted."""
