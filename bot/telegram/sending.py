"""Sending to Telegram: one HTML message (quoting the question in groups), the note of a pressed
button, the "typing…" status, and the retries of a send that failed on the network."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from telegram import (
    CallbackQuery,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, ContextTypes

from bot.ops.metrics import Metrics

log = logging.getLogger("bot.telegram")

TYPING_REPEAT = 4.5  # a typing status lasts about 5 s
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def send(
    context: ContextTypes.DEFAULT_TYPE,
    to: Message,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Message:
    """One HTML message in the chat of `to`; in groups it quotes `to` (if it still exists)."""
    quote = None
    if to.chat.type != ChatType.PRIVATE:
        quote = ReplyParameters(message_id=to.message_id, allow_sending_without_reply=True)
    topic = to.message_thread_id if getattr(to, "is_topic_message", False) else None
    return await context.bot.send_message(
        chat_id=to.chat.id,
        text=text,
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        reply_parameters=quote,
        message_thread_id=topic,
        link_preview_options=NO_PREVIEW,
    )


async def answer_query(query: CallbackQuery, text: str | None = None) -> None:
    try:
        await query.answer(text=text)
    except TelegramError as exc:
        log.warning("could not answer callback query: %s", exc)


async def say(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """A short reply outside the handlers: a message, or the note of a pressed button."""
    if update.callback_query:
        await answer_query(update.callback_query, re.sub(r"<[^>]+>", "", text)[:200])
    elif update.effective_message:
        await send(context, update.effective_message, text)


async def keep_typing(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, first: asyncio.Event
) -> None:
    """ "typing…" in the chat until cancelled; `first` is set once the first one went out."""
    while True:
        try:
            await context.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
        except Exception as exc:  # cosmetic: never let it fail an answer
            log.debug("typing action failed: %s", exc)
        finally:
            first.set()
        await asyncio.sleep(TYPING_REPEAT)


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
    Every request it passes notes when the Bot API last answered (`last_contact`, for /readyz)
    and counts retries and RetryAfter waits in `metrics`.
    """

    def __init__(
        self,
        retries: int,
        *,
        backoff: float = 0.5,
        max_backoff: float = 4.0,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(max_retries=retries)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.metrics = metrics or Metrics()
        self.last_contact: float | None = None  # time.monotonic() of the last answer

    def _observed(self, callback: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        """callback, noting the Bot API's answers (an error it sends is an answer too)."""

        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.last_contact = time.monotonic()
                wait = exc.retry_after
                self.metrics.retry_after_waits.inc()
                self.metrics.retry_after_seconds.inc(
                    wait.total_seconds() if isinstance(wait, dt.timedelta) else wait
                )
                raise
            except TelegramError as exc:
                if isinstance(exc, BadRequest) or not isinstance(exc, NetworkError):
                    self.last_contact = time.monotonic()
                raise
            self.last_contact = time.monotonic()
            return result

        return call

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        callback = self._observed(callback)
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
                self.metrics.telegram_retries.labels(endpoint).inc()
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
