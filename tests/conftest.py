"""Shared fixtures: real engines on real folders under tmp_path (helpers are in helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import test_config

from chute.engine import Engine


@pytest.fixture
def make_engine(tmp_path: Path):
    engines: list[Engine] = []

    def make(root: Path | None = None, registry=None, **sections) -> Engine:
        engine = Engine(test_config(root or tmp_path / "root", **sections), registry=registry)
        engine.start()
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop()


@pytest.fixture
def engine(make_engine) -> Engine:
    return make_engine()
