"""The `chute` command. Console commands import textual lazily, so `chute engine` on a server
never loads it."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
from pathlib import Path

from engine import __version__
from engine.config import ConfigError, init
from engine.headless import add_engine_args, add_location_args, resolve_config
from engine.headless import run as run_engine
from engine.journal import Journal, JournalError
from engine.model import to_dict


def _engine_running(config) -> bool:
    lock = config.paths.state / "engine.lock"
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _open_journal(config) -> Journal:
    path = config.paths.state / "journal.sqlite"
    if not path.exists():
        raise ConfigError(
            "paths.state", f"no journal at {path}: has an engine ever run on {config.paths.root}?"
        )
    return Journal(path)


def cmd_init(args: argparse.Namespace) -> int:
    target = init(args.dir)
    print(f"wrote {target}; drop files into {target.parent / 'inbox'} and run `chute engine -c {target}`")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from engine.model import STATES

    config = resolve_config(args)
    journal = _open_journal(config)
    try:
        counts = dict.fromkeys(STATES, 0)
        kinds: dict[str, dict[str, int]] = {}
        for (state, kind), n in journal.counts().items():
            counts[state] += n
            if kind:
                kinds.setdefault(kind, {})[state] = n
        running = _engine_running(config)
        if args.json:
            print(json.dumps({"running": running, "counts": counts, "kinds": kinds}))
            return 0
        print(f"chute {__version__} — {config.paths.root} — engine {'running' if running else 'not running'}")
        print("  " + "  ".join(f"{s}: {n}" for s, n in counts.items() if n or s in ("done", "failed")))
        for kind, by_state in sorted(kinds.items()):
            print(f"  {kind:<8} " + "  ".join(f"{s}: {n}" for s, n in sorted(by_state.items())))
        failed = journal.files(state="failed", limit=5)
        if failed:
            print("recent failures:")
            for f in failed:
                print(f"  #{f.id} {f.name!r}: {f.error_kind}: {f.reason}")
    finally:
        journal.close()
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    if _engine_running(config):
        from .remote_cli import retry_via_api

        return retry_via_api(config, args.ids, args.all_failed)
    journal = _open_journal(config)
    try:
        ids = journal.failed_ids() if args.all_failed else args.ids
        moved = journal.request_retry(ids)
    finally:
        journal.close()
    done = {fid for fid, _, _ in moved}
    for fid in ids:
        if fid not in done:
            print(f"#{fid}: not found or not failed", file=sys.stderr)
    print(f"{len(done)} file(s) queued for retry; the engine processes them when it next starts")
    return 0 if done or not ids else 1


def cmd_files(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    journal = _open_journal(config)
    try:
        for f in journal.files(state=args.state, kind=args.kind, q=args.q, limit=args.limit):
            print(json.dumps(to_dict(f)) if args.json else f"#{f.id}\t{f.state}\t{f.kind or '-'}\t{f.name}")
    finally:
        journal.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chute", description="a drop-folder engine with a terminal console")
    parser.add_argument("--version", action="version", version=f"chute {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("init", help="write a commented chute.toml and the folders")
    p.add_argument("dir", nargs="?", default=".", type=Path)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("engine", help="run the engine headless until SIGTERM/SIGINT")
    add_engine_args(p)
    p.set_defaults(func=run_engine)

    p = sub.add_parser("status", help="counts and recent failures from the journal")
    add_location_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("files", help="list files from the journal, newest first")
    add_location_args(p)
    p.add_argument("--state")
    p.add_argument("--kind")
    p.add_argument("-q", help="name contains")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_files)

    p = sub.add_parser("retry", help="put failed files back through the pipeline")
    add_location_args(p)
    p.add_argument("ids", nargs="*", type=int, metavar="ID")
    p.add_argument("--all-failed", action="store_true")
    p.set_defaults(func=cmd_retry)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "retry" and not args.ids and not args.all_failed:
        parser.error("retry needs file ids or --all-failed")
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"chute: config error: {exc}", file=sys.stderr)
        return 2
    except JournalError as exc:
        print(f"chute: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
