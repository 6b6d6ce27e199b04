"""What /readyz asks: the model loaded, an index generation open and readable, and the Bot API
answered within `ops.api_contact_seconds`; and the heartbeat that asks the Bot API (getMe)
when nothing else did for a while (in webhook mode nothing else may, for hours).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram import Bot
from telegram.error import TelegramError

from bot.telegram.secrets import REDACTOR

log = logging.getLogger("bot.ops")


class Readiness:
    """problem() is None when ready, else the one-line reason /readyz gives."""

    def __init__(
        self, retriever: Any, last_contact: Callable[[], float | None], contact_seconds: float
    ) -> None:
        self.retriever = retriever
        self.last_contact = last_contact  # time.monotonic() of the Bot API's last answer
        self.contact_seconds = contact_seconds

    def problem(self) -> str | None:
        return REDACTOR.redact(self._problem() or "") or None

    def _problem(self) -> str | None:
        retriever = self.retriever
        if getattr(getattr(retriever, "current", retriever), "encoder", None) is None:
            return "the model is not loaded"
        index = getattr(retriever, "index", None)
        if index is None:
            return "no index generation is open"
        # A check that finds a mapped file shrunk starts the rebuild a question finding it would.
        damaged = index.readable() if hasattr(index, "readable") else None
        if damaged:
            return f"the index generation in use is unreadable: {damaged}"
        contact = self.last_contact()
        if contact is None:
            return "the Bot API has not answered yet"
        silent = time.monotonic() - contact
        if silent > self.contact_seconds:
            return (
                f"the Bot API has not answered for {silent:.0f} s "
                f"(ops.api_contact_seconds: {self.contact_seconds:g})"
            )
        return None


async def keep_in_touch(bot: Bot, last_contact: Callable[[], float | None], every: float) -> None:
    """getMe whenever the Bot API has not answered for `every` seconds, until cancelled."""
    while True:
        await asyncio.sleep(every)
        contact = last_contact()
        if contact is not None and time.monotonic() - contact < every:
            continue
        with contextlib.suppress(TelegramError):  # the limiter logged the retries
            await bot.get_me()
