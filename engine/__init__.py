"""chute's headless engine: watch an inbox, process each file by kind, journal every step.

Never imports textual (a test enforces it): this package runs alone on servers. Submodules load
on first use, so `import chute.engine.model` (or a processor child process) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chute import __version__

_EXPORTS = {
    "Config": "config",
    "ConfigError": "config",
    "load": "config",
    "Engine": "engine",
    "EngineError": "engine",
    "samples": None,
}

if TYPE_CHECKING:
    from . import samples
    from .config import Config, ConfigError, load
    from .engine import Engine, EngineError


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _EXPORTS:
        raise AttributeError(f"module 'chute.engine' has no attribute {name!r}")
    module = _EXPORTS[name]
    if module is None:
        return importlib.import_module(f".{name}", __name__)
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = ["Config", "ConfigError", "Engine", "EngineError", "__version__", "load", "samples"]
