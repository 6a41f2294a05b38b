"""Shared fixtures: real engines on real folders under tmp_path (helpers are in helpers.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trustme
from helpers import served_engine, test_config

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


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    """A local certificate authority (trustme) for TLS servers under test."""
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    authority.path = str(path)
    return authority


@pytest.fixture
def served(tmp_path):
    """An engine serving its API on a loopback port, and an httpx client holding its token."""
    engine = served_engine(tmp_path / "root")
    server = engine.server
    client = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
    )
    yield engine, server, client
    client.close()
    engine.stop()
