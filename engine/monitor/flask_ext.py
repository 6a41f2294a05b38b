"""`Monitor(app)`: request metrics for any Flask app, per route template.

    from chute.engine.monitor import Monitor
    monitor = Monitor(app)                  # or Monitor().init_app(app)
    monitor.collector.endpoints()           # the same data the routes below serve

Adds /monitoring/stats, /monitoring/requests, /monitoring/endpoints and /health unless told
not to. Timing is one thin WSGI wrapper around the app; the route is the matched url_rule's
template (raw paths never become keys, so a scanner cannot grow memory).
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from flask.signals import got_request_exception

from .collector import UNMATCHED, Collector, HealthThresholds

_CTX = "chute.monitor.ctx"
_EXC = "chute.monitor.exc"


class Monitor:
    def __init__(
        self,
        app: Flask | None = None,
        *,
        collector: Collector | None = None,
        add_routes: bool = True,
        prefix: str = "/monitoring",
        health_route: str | None = "/health",
        thresholds: HealthThresholds = HealthThresholds(),
    ) -> None:
        self.collector = collector or Collector()
        self.thresholds = thresholds
        self._add_routes = add_routes
        self._prefix = prefix
        self._health_route = health_route
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> Monitor:
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
            app.register_blueprint(self.blueprint())
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

    # --- the routes the original Flask monitoring extension offered ----------------------------

    def blueprint(self) -> Blueprint:
        bp = Blueprint("chute_monitor", __name__)
        c = self.collector

        @bp.get(f"{self._prefix}/stats")
        def stats():
            return jsonify(c.stats())

        @bp.get(f"{self._prefix}/endpoints")
        def endpoints():
            return jsonify({"endpoints": c.endpoints()})

        @bp.get(f"{self._prefix}/requests")
        def requests_():
            limit = request.args.get("limit", "100")
            if not limit.isdigit() or not 1 <= int(limit) <= 1000:
                return jsonify({"error": {"code": "bad_request", "message": "limit must be 1..1000"}}), 400
            return jsonify({"requests": c.recent(int(limit), request.args.get("route"))})

        if self._health_route:

            @bp.get(self._health_route)
            def health():
                doc = c.health(self.thresholds)
                code = 503 if doc["status"] == "fail" else 200
                return jsonify(doc), code, {"Content-Type": "application/health+json"}

        return bp
