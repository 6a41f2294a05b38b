"""A `chute worker` with one extra processor: "ocr", standing for a slow OCR plugin.

Run as `python tests/cluster_worker.py <chute worker options>` by the cluster tests and the
cluster bench. A .ocr file's first line may say `sleep 0.2`: the processor takes that long,
in the isolated child process as any risky kind does, and writes a .ocr.txt output; `die`
kills the worker process running it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import ClassVar

from chute.engine.processors import Registry, Result
from chute.engine.processors.base import read_input


class SleepyProcessor:
    kind: ClassVar[str] = "ocr"
    extensions: ClassVar[frozenset[str]] = frozenset({".ocr"})
    inline: ClassVar[bool] = False
    outputs: ClassVar[tuple[str, ...]] = (".ocr.txt",)

    def process(self, path: Path, name: str, workdir: Path) -> Result:
        text = read_input(path).decode("utf-8", "replace")
        first = text.split("\n", 1)[0].split()
        if first[:1] == ["die"]:  # takes its worker down with it, as a segfaulting OCR library might
            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(5)
        if first[:1] == ["sleep"]:
            time.sleep(float(first[1]))
        out = workdir / "text.txt"
        out.write_text(text.upper(), encoding="utf-8")
        return Result(meta={"words": len(text.split())}, outputs={".ocr.txt": out})


def registry() -> Registry:
    found = Registry.default(plugins=False)
    found.add(SleepyProcessor())
    return found


def main() -> int:
    from chute.engine.cluster.command import add_worker_args, run_worker

    parser = argparse.ArgumentParser(prog="cluster_worker")
    add_worker_args(parser)
    return run_worker(parser.parse_args(), registry())


if __name__ == "__main__":
    # Run from the module, not __main__: the isolated child unpickles SleepyProcessor by its name.
    import cluster_worker

    sys.exit(cluster_worker.main())
