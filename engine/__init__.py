"""chute's headless engine: watch an inbox, process each file by kind, journal every step.

Never imports textual (a test enforces it): this package runs alone on servers.
"""

__version__ = "0.1.0"

from .config import Config, ConfigError, load
from .engine import Engine, EngineError

__all__ = ["Config", "ConfigError", "Engine", "EngineError", "__version__", "load"]
