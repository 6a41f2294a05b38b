"""`chute engine` / `python -m engine`: run until SIGTERM or SIGINT, then stop cleanly."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from . import logs
from .config import CONFIG_NAME, Config, ConfigError, check_broker, locate
from .engine import Engine, EngineError

log = logging.getLogger("chute")


def add_location_args(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--config",
        "-c",
        type=Path,
        help=f"config file (default: ./{CONFIG_NAME}, $CHUTE_CONFIG, ~/.config/chute/, /etc/chute/)",
    )
    where.add_argument("--root", type=Path, help="use DIR/inbox, DIR/processed, ... with default settings")


def resolve_config(args: argparse.Namespace) -> Config:
    return locate(getattr(args, "config", None), getattr(args, "root", None))


def add_engine_args(parser: argparse.ArgumentParser, location: bool = True) -> None:
    """The engine's options; `location=False` where the caller already offers --config/--root."""
    if location:
        add_location_args(parser)
    parser.add_argument("--host", help="HTTP API address (default from config, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP API port (default from config, 8765; 0 = any free)")
    parser.add_argument("--no-server", action="store_true", help="do not serve the HTTP API")
    parser.add_argument("--broker", help="dispatch [cluster] kinds to `chute worker`s via this broker URL")
    parser.add_argument("--log-format", choices=("text", "json"), help="stderr log format")
    parser.add_argument("--log-level", type=str.upper, choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def engine_config(args: argparse.Namespace) -> Config:
    config = resolve_config(args)
    server = {}
    if args.host:
        server["host"] = args.host
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise ConfigError("--port", f"must be between 0 and 65535 (got {args.port})")
        server["port"] = args.port
    if args.no_server:
        server["enabled"] = False
    log_cfg = {}
    if args.log_format:
        log_cfg["format"] = args.log_format
    if args.log_level:
        log_cfg["level"] = args.log_level
    import dataclasses

    cluster = config.cluster
    if args.broker:
        check_broker(args.broker, "--broker")
        cluster = dataclasses.replace(cluster, broker=args.broker)
    if cluster.broker and args.no_server:
        raise ConfigError(
            "--no-server", "workers reach the engine over its HTTP API: a cluster needs the server"
        )
    return config.replace(
        server=dataclasses.replace(config.server, **server),
        log=dataclasses.replace(config.log, **log_cfg),
        cluster=cluster,
    )


def build_engine(config: Config) -> Engine:
    engine = Engine(config)
    if config.server.enabled:
        from .server import ServerService

        engine.add_service(ServerService(engine))
    return engine


def announce_server(engine: Engine) -> None:
    """Say where the API is and how to get the token, without ever logging the token itself."""
    if not engine.config.server.enabled:
        return
    from .server import ServerService

    server = engine.service(ServerService)
    if server is None:
        return
    if server.token_source == "env":
        log.info("API on %s; token from CHUTE_TOKEN", server.url)
    else:
        log.info(
            "API on %s; token in %s: export CHUTE_TOKEN=$(cat %s)",
            server.url,
            server.token_source,
            server.token_source,
        )
    if sys.stderr.isatty():
        # A terminal is not a log, but argv is public (`ps`): point at the file, never the value.
        if server.token_source == "env":
            hint = f"CHUTE_TOKEN=... chute attach {server.url}"
        else:
            hint = f"chute attach {server.url} --token-file {server.token_source}"
        print(f"\n  {hint}\n", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        config = engine_config(args)
    except ConfigError as exc:
        print(f"chute: config error: {exc}", file=sys.stderr)
        return 2
    logs.setup(config.log.level, config.log.format)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    engine = build_engine(config)
    try:
        engine.start()
    except (EngineError, ConfigError, OSError) as exc:
        print(f"chute: cannot start: {exc}", file=sys.stderr)
        engine.stop()
        return 1
    log.info("engine %s running; inbox %s", config.name, config.paths.inbox)
    announce_server(engine)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        engine.stop()
        log.info("stopped cleanly")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="run the chute engine headless")
    add_engine_args(parser)
    return run(parser.parse_args(argv))
