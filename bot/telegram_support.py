"""Plumbing of the Telegram front end: secrets, log redaction, retries, rate limits, state.

Nothing here knows about handlers; `bot.telegram_bot` puts it together.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter

from bot.config import ConfigError, TelegramSettings

log = logging.getLogger("bot.telegram")

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
# another bot is a secret too.
TOKEN_SHAPE = re.compile(r"(?<![0-9A-Za-z_-])\d{1,20}:[A-Za-z0-9_-]{30,100}(?![A-Za-z0-9_-])")


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


# --------------------------------------------------------------------------- sending with retries

# Repeating these is harmless; the others (sendMessage...) might post a message twice.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _never_reached_server(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, _NEVER_SENT):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def is_idempotent(endpoint: str) -> bool:
    """Whether a Bot API method can be repeated without a second visible effect."""
    name = endpoint.lower()
    return not name.startswith(("send", "forward", "copy"))


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter (flood limits, RetryAfter) that also retries network failures, bounded.

    A method that posts something is repeated only if the request provably never reached the
    server (connection refused or timed out): a reply is never sent twice. Typing actions are
    sent once, outside the flood limiter: they are not messages, and a late one is worthless.
    """

    def __init__(self, retries: int, *, backoff: float = 0.5, max_backoff: float = 4.0) -> None:
        super().__init__(max_retries=retries)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint == "sendChatAction":  # cosmetic and short-lived: one try, no flood limit
            return await callback(*args, **kwargs)
        for attempt in range(self.retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except BadRequest:
                raise
            except NetworkError as exc:  # TimedOut is one too
                retry = is_idempotent(endpoint) or _never_reached_server(exc)
                if not retry or attempt == self.retries:
                    raise
                delay = min(self.backoff * 2**attempt, self.max_backoff)
                log.warning(
                    "%s failed (%s: %s); retry %d of %d in %.1f s",
                    endpoint,
                    type(exc).__name__,
                    exc,
                    attempt + 1,
                    self.retries,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- per-user rate limit


class UserRateLimit:
    """At most `count` requests per `seconds` per key (sliding window), bounded memory."""

    def __init__(
        self,
        count: int,
        seconds: float,
        *,
        max_users: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.count = count
        self.seconds = seconds
        self.max_users = max_users
        self.clock = clock
        self._asked: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def acquire(self, user_id: Hashable) -> float:
        """0 and counts the request if the key may go ahead now, else the seconds to wait."""
        now = self.clock()
        times = self._asked.get(user_id)
        if times is None:
            times = self._asked[user_id] = deque()
        self._asked.move_to_end(user_id)
        while times and times[0] <= now - self.seconds:
            times.popleft()
        if len(times) >= self.count:
            return max(times[0] + self.seconds - now, 0.1)
        times.append(now)
        while len(self._asked) > self.max_users:
            self._asked.popitem(last=False)
        return 0.0


class ReplyLimit:
    """Every reply to one sender, not just answers: at most `count` per `seconds`; past that one
    notice per window, then silence. Telegram lets a bot send about 30 messages a second in all,
    so without this one sender's 300 /help made everyone else wait 9 s for an answer."""

    def __init__(
        self,
        count: int,
        seconds: float,
        *,
        max_users: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replies = UserRateLimit(count, seconds, max_users=max_users, clock=clock)
        self.notices = UserRateLimit(1, seconds, max_users=max_users, clock=clock)

    def admit(self, sender: Hashable) -> tuple[str, float]:
        """("reply", 0), ("notice", seconds to wait) once per window, then ("silence", seconds)."""
        wait = self.replies.acquire(sender)
        if not wait:
            return "reply", 0.0
        return ("silence" if self.notices.acquire(sender) else "notice"), wait


# --------------------------------------------------------------------------- "More" state


@dataclass
class PendingQuestion:
    """What a "More" button needs: the chat, the question, all hits, and the next to show."""

    chat_id: int
    question: str
    hits: Sequence[Any]  # the passages; for a timeline, its events
    next_index: int
    timeline: bool = False


class QuestionStore:
    """The latest questions that still have passages to show, oldest evicted first."""

    def __init__(self, max_size: int = 1000) -> None:
        self.max_size = max_size
        self._items: OrderedDict[str, PendingQuestion] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: PendingQuestion) -> str:
        key = secrets.token_urlsafe(6)
        while key in self._items:
            key = secrets.token_urlsafe(6)
        self._items[key] = item
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> PendingQuestion | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def discard(self, key: str) -> None:
        self._items.pop(key, None)
