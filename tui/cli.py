"""The `chute` command. Console commands import textual lazily, so `chute engine` on a server
never loads it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from chute.engine import Engine, EngineError, __version__
from chute.engine.config import Config, ConfigError, init
from chute.engine.headless import add_engine_args, add_location_args, resolve_config
from chute.engine.headless import run as run_engine
from chute.engine.model import to_dict


def _open_journal(config: Config) -> Engine:
    """The engine's API over its journal alone (the engine is not running)."""
    try:
        return Engine.open_journal(config)
    except EngineError as exc:
        if config.paths.journal.exists():
            raise
        raise ConfigError("paths.state", str(exc)) from None


def cmd_init(args: argparse.Namespace) -> int:
    target = init(args.dir)
    print(f"wrote {target}; drop files into {target.parent / 'inbox'} and run `chute engine -c {target}`")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    engine = _open_journal(config)
    try:
        snap = engine.snapshot()
        counts, kinds = snap.counts, snap.kinds
        running = Engine.running_on(config)
        if args.json:
            print(json.dumps({"running": running, "counts": counts, "kinds": kinds}))
            return 0
        print(f"chute {__version__} — {config.paths.root} — engine {'running' if running else 'not running'}")
        print("  " + "  ".join(f"{s}: {n}" for s, n in counts.items() if n or s in ("done", "failed")))
        for kind, by_state in sorted(kinds.items()):
            print(f"  {kind:<8} " + "  ".join(f"{s}: {n}" for s, n in sorted(by_state.items())))
        failed = engine.files(state="failed", limit=5).items
        if failed:
            print("recent failures:")
            for f in failed:
                print(f"  #{f.id} {f.name!r}: {f.error_kind}: {f.reason}")
    finally:
        engine.stop()
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    if Engine.running_on(config):
        from .remote_cli import retry_via_api

        return retry_via_api(config, args.ids, args.all_failed)
    engine = _open_journal(config)
    try:
        result = engine.retry_failed() if args.all_failed else engine.retry(args.ids)
    finally:
        engine.stop()
    for fid, why in result.skipped.items():
        print(f"#{fid}: {why}", file=sys.stderr)
    print(f"{len(result.retried)} file(s) queued for retry; the engine processes them when it next starts")
    return 0 if result.retried or not result.skipped else 1


def cmd_backup(args: argparse.Namespace) -> int:
    from chute.engine.backup import BackupError, Backups, verify

    if args.verify:
        problems = verify(args.verify)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print(f"{args.verify}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        return 0 if not problems else 1
    config = resolve_config(args)
    if Engine.running_on(config):
        from .remote_cli import call

        print(call(config, "POST", "/api/v1/backups").get("message", "backup started in the engine"))
        return 0
    try:
        result = Backups(config.paths, config.backup).run()
    except (BackupError, OSError) as exc:
        print(f"chute: backup failed: {exc}", file=sys.stderr)
        return 1
    print(result.message)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from chute.engine.backup import BackupError, restore

    try:
        done = restore(args.archive, args.to)
    except BackupError as exc:
        print(f"chute: restore failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored {done['files']} files and the journal from {' + '.join(done['chain'])} into {done['root']}"
    )
    print(f"start an engine on it with: chute engine --root {done['root']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from chute.engine import report

    config = resolve_config(args)
    if Engine.running_on(config):
        from .remote_cli import call

        print(call(config, "POST", "/api/v1/reports").get("message", "report started in the engine"))
        return 0
    engine = _open_journal(config)
    try:
        doc = report.build(engine, since=time.time() - args.hours * 3600)
        saved = report.save(doc, config.paths.archive)
    finally:
        engine.stop()
    print(report.render_text(doc))
    print("saved " + ", ".join(str(p) for p in saved.values()))
    return 0


def cmd_files(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    engine = _open_journal(config)
    try:
        for f in engine.files(state=args.state, kind=args.kind, q=args.q, limit=args.limit).items:
            print(json.dumps(to_dict(f)) if args.json else f"#{f.id}\t{f.state}\t{f.kind or '-'}\t{f.name}")
    finally:
        engine.stop()
    return 0


def _console_logging(log_file: Path) -> None:
    """The console owns the terminal: the embedded engine logs to a file instead."""
    import logging

    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _embedded_console(start, stop, engine, root: Path, readonly: bool) -> int:
    """Start something that runs an engine, show the console on it, and stop it however we leave."""
    from .app import ChuteApp
    from .source import LocalSource

    try:
        start()
    except Exception as exc:
        print(f"chute: cannot start: {exc}", file=sys.stderr)
        stop()
        return 1
    try:
        ChuteApp(
            [LocalSource(engine)],
            readonly=readonly,
            roots=[str(root)],
            feed_options={"wait": 1.0, "snapshot_every": 2.0},
        ).run()
    finally:
        stop()
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from chute.engine.headless import build_engine

    config = resolve_config(args)
    _console_logging(config.paths.state / "console.log")
    engine = build_engine(config)
    return _embedded_console(engine.start, engine.stop, engine, config.paths.root, args.readonly)


def cmd_attach(args: argparse.Namespace) -> int:
    import os

    from .app import ChuteApp
    from .source import RemoteSource

    token = args.token or os.environ.get("CHUTE_TOKEN")
    if not token:
        print(
            "chute: attach needs a token: --token TOKEN or CHUTE_TOKEN (the engine's state/token)",
            file=sys.stderr,
        )
        return 2
    sources = []
    for url in args.urls:
        if not url.startswith(("http://", "https://")):
            url = "http://" + url
        sources.append(RemoteSource(url, token))
    ChuteApp(sources, readonly=args.readonly).run()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import Demo, run_headless

    demo = Demo(args.dir, port=args.port, seed=args.seed)
    if args.headless is None:
        _console_logging(demo.config.paths.state / "console.log")
        return _embedded_console(demo.start, demo.stop, demo.engine, demo.root, args.readonly)
    from chute.engine import logs

    logs.setup("WARNING")
    try:
        demo.start()
    except Exception as exc:
        print(f"chute: cannot start the demo: {exc}", file=sys.stderr)
        demo.stop()
        return 1
    try:
        print(f"demo workspace {demo.root}; API {demo.server.url}; demo app {demo.demo_app.url}", flush=True)
        run_headless(demo, args.headless)
    finally:
        demo.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chute",
        description="a drop-folder engine with a terminal console; with no command, the console on an "
        "embedded engine (config from ./chute.toml, --config or --root)",
    )
    parser.add_argument("--version", action="version", version=f"chute {__version__}")
    add_location_args(parser)
    parser.add_argument("--readonly", action="store_true", help="no action that changes anything")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("attach", help="console attached to running engines over HTTP, one tab each")
    p.add_argument("urls", nargs="+", metavar="URL", help="e.g. http://127.0.0.1:8765")
    p.add_argument("--token", help="API token (default: CHUTE_TOKEN)")
    p.add_argument("--readonly", action="store_true", help="no action that changes anything")
    p.set_defaults(func=cmd_attach)

    p = sub.add_parser("demo", help="a throwaway workspace with sample traffic and the console")
    p.add_argument("--dir", type=Path, help="keep the workspace here instead of a temp folder")
    p.add_argument("--port", type=int, default=0, help="API port (default: any free one)")
    p.add_argument("--seed", type=int, help="make the traffic repeatable")
    p.add_argument("--readonly", action="store_true", help="no action that changes anything")
    p.add_argument("--headless", type=float, metavar="SECONDS", help="no console: print status for SECONDS")
    p.set_defaults(func=cmd_demo)

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

    p = sub.add_parser("backup", help="back up processed/ and the journal now (or --verify an archive)")
    add_location_args(p)
    p.add_argument("--verify", type=Path, metavar="ARCHIVE", help="check an archive against its manifest")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore processed/ and the journal from a backup into an empty root")
    p.add_argument("archive", type=Path, metavar="ARCHIVE")
    p.add_argument("--to", type=Path, required=True, metavar="DIR", help="the new root")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("report", help="make a report now (text, HTML, JSON into archive/)")
    add_location_args(p)
    p.add_argument("--hours", type=float, default=24.0, help="the period to cover (default 24)")
    p.set_defaults(func=cmd_report)

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
        args.func = cmd_console
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"chute: config error: {exc}", file=sys.stderr)
        return 2
    except EngineError as exc:
        print(f"chute: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # an option out of range (--limit, --state)
        print(f"chute: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
