"""`Monitor(app)`: the whole request-monitoring system for any Flask app.

    from chute.engine.monitor import Monitor
    monitor = Monitor(app)                  # or Monitor().init_app(app)
    monitor.collector.endpoints()           # the data the routes serve

Out of the box: /monitoring/stats, /monitoring/requests, /monitoring/endpoints and /health in the
original Flask monitoring extension's shapes (routes.py, shapes.py), its alert routes under
/api/alerts, and chute's own view under /monitoring/chute/ (what `chute attach` reads). With
`alerts=True`, `discord={...}` or `email={...}` (or the CHUTE_MONITOR_* keys of app.config) the
app also gets alerts, a scheduled report and an alert centre (app_services.py); `token=True`
requires the engine's bearer token on every route but /health.

Timing is one thin WSGI wrapper around the app; the route is the matched url_rule's template (raw
paths never become keys, so a scanner cannot grow memory).
"""

from __future__ import annotations

from pathlib import Path
from time import perf_counter
from typing import Any

from flask import Flask, request
from flask.signals import got_request_exception

from ..model import Health
from . import routes, shapes
from .app_services import FOLDER, AppServices, app_config
from .collector import UNMATCHED, Collector, HealthThresholds
from .shapes import HealthLevels

_CTX = "chute.monitor.ctx"
_EXC = "chute.monitor.exc"
_STATUS = {"healthy": "pass", "warning": "warn", "degraded": "fail"}


class Monitor:
    def __init__(
        self,
        app: Flask | None = None,
        *,
        collector: Collector | None = None,
        add_routes: bool = True,
        prefix: str = "/monitoring",
        health_route: str | None = "/health",
        health: str | None = None,
        levels: HealthLevels | None = None,
        thresholds: HealthThresholds = HealthThresholds(),
        token: bool | None = None,
        alerts: bool | None = None,
        discord: dict[str, Any] | None = None,
        email: dict[str, Any] | None = None,
        report: str | None = None,
        rules: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        """health: "original" (healthy/warning/degraded, always 200) or "json" (health+json with
        checks, 503 on fail). levels: the original health's error-rate levels. token: require the
        bearer token (CHUTE_TOKEN, else generated into <instance>/chute/token). alerts: the alert
        centre and health / error-burst alerts; discord / email: the [discord] / [email] keys of
        chute.toml (secrets from CHUTE_DISCORD_WEBHOOK / CHUTE_SMTP_PASSWORD or their *_file);
        report: when to make (and email) the report, default "monday 09:00"; rules: the [alerts]
        keys. Each falls back to app.config["CHUTE_MONITOR_<NAME>"]."""
        self.collector = collector or Collector()
        self.thresholds = thresholds
        self._add_routes = add_routes
        self.prefix = prefix
        self.health_route = health_route
        self._options = {
            "health": health,
            "levels": levels,
            "token": token,
            "alerts": alerts,
            "discord": discord,
            "email": email,
            "report": report,
            "rules": rules,
            "name": name,
        }
        self.health_format = "original"
        self.levels = HealthLevels()
        self.token: str | None = None
        self.token_where = ""
        self.name = ""
        self.services: AppServices | None = None
        self._start_pending = False
        if app is not None:
            self.init_app(app)

    def _option(self, app: Flask, key: str, default: Any) -> Any:
        value = self._options[key]
        if value is None:
            value = app.config.get(f"CHUTE_MONITOR_{key.upper()}")
        return default if value is None else value

    def _configure(self, app: Flask) -> None:
        self.name = self._option(app, "name", app.name)
        self.health_format = self._option(app, "health", "original")
        if self.health_format not in ("original", "json"):
            raise ValueError(f'Monitor health: must be "original" or "json" (got {self.health_format!r})')
        levels = self._option(app, "levels", HealthLevels())
        self.levels = levels if isinstance(levels, HealthLevels) else HealthLevels(**levels)
        folder = Path(app.instance_path) / FOLDER
        if self._option(app, "token", False):
            from ..server.auth import load_or_create

            folder.mkdir(parents=True, exist_ok=True)
            self.token, _ = load_or_create(folder)
            self.token_where = str(folder / "token")
        discord, email = self._option(app, "discord", None), self._option(app, "email", None)
        if self._option(app, "alerts", False) or discord is not None or email is not None:
            config = app_config(
                Path(app.instance_path),
                self.name,
                discord=discord,
                email=email,
                report=self._option(app, "report", "monday 09:00"),
                rules=self._option(app, "rules", None),
            )
            self.services = AppServices(self.collector, folder, config, self.health)
            self._start_pending = True

    def init_app(self, app: Flask) -> Monitor:
        self._configure(app)
        inner = app.wsgi_app
        make_context = app.request_context
        record = self.collector.record

        def request_context(environ: dict) -> Any:
            # Keep the real request object where the WSGI wrapper can read its url_rule after the
            # context is gone: werkzeug's context-local proxies cost ~0.7 us per attribute, and
            # an after_request hook would need five of them.
            ctx = make_context(environ)
            environ[_CTX] = ctx
            return ctx

        def timed(environ: dict, start_response: Any) -> Any:
            if self._start_pending:
                self.start()
            t0 = perf_counter()
            status = [500]

            def capture(code: str, headers: Any, exc_info: Any = None) -> Any:
                status[0] = int(code[:3])
                return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

            try:
                result = inner(environ, capture)
            except Exception as exc:
                # Propagated (testing or debug mode): the app never answered.
                self._record(environ, 500, perf_counter() - t0, exc)
                raise
            self._record(environ, status[0], perf_counter() - t0, environ.get(_EXC))
            return result

        self._record_fn = record
        app.request_context = request_context
        app.wsgi_app = timed
        got_request_exception.connect(self._on_exception, app, weak=False)
        if self._add_routes:
            app.register_blueprint(routes.dropin(self))
            app.register_blueprint(routes.alert_centre(self))
            app.register_blueprint(routes.chute(self))
        if self.health_route:
            app.register_blueprint(routes.health(self))
        app.extensions["chute_monitor"] = self
        return self

    def _record(self, environ: dict, status: int, duration: float, exc: BaseException | None) -> None:
        # Pop it: environ -> ctx -> request -> environ is a cycle, and cycles wait for the GC.
        ctx = environ.pop(_CTX, None)
        rule = ctx.request.url_rule if ctx is not None else None
        route = rule.rule if rule is not None else UNMATCHED
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "?")
        if exc is None:
            self._record_fn(method, path, route, status, duration)
        else:
            self._record_fn(method, path, route, status, duration, type(exc).__name__, str(exc))

    @staticmethod
    def _on_exception(sender: Flask, exception: BaseException, **extra: Any) -> None:
        request.environ[_EXC] = exception

    # --- health and the app's services -------------------------------------------------------

    def health(self) -> Health:
        """The app's health as health+json checks (what alerts follow): the original's levels
        (healthy/warning/degraded read as pass/warn/fail) unless health="json" was asked for."""
        if self.health_format == "json":
            doc = self.collector.health(self.thresholds)
            return Health(doc["status"], doc["checks"])
        h = shapes.health(self.collector, self.levels)
        status = _STATUS[h["status"]]
        note = f"{h['requests_in_window']} requests in the last {h['window_seconds']:g} s, {h['error_rate']:.1f}% errors"
        check = {
            "status": status,
            "observedValue": h["error_rate"] / 100,
            "observedUnit": "ratio",
            "output": note,
        }
        return Health(status, {"http:errors": [check]})

    def start(self) -> None:
        """Start the alerts, deliveries and report now (otherwise the first request does)."""
        self._start_pending = False
        if self.services is not None:
            self.services.start()

    def stop(self) -> None:
        self._start_pending = False
        if self.services is not None:
            self.services.stop()
