"""Secrets for the notifiers: from the environment or a file, never from the config text."""

from __future__ import annotations

import os

from ..config import Config, ConfigError

SMTP_PASSWORD_ENV = "CHUTE_SMTP_PASSWORD"
DISCORD_WEBHOOK_ENV = "CHUTE_DISCORD_WEBHOOK"


def _from(env: str, file_key: str, file_value: str, config: Config) -> str | None:
    value = os.environ.get(env, "").strip()
    if value:
        return value
    if file_value:
        path = config.relative(file_value)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(file_key, f"cannot read {path}: {exc.strerror or exc}") from None
        if not value:
            raise ConfigError(file_key, f"{path} is empty")
        return value
    return None


def smtp_password(config: Config) -> str | None:
    return _from(SMTP_PASSWORD_ENV, "email.password_file", config.email.password_file, config)


def discord_webhook(config: Config) -> str | None:
    url = _from(DISCORD_WEBHOOK_ENV, "discord.webhook_url_file", config.discord.webhook_url_file, config)
    if config.discord.enabled and not url:
        raise ConfigError(
            "discord.enabled",
            f"Discord is enabled but no webhook URL: set {DISCORD_WEBHOOK_ENV} or discord.webhook_url_file",
        )
    if url and not url.startswith(("https://", "http://")):
        raise ConfigError("discord.webhook_url_file", "the webhook URL must start with https://")
    return url


def redact(url: str) -> str:
    """A webhook URL fit for a log line: scheme and host only (the path is the secret)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/…"


class Redact:
    """A logging filter that blanks a secret wherever a third-party library logs it (httpx logs
    every request URL at INFO, and a Discord webhook's URL is the secret)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def filter(self, record) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg = message.replace(self.secret, "<redacted>")
            record.args = ()
        return True


def guard_logs(secret: str) -> None:
    import logging

    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
        if not any(isinstance(f, Redact) and f.secret == secret for f in logger.filters):
            logger.addFilter(Redact(secret))
