"""A small Flask app with well-known behaviours, instrumented by the monitor: `chute demo` drives
it so the request screens have something to show, and it is the monitor's own example.

    python -m chute.engine.monitor.demo_app      # serves on 127.0.0.1:5005
"""

from __future__ import annotations

import random
import time

from flask import Flask, abort

from .flask_ext import Monitor


def create_demo_app(monitor: Monitor | None = None, slow_range: tuple[float, float] = (1.0, 3.0)) -> Flask:
    app = Flask("chute-demo")

    @app.get("/test/normal")
    def normal():
        time.sleep(random.uniform(0.002, 0.02))
        return {"ok": True}

    @app.get("/test/slow")
    def slow():
        time.sleep(random.uniform(*slow_range))
        return {"ok": True, "slow": True}

    @app.get("/test/error")
    def error():
        raise RuntimeError("the demo route failed on purpose")

    @app.get("/test/notfound")
    def notfound():
        abort(404)

    @app.get("/test/server-error")
    def server_error():
        return {"error": "service unavailable"}, 503

    @app.get("/test/items/<int:item>")
    def item(item: int):
        return {"item": item}

    (monitor or Monitor()).init_app(app)
    return app


if __name__ == "__main__":
    from waitress import serve

    serve(create_demo_app(), host="127.0.0.1", port=5005)
