"""A Dramatiq broker from a URL: redis:// or rediss:// (Redis), amqp:// or amqps:// (RabbitMQ)."""

from __future__ import annotations

import os
import re

ENV = "CHUTE_BROKER_URL"


def broker_url(configured: str) -> str:
    """CHUTE_BROKER_URL wins over the config, so a password never has to be written in chute.toml."""
    return os.environ.get(ENV, "").strip() or configured


def redact(url: str) -> str:
    """The URL fit for logs: any password replaced."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _middleware() -> list:
    """Dramatiq's defaults without its Prometheus exporter: chute serves its own /metrics, and an
    exporter per worker would fight over one port."""
    from dramatiq.middleware import Prometheus, default_middleware

    return [m() for m in default_middleware if m is not Prometheus]


def make_broker(url: str):
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, middleware=_middleware())
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url, middleware=_middleware())
    raise ValueError(
        f"broker: unsupported URL {redact(url)!r} (use redis://, rediss://, amqp:// or amqps://)"
    )
