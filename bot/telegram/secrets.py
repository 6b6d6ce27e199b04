"""The bot's secrets: the token and the webhook secret read from the environment (never shown
in an error), and kept out of every log line in every form they take."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from bot.config import ConfigError, TelegramSettings

# <bot id>:<secret>, as @BotFather hands it out (the secret is 35 characters today).
TOKEN_PATTERN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{30,100}")
# What Telegram accepts as a webhook secret token.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")


# --------------------------------------------------------------------------- secrets


def read_token(settings: TelegramSettings, environ: Mapping[str, str] | None = None) -> str:
    """The bot token from the environment; ConfigError (never showing the value) if unusable."""
    env = os.environ if environ is None else environ
    name = settings.token_env
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"environment variable {name} is not set: put the bot token from @BotFather there"
        )
    if not TOKEN_PATTERN.fullmatch(value):
        raise ConfigError(
            f"environment variable {name} does not hold a bot token "
            "(expected <digits>:<letters, digits, '-' and '_'>, as @BotFather gives it)"
        )
    return value


def read_webhook_secret(
    settings: TelegramSettings, environ: Mapping[str, str] | None = None
) -> str:
    """The webhook secret token (checked on every incoming update) from the environment."""
    env = os.environ if environ is None else environ
    name = settings.webhook.secret_token_env
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"environment variable {name} is not set: webhook mode needs a secret token "
            "(1-256 characters A-Z, a-z, 0-9, '-' and '_')"
        )
    if not SECRET_PATTERN.fullmatch(value):
        raise ConfigError(
            f"environment variable {name}: a webhook secret token is 1-256 characters "
            "A-Z, a-z, 0-9, '-' and '_'"
        )
    return value


def check_webhook_settings(settings: TelegramSettings) -> None:
    if settings.mode == "webhook" and not settings.webhook.public_url:
        raise ConfigError(
            "key 'telegram.webhook.public_url': required in webhook mode "
            "(the https URL Telegram posts updates to)"
        )


# --------------------------------------------------------------------------- log redaction


# Anything shaped like a bot token, in either case: python-telegram-bot capitalises an API error's
# description, which lower-cases a token quoted in it ("Path /bot123:aah-..."), and a token of
# another bot is a secret too. In a URL the colon may be percent-encoded, once or twice
# ("/bot123%3AAAH.../sendMessage").
TOKEN_SHAPE = re.compile(
    r"(?<![0-9A-Za-z_-])\d{1,20}(?::|%3A|%253A)[A-Za-z0-9_-]{30,100}(?![A-Za-z0-9_-])",
    re.IGNORECASE,
)


class SecretRedactor(logging.Filter):
    """Replaces secrets in a record's message, arguments and traceback text: the registered
    ones in any case, and every token-shaped string.

    Installed as the log record factory's last step, so every record of every logger is clean
    before any handler (ours, pytest's, a library's) sees it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: dict[str, tuple[re.Pattern[str], str]] = {}

    def add(self, secret: str, label: str) -> None:
        if secret:
            self._secrets[secret] = (re.compile(re.escape(secret), re.IGNORECASE), label)

    def redact(self, text: str) -> str:
        for pattern, label in self._secrets.values():
            text = pattern.sub(label, text)
        return TOKEN_SHAPE.sub("<redacted-token>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        clean = self.redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.redact(
                record.exc_text or logging.Formatter().formatException(record.exc_info)
            )
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REDACTOR = SecretRedactor()
_factory_installed = False


def redact_secrets(token: str, webhook_secret: str | None = None) -> None:
    """Keep the token (and webhook secret) out of every log line, from now on.

    httpx logs each request URL, which holds the token, at INFO: its loggers go to WARNING.
    """
    global _factory_installed
    REDACTOR.add(token, "<redacted-token>")
    # Its secret part alone too: whatever the bot id and the colon became in a URL or a message.
    REDACTOR.add(token.partition(":")[2], "<redacted-token>")
    if webhook_secret:
        REDACTOR.add(webhook_secret, "<redacted-secret>")
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        REDACTOR.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True
