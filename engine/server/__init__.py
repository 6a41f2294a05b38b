"""The engine's HTTP server: Flask app factory, auth, metrics, OpenAPI, waitress service."""

from .app import create_app
from .service import ServerService

__all__ = ["ServerService", "create_app"]
