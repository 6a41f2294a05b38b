"""Request metrics for any Flask app: `Monitor(app)`. Also instruments chute's own server."""

from .collector import Collector, HealthThresholds
from .flask_ext import Monitor
from .shapes import HealthLevels
from .sketch import Sketch

__all__ = ["Collector", "HealthLevels", "HealthThresholds", "Monitor", "Sketch"]
