"""The `chute worker` command line: options, the worker token, signals."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from .. import logs
from ..config import PipelineConfig
from .broker import ENV as BROKER_ENV
from .broker import broker_url

TOKEN_ENV = "CHUTE_WORKER_TOKEN"


def add_worker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", help=f"broker URL, e.g. redis://host:6379/0 (default: {BROKER_ENV})")
    p.add_argument("--engine", required=True, help="the engine's API, e.g. http://host:8765")
    p.add_argument(
        "--token-file",
        type=Path,
        help=f"file holding the engine's worker token (its state/worker-token; default: {TOKEN_ENV})",
    )
    p.add_argument("--concurrency", type=int, default=2, help="files processed at once (default 2)")
    p.add_argument("--queue", default="chute", help="the engine's [cluster] queue (default chute)")
    p.add_argument("--dir", type=Path, help="working folder (default: a new temporary one)")
    p.add_argument("--name", help="how the engine lists this worker (default: host-pid)")
    p.add_argument(
        "--timeout", type=float, default=PipelineConfig.timeout, help="seconds per file in a child process"
    )
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def _token(args: argparse.Namespace) -> str:
    if args.token_file:
        try:
            token = args.token_file.read_text().strip()
        except OSError as exc:
            raise ValueError(f"--token-file: cannot read {args.token_file}: {exc.strerror or exc}") from None
        if not token:
            raise ValueError(f"--token-file: {args.token_file} is empty")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ValueError(f"a worker needs the engine's worker token: --token-file FILE or {TOKEN_ENV}")
    return token


def run_worker(args: argparse.Namespace, registry=None) -> int:
    try:
        token = _token(args)
        broker = broker_url(args.broker or "")
        if not broker:
            raise ValueError(f"--broker: give the broker URL (or set {BROKER_ENV})")
        if not 1 <= args.concurrency <= 256:
            raise ValueError(f"--concurrency: must be between 1 and 256 (got {args.concurrency})")
        import dramatiq  # noqa: F401
    except ValueError as exc:
        print(f"chute: {exc}", file=sys.stderr)
        return 2
    except ImportError:
        print("chute: `chute worker` needs the cluster extra: pip install 'chute[cluster]'", file=sys.stderr)
        return 2
    from .worker import ClusterWorker, WorkerOptions

    logs.setup(args.log_level)
    options = WorkerOptions(
        broker=broker,
        engine=args.engine if "://" in args.engine else "http://" + args.engine,
        token=token,
        concurrency=args.concurrency,
        queue=args.queue,
        folder=args.dir,
        timeout=args.timeout,
        **({"name": args.name} if args.name else {}),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return ClusterWorker(options, registry).run(stop)
