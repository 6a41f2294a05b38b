"""`chute check [--repair]`: the journal against the disk, both ways, from the command line."""

from __future__ import annotations

import argparse
import json
import sys

from chute.engine import Config, Engine, EngineError
from chute.engine.printable import printable


def add_check_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--repair", action="store_true", help="rebuild missing rows from the sidecars (engine stopped)"
    )
    p.add_argument("--json", action="store_true")


def run_check(args: argparse.Namespace, config: Config) -> int:
    running = Engine.running_on(config)
    if args.repair and running:
        print(
            "chute: stop the engine before `check --repair` (it writes the journal too); "
            "`chute check` alone works while it runs",
            file=sys.stderr,
        )
        return 2
    try:
        engine = Engine.open_journal(config)
    except EngineError as exc:
        print(f"chute: {exc}", file=sys.stderr)
        return 2
    try:
        findings = engine.check(repair=args.repair, running=running)
    finally:
        engine.stop()
    left = [f for f in findings if not f.repaired]
    if args.json:
        print(json.dumps({"running": running, "findings": [f.__dict__ for f in findings]}))
        return 1 if left else 0
    for f in findings:
        done = (f" -> row #{f.file_id} rebuilt" if f.file_id else " -> removed") if f.repaired else ""
        print(f"{f.problem:<12} {printable(f.message)} {printable(f.path)}{done}")
    repaired = len(findings) - len(left)
    summary = f"{len(findings)} problem(s)" + (f", {repaired} repaired" if repaired else "")
    if not findings:
        summary = "journal and disk agree"
    elif left and not args.repair and any(f.problem in ("unjournaled", "stray") for f in left):
        summary += "; `chute check --repair` rebuilds missing rows from sidecars and removes stray ones"
    print(summary + (" (engine running: files in flight not compared)" if running else ""))
    return 1 if left else 0
