"""The `chute` command. Console commands import textual lazily (it is the `console` extra), so
`chute engine` on a server never loads it — or needs it installed.

Options: every subcommand is made by `command()`, which gives it the shared options (--config/-c,
--root, --url, --readonly) so they work before or after the subcommand's name, as in git or
docker; given on both sides, the later one wins. A new subcommand elsewhere needs only
`p = command(sub, "name", func, "help", changes=...)` in build_parser.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from chute.engine import Engine, EngineError, __version__
from chute.engine.cluster.command import add_worker_args, run_worker
from chute.engine.config import CONFIG_NAME, Config, ConfigError, init, locate
from chute.engine.endpoint import lookup as api_url
from chute.engine.engine import MAX_PAGE
from chute.engine.headless import add_engine_args
from chute.engine.headless import run as run_engine
from chute.engine.model import STATES, to_dict
from chute.engine.printable import printable, printable_lines

from . import completion
from .check_cli import add_check_options, run_check

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_CONSOLE = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_PIPE = 130, 141  # as a shell reports SIGINT and SIGPIPE
CONSOLE_MISSING = (
    "the console is not installed: pip install 'chute[console]' (pipx: pipx install 'chute[console]')"
)


def _open_journal(config: Config) -> Engine:
    """The engine's API over its journal alone (the engine is not running)."""
    try:
        return Engine.open_journal(config)
    except EngineError as exc:
        if config.paths.journal.exists():
            raise
        raise ConfigError("paths.state", str(exc)) from None


def _config(args: argparse.Namespace) -> Config:
    return locate(args.config, args.root)


def _api(args: argparse.Namespace, config: Config | None):
    """The running engine's API (remote_cli.Api), or None when none is served for this root.

    --url wins; else the URL a running engine wrote into state/api.json. An engine that runs with
    --no-server has no URL there: the caller then works on the root directly or says why not.
    """
    from .remote_cli import Api

    if args.url:
        return Api(args.url, config)
    if config is not None and Engine.running_on(config):
        url = api_url(config.paths.state)
        return Api(url, config) if url else None
    return None


def _config_unless_url(args: argparse.Namespace) -> Config | None:
    """With --url the root is optional (its state/token is only a fallback for CHUTE_TOKEN)."""
    try:
        return _config(args)
    except ConfigError:
        if args.url:
            return None
        raise


def cmd_init(args: argparse.Namespace) -> int:
    # `chute --root DIR init` means DIR: the one command allowed to create a root
    target, created = init(args.dir or args.root or Path("."))
    if created:
        print(f"wrote {target}; drop files into {target.parent / 'inbox'} and run `chute engine -c {target}`")
    else:
        print(f"kept the existing {target} (not overwritten); its folders are in place")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    config = _config(args)
    counts = dict.fromkeys(STATES, 0)
    kinds: dict[str, dict[str, int]] = {}
    failed = []
    workers: list = []
    if config.paths.journal.exists():  # a fresh root has no journal yet: all zeros
        engine = _open_journal(config)
        try:
            snap = engine.snapshot()
            counts, kinds = snap.counts, snap.kinds
            failed = engine.files(state="failed", limit=5).items
            workers = engine.workers()
        finally:
            engine.stop()
    running = Engine.running_on(config)
    if args.json:
        print(json.dumps({"running": running, "counts": counts, "kinds": kinds, "workers": to_dict(workers)}))
        return EXIT_OK
    print(f"chute {__version__} — {config.paths.root} — engine {'running' if running else 'not running'}")
    print("  " + "  ".join(f"{s}: {n}" for s, n in counts.items() if n or s in ("done", "failed")))
    for kind, by_state in sorted(kinds.items()):
        print(f"  {kind:<8} " + "  ".join(f"{s}: {n}" for s, n in sorted(by_state.items())))
    for w in workers:
        print(
            f"  worker {w.name} on {w.host}: {'up' if w.alive else 'silent'}, {w.in_flight} in flight, "
            f"{w.done} done, {w.failed} failed, last seen {time.time() - w.last_seen:.0f}s ago"
        )
    if failed:
        print("recent failures:")
        for f in failed:
            print(f"  #{f.id} {printable(f.name)}: {f.error_kind}: {printable(f.reason)}")
    return EXIT_OK


def cmd_retry(args: argparse.Namespace) -> int:
    config = _config_unless_url(args)
    api = _api(args, config)
    if api is not None:
        from .remote_cli import retry_via_api

        return retry_via_api(api, args.ids, args.all_failed)
    if Engine.running_on(config):
        print(
            f"chute: the engine on {config.paths.root} serves no API (--no-server), so it cannot take a "
            "retry while it runs; stop it and retry (it retries them at its next start), or serve its API",
            file=sys.stderr,
        )
        return EXIT_FAILED
    engine = _open_journal(config)
    try:
        result = engine.retry_failed() if args.all_failed else engine.retry(args.ids)
    finally:
        engine.stop()
    for fid, why in result.skipped.items():
        print(f"#{fid}: {why}", file=sys.stderr)
    print(f"{len(result.retried)} file(s) queued for retry; the engine processes them when it next starts")
    return EXIT_OK if result.retried or not result.skipped else EXIT_FAILED


def cmd_backup(args: argparse.Namespace) -> int:
    from chute.engine.backup import BackupError, Backups, verify
    from chute.engine.joblock import JobBusy, exclusive

    if args.verify:
        problems = verify(args.verify)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print(f"{args.verify}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        return EXIT_OK if not problems else EXIT_FAILED
    config = _config_unless_url(args)
    api = _api(args, config)
    if api is not None:
        from .remote_cli import run_job_via_api

        return run_job_via_api(api, "backup", config.paths.backups if config else None)
    # No engine, or one without an API: back up here, under the lock the engine's own backups take.
    try:
        with exclusive(config.paths.state, "backup"):
            result = Backups(config.paths, config.backup).run()
    except (BackupError, JobBusy, OSError) as exc:
        print(f"chute: backup failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{result.message}; in {config.paths.backups}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from chute.engine.backup import BackupError, restore

    try:
        done = restore(args.archive, args.to)
    except BackupError as exc:
        print(f"chute: restore failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"restored {done['files']} files and the journal from {' + '.join(done['chain'])} into {done['root']}"
    )
    print(f"start an engine on it with: chute engine --root {done['root']}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """The report asked for (--hours, ending now) made here from the journal, which a running engine
    shares safely (SQLite WAL); only an explicit --url asks a remote engine for its own report."""
    from chute.engine import report

    if args.url and not (args.config or args.root):
        from .remote_cli import Api, run_job_via_api

        if args.hours is not None:
            print(
                "chute: --hours needs the journal: run `chute report` on the engine's machine",
                file=sys.stderr,
            )
            return EXIT_USAGE
        return run_job_via_api(Api(args.url, None), "report")
    config = _config(args)
    if not config.paths.journal.exists():
        print(f"chute: nothing to report: no engine has run on {config.paths.root} yet", file=sys.stderr)
        return EXIT_FAILED
    hours = 24.0 if args.hours is None else args.hours
    if not 0 < hours <= 24 * 366:
        raise ConfigError("--hours", f"must be more than 0 and at most a year of hours (got {hours:g})")
    engine = _open_journal(config)  # the journal alone, even beside a running engine (SQLite WAL)
    try:
        now = time.time()
        doc = report.build(engine, since=now - hours * 3600, until=now)
        saved = report.save(doc, config.paths.archive)
    finally:
        engine.stop()
    print(printable_lines(report.render_text(doc)))
    print("saved " + ", ".join(str(p) for p in saved.values()))
    return EXIT_OK


def cmd_files(args: argparse.Namespace) -> int:
    config = _config(args)
    if not config.paths.journal.exists():
        return EXIT_OK  # a fresh root: no files yet
    engine = _open_journal(config)
    try:
        left, before = args.limit, None
        while left > 0:  # --limit may exceed one API page
            page = engine.files(
                state=args.state, kind=args.kind, q=args.q, limit=min(left, MAX_PAGE), before=before
            )
            for f in page.items:
                print(
                    json.dumps(to_dict(f))
                    if args.json
                    else f"#{f.id}\t{f.state}\t{f.kind or '-'}\t{printable(f.name)}"
                )
            left -= len(page.items)
            if page.next_before is None:
                break
            before = page.next_before
    finally:
        engine.stop()
    return EXIT_OK


def cmd_config_help(args: argparse.Namespace) -> int:
    print("usage: chute config check [--config FILE | --root DIR]", file=sys.stderr)
    return EXIT_USAGE


def cmd_config_check(args: argparse.Namespace) -> int:
    """Everything the engine checks at start that can be checked without starting it."""
    config = _config(args)
    problems = []
    if not config.paths.root.is_dir():
        problems.append(f"paths.root: {config.paths.root} does not exist (`chute init` creates it)")
    secret_files = [("email.password_file", config.email.enabled, config.email.password_file)]
    secret_files.append(("discord.webhook_url_file", config.discord.enabled, config.discord.webhook_url_file))
    for key, enabled, value in secret_files:
        if enabled and value and not os.access(config.relative(value), os.R_OK):
            problems.append(f"{key}: cannot read {config.relative(value)}")
    if (
        config.discord.enabled
        and not config.discord.webhook_url_file
        and not os.environ.get("CHUTE_DISCORD_WEBHOOK")
    ):
        problems.append("discord.enabled: no webhook: set CHUTE_DISCORD_WEBHOOK or discord.webhook_url_file")
    where = config.source or f"defaults for --root {config.paths.root}"
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    if problems:
        print(f"{where}: {len(problems)} problem(s)")
        return EXIT_USAGE
    api = f"{config.server.host}:{config.server.port}" if config.server.enabled else "off"
    print(f"{where}: OK (root {config.paths.root}, API {api}, log level {config.log.level})")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    return run_check(args, _config(args))


def cmd_completion(args: argparse.Namespace) -> int:
    print(completion.script(build_parser(), args.shell), end="")
    return EXIT_OK


def _console_installed() -> bool:
    return importlib.util.find_spec("textual") is not None


def _console_logging(log_file: Path) -> None:
    """The console owns the terminal: the embedded engine logs to a file instead."""
    import logging

    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    from chute.engine.logs import text_formatter

    handler.setFormatter(text_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _embedded_console(
    start: Callable[[], None], stop: Callable[[], None], engine: Engine, root: Path, readonly: bool
) -> int:
    """Start something that runs an engine, show the console on it, and stop it however we leave."""
    from .app import ChuteApp
    from .source import LocalSource

    try:
        start()
    except Exception as exc:
        taken = "already in use" in str(exc) or getattr(exc, "errno", None) == errno.EADDRINUSE
        hint = " (another engine there? --port N picks another, --port 0 any free one, --no-server none)"
        print(f"chute: cannot start: {exc}{hint if taken else ''}", file=sys.stderr)
        stop()
        return 1
    try:
        ChuteApp(
            [LocalSource(engine)],
            readonly=readonly,
            roots=[str(root)],
            feed_options={"wait": 1.0},
        ).run()
    finally:
        stop()
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from chute.engine.headless import build_engine

    if not _console_installed():
        print(f"chute: {CONSOLE_MISSING}; `chute engine` runs without it", file=sys.stderr)
        return EXIT_NO_CONSOLE
    config = _config(args)
    if args.port is not None or args.no_server:
        import dataclasses

        server = {"enabled": False} if args.no_server else {"port": args.port}
        config = config.replace(server=dataclasses.replace(config.server, **server))
    _console_logging(config.paths.state / "console.log")
    engine = build_engine(config)
    return _embedded_console(engine.start, engine.stop, engine, config.paths.root, args.readonly)


def cmd_attach(args: argparse.Namespace) -> int:
    if not _console_installed():
        print(f"chute: {CONSOLE_MISSING}", file=sys.stderr)
        return EXIT_NO_CONSOLE
    from .app import ChuteApp
    from .engines import EnginesError, resolve
    from .source import RemoteSource

    try:
        targets = resolve(args.targets, args.engines, args.token_file, args.token)
    except EnginesError as exc:
        print(f"chute: attach: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sources = [RemoteSource(t.url, t.token, name=t.name) for t in targets]
    app = ChuteApp(sources, readonly=args.readonly)
    app.run()
    return app.return_code or 0  # a crash is not a success


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import Demo, run_headless

    headless = args.headless
    if headless is None and not _console_installed():
        print(f"chute: {CONSOLE_MISSING}; showing the demo as text until Ctrl-C", file=sys.stderr)
        headless = math.inf
    demo = Demo(args.dir, port=args.port, seed=args.seed)
    if headless is None:
        _console_logging(demo.config.paths.state / "console.log")
        return _embedded_console(demo.start, demo.stop, demo.engine, demo.root, args.readonly)
    from chute.engine import logs

    logs.setup("WARNING")
    # The demo's bad files fail on purpose and its status lines count them: no line for each.
    logs.files_log.setLevel("ERROR")
    try:
        demo.start()
    except Exception as exc:
        print(f"chute: cannot start the demo: {exc}", file=sys.stderr)
        demo.stop()
        return 1
    try:
        print(f"demo workspace {demo.root}; API {demo.server.url}; demo app {demo.demo_app.url}", flush=True)
        run_headless(demo, headless)
    finally:
        demo.stop()
    return 0


def add_shared_options(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """--config/-c, --root, --url and --readonly, for the top level and every subcommand.

    Below the top level they default to SUPPRESS: an option left out after the subcommand's name
    keeps what was given before it, so `chute --root R status` and `chute status --root R` agree.
    """
    unset = {} if top else {"default": argparse.SUPPRESS}
    group = parser.add_argument_group("options of every command (before or after its name)")
    group.add_argument(
        "--config",
        "-c",
        type=Path,
        metavar="FILE",
        help=f"config file (default: ./{CONFIG_NAME}, $CHUTE_CONFIG, ~/.config/chute/, /etc/chute/)",
        **unset,
    )
    group.add_argument(
        "--root", type=Path, metavar="DIR", help="an existing DIR with default settings (no config)", **unset
    )
    group.add_argument(
        "--url",
        metavar="URL",
        help="a running engine's API (default: the URL it wrote in state/api.json)",
        **unset,
    )
    group.add_argument(
        "--readonly",
        action="store_true",
        help="refuse anything that changes something; the console shows no actions",
        **unset,
    )


def command(sub, name: str, func, help: str, changes: bool | Callable[[argparse.Namespace], bool] = False):
    """A subcommand with the shared options; `changes` says whether --readonly must refuse it."""
    p = sub.add_parser(name, help=help, description=help)
    add_shared_options(p)
    p.set_defaults(func=func, changes=changes)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chute",
        description="a drop-folder engine with a terminal console; with no command, the console on an "
        "embedded engine (config from ./chute.toml, --config or --root)",
        epilog="exit codes: 0 ok, 1 failed, 2 usage or config error, 3 the console is not installed, "
        "130 interrupted, 141 output pipe closed",
    )
    parser.add_argument("--version", action="version", version=f"chute {__version__}")
    add_shared_options(parser, top=True)
    parser.add_argument("--port", type=int, help="the embedded engine's API port (0: any free one)")
    parser.add_argument("--no-server", action="store_true", help="the embedded engine serves no API")
    parser.set_defaults(func=cmd_console, changes=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = command(sub, "attach", cmd_attach, "console attached to running engines over HTTP, one tab each")
    p.add_argument(
        "targets",
        nargs="+",
        metavar="NAME|URL",
        help="an engine named in the engines file, or a URL such as http://127.0.0.1:8765",
    )
    p.add_argument(
        "--engines",
        type=Path,
        metavar="FILE",
        help="engines file (default: $XDG_CONFIG_HOME/chute/engines.toml)",
    )
    p.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="token for URLs not in the engines file (default: CHUTE_TOKEN)",
    )
    p.add_argument("--token", help=argparse.SUPPRESS)  # still accepted; a file keeps it out of `ps`

    p = command(sub, "demo", cmd_demo, "a throwaway workspace with sample traffic and the console")
    p.add_argument("--dir", type=Path, help="keep the workspace here instead of a temp folder")
    p.add_argument("--port", type=int, default=0, help="API port (default: any free one)")
    p.add_argument("--seed", type=int, help="make the traffic repeatable")
    p.add_argument("--headless", type=float, metavar="SECONDS", help="no console: print status for SECONDS")

    p = command(
        sub, "worker", run_worker, "process files for an engine from this machine (Dramatiq over Redis)"
    )
    add_worker_args(p)

    p = command(sub, "init", cmd_init, "write a commented chute.toml and the folders", changes=True)
    p.add_argument("dir", nargs="?", type=Path, help="the root to create (default: --root, else .)")

    p = command(sub, "engine", run_engine, "run the engine headless until SIGTERM/SIGINT", changes=True)
    add_engine_args(p, location=False)

    p = command(sub, "status", cmd_status, "counts and recent failures from the journal")
    p.add_argument("--json", action="store_true", help="one JSON object: running, counts, kinds")

    p = command(sub, "files", cmd_files, "list files from the journal, newest first")
    p.add_argument("--state", choices=STATES, help="only files in this state")
    p.add_argument("--kind", help="only files of this kind (csv, text, image, pdf, json, ...)")
    p.add_argument("-q", help="name contains")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = command(
        sub,
        "backup",
        cmd_backup,
        "back up processed/ and the journal now (or --verify an archive)",
        changes=lambda args: not args.verify,
    )
    p.add_argument("--verify", type=Path, metavar="ARCHIVE", help="check an archive against its manifest")

    p = command(
        sub,
        "restore",
        cmd_restore,
        "restore processed/ and the journal from a backup into an empty root",
        True,
    )
    p.add_argument("archive", type=Path, metavar="ARCHIVE")
    p.add_argument("--to", type=Path, required=True, metavar="DIR", help="the new root")

    p = command(sub, "report", cmd_report, "make a report now (text, HTML, JSON into archive/)", changes=True)
    p.add_argument("--hours", type=float, help="the period to cover, ending now (default 24)")

    p = command(sub, "retry", cmd_retry, "put failed files back through the pipeline", changes=True)
    p.add_argument("ids", nargs="*", type=int, metavar="ID")
    p.add_argument("--all-failed", action="store_true")

    p = command(sub, "config", cmd_config_help, "check the configuration without starting anything")
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION")
    command(config_sub, "check", cmd_config_check, "load and validate the config; say which file it is")

    p = command(
        sub, "check", cmd_check, "compare the journal with the disk, both ways", changes=lambda a: a.repair
    )
    add_check_options(p)

    p = command(sub, "completion", cmd_completion, "print a shell completion script")
    p.add_argument("shell", choices=completion.SHELLS)
    return parser


def _refused_by_readonly(args: argparse.Namespace) -> bool:
    changes = args.changes(args) if callable(args.changes) else args.changes
    return bool(args.readonly and changes)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "retry" and not args.ids and not args.all_failed:
        parser.error("retry needs file ids or --all-failed")
    if _refused_by_readonly(args):
        print(f"chute: --readonly refuses `{args.command}`: it changes something", file=sys.stderr)
        return EXIT_USAGE
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at exit
        return code
    except ConfigError as exc:
        print(f"chute: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineError as exc:
        print(f"chute: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:  # an option out of range (--limit)
        print(f"chute: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `chute files | head`: the reader has gone. Point stdout at /dev/null so the interpreter's
        # own flush at exit does not fail again, and exit as a process killed by SIGPIPE would.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE


if __name__ == "__main__":
    sys.exit(main())
