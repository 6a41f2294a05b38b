"""Engines by name, each with its own token: the engines file that `chute attach NAME` reads.

    # $XDG_CONFIG_HOME/chute/engines.toml (default ~/.config/chute/engines.toml), or --engines FILE
    [engines.prod]
    url = "https://prod.example.com:8765"
    token_file = "~/.config/chute/prod.token"   # read at attach; relative to this file's folder

    [engines.staging]
    url = "http://10.0.0.7:8765"
    token_env = "STAGING_CHUTE_TOKEN"           # or from the environment

A token never goes in the file itself. A target that is a URL (not a name) takes its token from
the engines file when its URL is listed there, else from --token-file or CHUTE_TOKEN. A Flask app
with Monitor(app) and no token needs none: an entry with only a url, or a URL without a token (a
far side that wants one says so: "token refused (401)").
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

KEYS = ("url", "token_file", "token_env")


class EnginesError(ValueError):
    """A problem with the engines file or a target; the message names the file, engine and key."""


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    token: str = ""


def default_path(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "chute" / "engines.toml"


def load(path: Path, env: Mapping[str, str] = os.environ) -> dict[str, Target]:
    """Every engine in the file, with its token read. A missing file is an empty list."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise EnginesError(f"{path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise EnginesError(f"{path}: not valid TOML: {exc}") from None
    unknown = [k for k in doc if k != "engines"]
    if unknown:
        raise EnginesError(f"{path}: unknown table {unknown[0]!r} (engines go under [engines.NAME])")
    engines = doc.get("engines", {})
    if not isinstance(engines, dict):
        raise EnginesError(f"{path}: `engines` must be tables: [engines.NAME]")
    return {name: _entry(path, name, entry, env) for name, entry in engines.items()}


def _entry(path: Path, name: str, entry: object, env: Mapping[str, str]) -> Target:
    where = f"{path}: engines.{name}"
    if not isinstance(entry, dict):
        raise EnginesError(f"{where}: must be a table with url and token_file or token_env")
    if "token" in entry:
        raise EnginesError(f"{where}.token: a token does not go in this file; use token_file or token_env")
    for key in entry:
        if key not in KEYS:
            raise EnginesError(f"{where}.{key}: unknown key (known: {', '.join(KEYS)})")
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise EnginesError(f"{where}.url: needs an http:// or https:// URL (got {url!r})")
    if "token_file" in entry and "token_env" in entry:
        raise EnginesError(f"{where}: needs one of token_file or token_env, not both")
    if "token_file" not in entry and "token_env" not in entry:
        token = ""  # an open monitored app
    elif "token_file" in entry:
        token_path = Path(str(entry["token_file"])).expanduser()
        if not token_path.is_absolute():
            token_path = path.parent / token_path
        token = read_token_file(token_path, f"{where}.token_file")
    else:
        var = str(entry["token_env"])
        token = env.get(var, "").strip()
        if not token:
            raise EnginesError(f"{where}.token_env: ${var} is not set")
    return Target(name, url.rstrip("/"), token)


def read_token_file(path: Path, what: str) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EnginesError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    if not token:
        raise EnginesError(f"{what}: {path} is empty")
    return token


def url_name(url: str) -> str:
    """host:port, so two engines on one host get two names."""
    parsed = httpx.URL(url)
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host or url


def resolve(
    targets: list[str],
    engines_file: Path | None = None,
    token_file: Path | None = None,
    token: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> list[Target]:
    """Names from the engines file and URLs, in the order given, each with its own token."""
    path = engines_file or default_path(env)
    if engines_file is not None and not engines_file.exists():
        raise EnginesError(f"{engines_file}: no such file")
    known = load(path, env)
    by_url = {t.url: t for t in known.values()}
    out = []
    for target in targets:
        if target in known:
            out.append(known[target])
            continue
        if "://" not in target and ":" not in target and "/" not in target and "." not in target:
            listed = ", ".join(sorted(known)) or f"none: {path} has no engines"
            raise EnginesError(f"no engine named {target!r} in {path} (known: {listed})")
        url = (target if "://" in target else "http://" + target).rstrip("/")
        if url in by_url:
            out.append(by_url[url])
            continue
        secret = (
            read_token_file(token_file, "--token-file")
            if token_file is not None
            else (token or env.get("CHUTE_TOKEN", "")).strip()
        )
        out.append(Target(url_name(url), url, secret))
    names = [t.name for t in out]
    for name in names:
        if names.count(name) > 1:
            raise EnginesError(f"{name!r} is given twice")
    return out
