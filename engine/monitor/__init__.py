"""Request metrics for any Flask app: `Monitor(app)`. Also instruments chute's own server."""

from .collector import Collector, HealthThresholds
from .flask_ext import Monitor
from .sketch import Sketch

__all__ = ["Collector", "HealthThresholds", "Monitor", "Sketch"]
