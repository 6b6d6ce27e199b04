"""The real bot (build_application + serve) running in this event loop against a local Bot API
server: for `newsbot try-telegram` and the tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from telegram.ext import Application

from bot.config import AppConfig
from bot.telegram.local_api.server import FakeBotApi
from retrieval.live import Answering


def pointed_at(config: AppConfig, api: FakeBotApi, **telegram: object) -> AppConfig:
    """The config's Telegram settings with the local server in place of Telegram's."""
    settings = config.telegram.model_copy(
        update={"base_url": api.base_url, "base_file_url": api.base_file_url, **telegram}
    )
    return config.model_copy(update={"telegram": settings})


@contextlib.asynccontextmanager
async def running_bot(
    config: AppConfig,
    retriever: Answering,
    token: str,
    *,
    secret: str | None = None,
    start_wait: float = 20,
    stop_wait: float = 30,
) -> AsyncIterator[Application]:
    """The bot serving until the block ends, then answering what is in flight and stopping.
    A failure to start is raised as it was; no start within start_wait s, as an AssertionError."""
    from bot.telegram.app import build_application, serve

    app = build_application(config, retriever, token)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve(app, config, webhook_secret=secret, stop=stop, ready=ready, handle_signals=False)
    )
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=start_wait, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()  # raises what made start-up fail
    assert ready.is_set(), f"the bot did not start within {start_wait:g} s"
    try:
        yield app
    finally:
        stop.set()
        await asyncio.wait_for(task, stop_wait)
