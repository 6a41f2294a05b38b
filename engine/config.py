"""Configuration: chute.toml, read with tomllib and validated key by key.

Every problem is reported as a ConfigError that names the key, so the operator sees
`watcher.min_age: must be >= 0 (got -1)` instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_NAME = "chute.toml"
DEFAULT_IGNORE = (".*", "*.tmp", "*.part", "*.crdownload", "~$*")
FOLDERS = ("inbox", "processed", "failed", "archive", "backups", "state")


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def _opt(
    default: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple = (),
    unit: str = "",
    doc: str = "",
):
    meta = {"min": min, "max": max, "choices": choices, "unit": unit, "doc": doc}
    if isinstance(default, list | tuple):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Paths:
    root: Path
    inbox: Path
    processed: Path
    failed: Path
    archive: Path
    backups: Path
    state: Path

    @classmethod
    def under(cls, root: Path) -> Paths:
        root = Path(root).absolute()
        return cls(root=root, **{name: root / name for name in FOLDERS})

    @property
    def journal(self) -> Path:
        return self.state / "journal.sqlite"

    @property
    def lock(self) -> Path:
        """Held (flock) by the running engine: one engine per root."""
        return self.state / "engine.lock"

    @property
    def work(self) -> Path:
        """Claimed files wait here, named by journal id, until placed."""
        return self.state / "work"

    @property
    def tmp(self) -> Path:
        """Processors' scratch folders; emptied at every start."""
        return self.state / "tmp"

    def outputs(self) -> dict[str, Path]:
        return {name: getattr(self, name) for name in FOLDERS if name != "inbox"}

    def make(self) -> None:
        for name in FOLDERS:
            getattr(self, name).mkdir(parents=True, exist_ok=True)
        self.work.mkdir(exist_ok=True)
        self.tmp.mkdir(exist_ok=True)


@dataclass(frozen=True)
class WatcherConfig:
    scan_interval: float = _opt(
        30.0, min=0.5, unit="seconds", doc="between reconciliation scans of the inbox"
    )
    min_age: float = _opt(
        1.0, min=0.0, unit="seconds", doc="a file without a close event is taken once unchanged this long"
    )
    ignore: tuple[str, ...] = _opt(list(DEFAULT_IGNORE), doc="glob patterns of names left alone")


@dataclass(frozen=True)
class PipelineConfig:
    workers: int = _opt(
        1, min=1, max=64, unit="threads", doc="for small text/json/csv (more only adds GIL contention)"
    )
    isolated_workers: int = _opt(
        2,
        min=1,
        max=64,
        unit="threads",
        doc="each with a child process, for pdf, image, big files and kinds costing over 1 ms a file (CSV)",
    )
    max_attempts: int = _opt(
        3, min=1, max=100, unit="tries", doc="for a transient error (I/O, permission) before failing"
    )
    retry_backoff: float = _opt(2.0, min=0.0, unit="seconds", doc="before the first retry; doubles each time")
    timeout: float = _opt(60.0, min=0.1, unit="seconds", doc="one file may take in a child process")
    memory_limit_mb: int = _opt(2048, min=64, unit="MiB", doc="address-space limit of each child process")
    inline_max_bytes: int = _opt(
        1_048_576, min=0, unit="bytes", doc="text/json/csv up to this size run in-process"
    )
    duplicates: str = _opt("process", choices=("process", "mark"), doc="same sha256 as a processed file")
    csv_formulas: str = _opt(
        "neutralize",
        choices=("neutralize", "keep"),
        doc="cells of the normalized CSV starting with = + - @ tab or CR get a leading ' (OWASP)",
    )
    sidecars: str = _opt(
        "all",
        choices=("all", "failures"),
        doc="which placed files get a sidecar: all (<name>.meta.json beside each processed file) or "
        "failures (.error.txt only; saves a file create per success, but `chute check --repair` "
        "cannot rebuild a lost journal's rows for them)",
    )


@dataclass(frozen=True)
class ServerConfig:
    enabled: bool = _opt(True, doc="serve the HTTP API")
    host: str = _opt("127.0.0.1", doc="address to listen on")
    port: int = _opt(8765, min=0, max=65535, unit="TCP port", doc="0 picks a free port")
    threads: int = _opt(
        8, min=2, max=256, unit="threads", doc="request threads (long polls wait without one)"
    )
    connection_limit: int = _opt(
        1000,
        min=10,
        max=10000,
        unit="connections",
        doc="open connections; near it the longest-idle are closed",
    )


@dataclass(frozen=True)
class LogConfig:
    level: str = _opt("INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), doc="log level (any case)")
    format: str = _opt("text", choices=("text", "json"), doc="text for people, json for machines")


@dataclass(frozen=True)
class ScheduleConfig:
    backup: str = _opt(
        "daily 01:00", doc='when to back up: "daily 01:00", "monday 09:00", "every 6 hours", "" = never'
    )
    retention: str = _opt("daily 02:00", doc="when to clean up old backups, reports and files")
    report: str = _opt("every 24 hours", doc="when to make (and email) a report")


@dataclass(frozen=True)
class BackupConfig:
    keep_days: int = _opt(
        30, min=0, unit="days", doc="delete backup chains older than this (0 = by count only)"
    )
    keep_count: int = _opt(14, min=1, unit="archives", doc="keep at least this many backup archives")
    full_every: int = _opt(7, min=1, unit="backups", doc="a full backup after this many incremental ones")


@dataclass(frozen=True)
class RetentionConfig:
    processed_days: int = _opt(
        0, min=0, unit="days", doc="delete processed originals older than this (0 = keep)"
    )
    failed_days: int = _opt(0, min=0, unit="days", doc="delete failed originals older than this (0 = keep)")
    archive_days: int = _opt(
        90, min=0, unit="days", doc="delete reports in archive/ older than this (0 = keep)"
    )


@dataclass(frozen=True)
class EmailConfig:
    enabled: bool = _opt(False, doc="email reports")
    host: str = _opt("localhost", doc="SMTP server")
    port: int = _opt(587, min=1, max=65535, unit="TCP port", doc="465 for SSL, 587 for STARTTLS")
    security: str = _opt("starttls", choices=("starttls", "ssl", "none"), doc='"none" only if you mean it')
    user: str = _opt("", doc="login name (the password comes from CHUTE_SMTP_PASSWORD or password_file)")
    password_file: str = _opt("", doc="file holding the SMTP password (relative to this config)")
    ca_file: str = _opt("", doc="extra CA bundle to trust (a relay with a private CA)")
    sender: str = _opt("chute@localhost", doc="From address")
    to: tuple[str, ...] = _opt([], doc="recipients")
    timeout: float = _opt(20.0, min=0.5, unit="seconds", doc="before a silent server counts as down")


@dataclass(frozen=True)
class DiscordConfig:
    enabled: bool = _opt(
        False, doc="post alerts to Discord (URL from CHUTE_DISCORD_WEBHOOK or webhook_url_file)"
    )
    webhook_url_file: str = _opt("", doc="file holding the webhook URL (relative to this config)")
    group_wait: float = _opt(
        30.0, min=0.0, unit="seconds", doc="wait this long to gather a new group of alerts"
    )
    group_interval: float = _opt(
        300.0, min=0.0, unit="seconds", doc="then send a group's news at most this often"
    )
    repeat_interval: float = _opt(
        14400.0, min=0.0, unit="seconds", doc="repeat an unresolved alert after this long"
    )
    timeout: float = _opt(10.0, min=0.5, unit="seconds", doc="per webhook call")


@dataclass(frozen=True)
class AlertsConfig:
    http_error_rate: float = _opt(
        0.25, min=0.0, max=1.0, unit="fraction 0-1", doc="alert when this share of requests fail (1 min)"
    )
    http_min_requests: int = _opt(20, min=1, unit="requests", doc="...among at least this many requests")
    check_every: float = _opt(30.0, min=0.1, unit="seconds", doc="between health and HTTP checks")


@dataclass(frozen=True)
class ClusterConfig:
    broker: str = _opt(
        "", doc='dispatch to `chute worker`s through this broker: "redis://host:6379/0" ("" = process here)'
    )
    kinds: tuple[str, ...] = _opt(["pdf", "image"], doc="kinds processed by workers; the rest stay local")
    queue: str = _opt("chute", doc="broker queue name: one per engine when engines share a broker")
    lease: float = _opt(
        30.0, min=1.0, unit="seconds", doc="a worker may go silent before its file is sent again"
    )
    dispatch_timeout: float = _opt(
        600.0, min=1.0, unit="seconds", doc="a dispatched file may wait for a worker before it is sent again"
    )
    max_deliveries: int = _opt(3, min=1, max=100, unit="workers", doc="lost on one file before it fails")
    shared_work: str = _opt(
        "", doc="where workers see this engine's state/work (a shared mount): they read files there"
    )


SECTIONS: dict[str, type] = {
    "watcher": WatcherConfig,
    "pipeline": PipelineConfig,
    "server": ServerConfig,
    "log": LogConfig,
    "schedule": ScheduleConfig,
    "backup": BackupConfig,
    "retention": RetentionConfig,
    "email": EmailConfig,
    "discord": DiscordConfig,
    "alerts": AlertsConfig,
    "cluster": ClusterConfig,
}
# Keys that would put a secret into the config text: refused, with where the secret belongs.
SECRET_KEYS = {
    "email.password": "secrets never live in chute.toml: set CHUTE_SMTP_PASSWORD or email.password_file",
    "discord.webhook_url": "the webhook URL is a secret: set CHUTE_DISCORD_WEBHOOK or discord.webhook_url_file",
    "server.token": "the API token is a secret: set CHUTE_TOKEN or let chute generate state/token",
}


@dataclass(frozen=True)
class Config:
    paths: Paths
    name: str = field(default_factory=socket.gethostname)
    watcher: WatcherConfig = field(default_factory=WatcherConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    log: LogConfig = field(default_factory=LogConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    source: Path | None = None

    def relative(self, value: str) -> Path:
        """A path from the config, relative to the config file (or the root without one)."""
        base = self.source.parent if self.source else self.paths.root
        return (base / os.path.expanduser(value)).absolute()

    @classmethod
    def for_root(cls, root: Path | str, **sections: Any) -> Config:
        """A default config rooted at `root`; keyword args replace whole sections or fields."""
        return build(Paths.under(Path(root)), {}, **sections)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


def _check_value(key: str, value: Any, f: dataclasses.Field) -> Any:
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    meta = f.metadata
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false (got {value!r})")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be a whole number (got {value!r})")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"must be a number (got {value!r})")
        value = float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string (got {value!r})")
        if meta.get("choices"):
            # `level = "debug"` means DEBUG: choices match in any case, stored as spelled here
            folded = {c.lower(): c for c in meta["choices"]}
            if value.lower() not in folded:
                raise ConfigError(key, f"must be one of {', '.join(meta['choices'])} (got {value!r})")
            value = folded[value.lower()]
    elif isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(key, f"must be a list of strings (got {value!r})")
        value = tuple(value)
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(key, f"must be >= {meta['min']} (got {value!r})")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(key, f"must be <= {meta['max']} (got {value!r})")
    return value


def _section(name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(name, f"must be a table ([{name}]), got {table!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        if f"{name}.{key}" in SECRET_KEYS:
            raise ConfigError(f"{name}.{key}", SECRET_KEYS[f"{name}.{key}"])
        if key not in fields:
            raise ConfigError(f"{name}.{key}", f"unknown key (known: {', '.join(fields)})")
        values[key] = _check_value(f"{name}.{key}", value, fields[key])
    return cls(**values)


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def check_layout(paths: Paths) -> None:
    """Refuse layouts where the engine could write into the inbox and re-ingest its own output."""
    inbox = Path(os.path.realpath(paths.inbox))
    for name, path in paths.outputs().items():
        real = Path(os.path.realpath(path))
        if real == inbox or real.is_relative_to(inbox):
            raise ConfigError(
                f"paths.{name}",
                f"{path} lies inside the inbox {paths.inbox}; the engine would re-ingest its own output",
            )
        if inbox.is_relative_to(real):
            raise ConfigError("paths.inbox", f"{paths.inbox} lies inside paths.{name} ({path})")
    outs = list(paths.outputs().items())
    for i, (name_a, a) in enumerate(outs):
        for name_b, b in outs[i + 1 :]:
            if _overlaps(Path(os.path.realpath(a)), Path(os.path.realpath(b))):
                raise ConfigError(f"paths.{name_b}", f"{b} overlaps paths.{name_a} ({a})")


def build(paths: Paths, data: dict[str, Any], source: Path | None = None, **overrides: Any) -> Config:
    known = {"paths", "name", *SECTIONS}
    for key in data:
        if key not in known:
            raise ConfigError(key, f"unknown section or key (known: {', '.join(sorted(known))})")
    sections = {name: _section(name, cls, data.get(name, {})) for name, cls in SECTIONS.items()}
    for name, value in overrides.items():
        if name in SECTIONS and isinstance(value, dict):
            value = dataclasses.replace(sections[name], **value)
        sections[name] = value
    name = data.get("name", socket.gethostname())
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("name", f"must be a non-empty string (got {name!r})")
    check_layout(paths)
    from .schedules import parse_when  # validated here so a typo stops the engine at start

    for job in ("backup", "retention", "report"):
        try:
            parse_when(getattr(sections["schedule"], job))
        except ValueError as exc:
            raise ConfigError(f"schedule.{job}", str(exc)) from None
    if sections["email"].enabled and not sections["email"].to:
        raise ConfigError("email.to", "email is enabled but has no recipients")
    check_broker(sections["cluster"].broker)
    if sections["cluster"].broker and not sections["server"].enabled:
        raise ConfigError(
            "server.enabled", "workers reach the engine over its HTTP API: a cluster needs the server"
        )
    return Config(paths=paths, name=sections.pop("name", name), source=source, **sections)


BROKER_SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://")


def check_broker(url: str, key: str = "cluster.broker") -> None:
    if not url:
        return
    if not url.startswith(BROKER_SCHEMES):
        raise ConfigError(key, f"must start with {', '.join(BROKER_SCHEMES)} (got {url[:40]!r})")
    userinfo = url.split("://", 1)[1].split("/", 1)[0].rpartition("@")[0]
    if ":" in userinfo:
        raise ConfigError(
            key, "the broker password is a secret: put the whole URL in CHUTE_BROKER_URL instead"
        )


def _paths_from(table: Any, base: Path) -> Paths:
    if not isinstance(table, dict):
        raise ConfigError("paths", f"must be a table ([paths]), got {table!r}")
    allowed = ("root", *FOLDERS)
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(f"paths.{key}", f"unknown key (known: {', '.join(allowed)})")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"paths.{key}", f"must be a non-empty path string (got {value!r})")

    def resolve(parent: Path, value: str) -> Path:
        return Path(os.path.normpath(parent / os.path.expanduser(value))).absolute()

    root = resolve(base, table.get("root", "."))
    default = Paths.under(root)
    chosen = {
        name: resolve(root, table[name]) if name in table else getattr(default, name) for name in FOLDERS
    }
    return Paths(root=root, **chosen)


def load(path: Path | str) -> Config:
    """Read and validate a chute.toml; paths in it are relative to the file."""
    path = Path(path).absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "config file not found (create one with `chute init`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read config file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    paths = _paths_from(data.get("paths", {}), path.parent)
    return build(paths, data, source=path)


def default_toml() -> str:
    """The config `chute init` writes: every key commented out at its default, with its unit.

    Commented out, not written in: a key left alone follows the defaults of the installed version,
    so an upgrade's better default applies; uncomment a line to pin or change it.
    """
    lines = [
        "# chute configuration. Paths are relative to this file.",
        "# Every key is optional and shown commented out at its default: uncomment a line to change it.",
        "# Check an edit without starting anything: chute config check -c <this file>",
        "",
        '# name = "my-engine"   # shown in the console header; defaults to the host name',
        "",
        "[paths]",
        '# root = "."',
    ]
    lines += [f'# {name} = "{name}"' for name in FOLDERS]
    for section, cls in SECTIONS.items():
        lines += ["", f"[{section}]"]
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            unit = f.metadata.get("unit")
            lines.append(f"# {f.name}: {f'({unit}) ' if unit else ''}{f.metadata.get('doc', '')}")
            lines.append(f"# {f.name} = {_toml_value(default)}")
    lines += [
        "",
        "# Secrets never live in this file: the API token comes from CHUTE_TOKEN or state/token,",
        "# the SMTP password from CHUTE_SMTP_PASSWORD or email.password_file, the Discord webhook",
        "# from CHUTE_DISCORD_WEBHOOK or discord.webhook_url_file, a broker URL with a password from",
        "# CHUTE_BROKER_URL, and the workers' token from CHUTE_WORKER_TOKEN or state/worker-token.",
        "",
    ]
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return repr(value)


def init(directory: Path | str) -> tuple[Path, bool]:
    """Write a commented chute.toml (unless one exists) and create the folders.

    Returns the config's path and whether it was written (False: an existing file was kept).
    """
    directory = Path(directory).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / CONFIG_NAME
    created = not target.exists()
    if created:
        target.write_text(default_toml(), encoding="utf-8")
    load(target).paths.make()
    return target, created


def search_path(cwd: Path | None = None) -> list[tuple[str, Path]]:
    """Where a config is looked for when neither --config nor --root is given, in order."""
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    places = [("./" + CONFIG_NAME, (cwd or Path.cwd()) / CONFIG_NAME)]
    if os.environ.get("CHUTE_CONFIG"):
        places.append(("CHUTE_CONFIG", Path(os.path.expanduser(os.environ["CHUTE_CONFIG"]))))
    places.append(("$XDG_CONFIG_HOME/chute/" + CONFIG_NAME, home / "chute" / CONFIG_NAME))
    places.append(("/etc/chute/" + CONFIG_NAME, Path("/etc/chute") / CONFIG_NAME))
    return places


def locate(config: Path | None = None, root: Path | None = None) -> Config:
    """The config an operator means: --config, else --root, else the first file on search_path().

    A --root that does not exist is refused rather than built: a typo must not grow a tree.
    """
    if config is not None and root is not None:
        raise ConfigError("--config", "give --config FILE or --root DIR, not both")
    if root is not None:
        if not Path(root).is_dir():
            raise ConfigError(
                "--root", f"{root} is not a directory; create it with `chute init {root}` (or fix the path)"
            )
        return Config.for_root(root)
    if config is not None:
        return load(config)
    places = search_path()
    for label, path in places:
        if label == "CHUTE_CONFIG" or path.exists():
            return load(path)  # CHUTE_CONFIG is explicit: a missing file is an error, not a skip
    looked = ", ".join(str(path) for _, path in places)
    raise ConfigError(
        "--config",
        f"no config found (looked at {looked}); pass --config FILE or --root DIR, or run `chute init`",
    )
