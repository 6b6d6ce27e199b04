"""The Telegram bot as a process: `build_application` wires the handlers around a loaded
retriever; `serve` runs it (long polling or webhook) until SIGINT/SIGTERM, answering the updates
in flight before it returns; `run_telegram` is `python -m bot telegram`: secrets and settings
first, then the model, then `serve`, and at the end the seeds watcher stopped and waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, TypeHandler

from bot.config import AppConfig, ConfigError, TelegramSettings
from bot.ops.http import Ops, Routes
from bot.ops.logs import configure_logging, progress_stream
from bot.ops.metrics import Metrics
from bot.telegram.following import Pusher, open_store
from bot.telegram.guards import REPLIES_PER_QUESTION, gate
from bot.telegram.handlers import MENU, handlers, on_error
from bot.telegram.limits import ReplyLimit, UserRateLimit
from bot.telegram.secrets import (
    REDACTOR,
    check_webhook_settings,
    read_token,
    read_webhook_secret,
    redact_secrets,
)
from bot.telegram.sending import RetryingRateLimiter
from bot.telegram.services import Services
from bot.telegram.store import QuestionStore
from bot.telegram.webhook import WebhookServer
from retrieval.live import Answering, LiveRetriever

log = logging.getLogger("bot.telegram")

ALLOWED_UPDATES = ["message", "callback_query", "inline_query", "chosen_inline_result"]
KEPT_QUESTIONS = 1000  # questions whose "More" button still works
# httpx connections for sending. httpcore scans every pooled connection for each request, so a
# big pool costs more CPU than it saves; 16 parallel sends are well above Telegram's 30 msg/s.
SEND_CONNECTIONS = 16
POOL_WAIT = 20.0  # seconds a send may wait for a free connection


async def _post_init(app: Application) -> None:
    try:
        await app.bot.set_my_commands(MENU)
    except TelegramError as exc:
        log.warning("could not register the command list (setMyCommands): %s; carrying on", exc)
    if "pusher" in app.bot_data:
        app.bot_data["pusher"].start()


async def _post_shutdown(app: Application) -> None:
    if "pusher" in app.bot_data:
        await app.bot_data["pusher"].stop()
    services: Services | None = app.bot_data.get("services")
    if services is not None:
        services.executor.shutdown(wait=True)
        if isinstance(services.retriever, LiveRetriever):
            with contextlib.suppress(ValueError):
                services.retriever.listeners.remove(services.metrics.index_updated)
        if services.follows is not None:
            services.follows.close()


def build_application(config: AppConfig, retriever: Answering, token: str) -> Application:
    """The bot around a loaded retriever; nothing is contacted until it is initialised."""
    settings = config.telegram
    redact_secrets(token)
    metrics = Metrics()
    metrics.watch_index(retriever)
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .rate_limiter(RetryingRateLimiter(settings.retries, metrics=metrics))
        .connection_pool_size(SEND_CONNECTIONS)
        .pool_timeout(POOL_WAIT)
        .concurrent_updates(True)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data["services"] = Services(
        settings=settings,
        retriever=retriever,
        # Admins reload the folder a LiveRetriever follows; a Retriever's articles are fixed.
        reload=retriever.reload if isinstance(retriever, LiveRetriever) else None,
        executor=ThreadPoolExecutor(settings.workers, thread_name_prefix="retrieval"),
        rate=UserRateLimit(settings.rate_limit_count, settings.rate_limit_seconds),
        replies=ReplyLimit(
            settings.rate_limit_count * REPLIES_PER_QUESTION, settings.rate_limit_seconds
        ),
        strangers=UserRateLimit(1, settings.rate_limit_seconds),
        questions=QuestionStore(KEPT_QUESTIONS),
        metrics=metrics,
        follows=open_store(config),
    )
    if isinstance(retriever, LiveRetriever):
        retriever.listeners.append(metrics.index_updated)
        # New articles: pushed to the chats following them.
        app.bot_data["pusher"] = Pusher(app, retriever, app.bot_data["services"].follows)
    app.add_handler(TypeHandler(Update, gate), group=-1)
    app.add_handlers(handlers())
    app.add_error_handler(on_error)
    return app


def _polling_error(exc: TelegramError) -> None:
    log.warning("cannot fetch updates (%s: %s); retrying", type(exc).__name__, exc)


async def _start_updates(
    app: Application, settings: TelegramSettings, secret: str | None, routes: Routes
) -> WebhookServer | None:
    """Start fetching updates: long polling, or our webhook server (returned, to stop it),
    which serves `routes` (health and metrics) too."""
    if settings.mode == "polling":
        await app.updater.start_polling(
            timeout=settings.poll_timeout,
            bootstrap_retries=settings.retries,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
            error_callback=_polling_error,
        )
        return None
    assert secret is not None
    server = WebhookServer(
        app.bot,
        app.update_queue,
        settings.webhook,
        secret,
        allowed_updates=ALLOWED_UPDATES,
        retries=settings.retries,
        routes=routes,
    )
    try:
        await server.start()
    except BaseException:
        await server.stop()
        raise
    return server


def _install_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[signal.Signals]:
    installed: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        log.info("%s: stopping once the questions in flight are answered", sig.name)
        stop.set()
        for each in installed:  # a second signal acts as usual: immediate exit
            loop.remove_signal_handler(each)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            log.debug("cannot handle %s here", sig.name)
    return installed


async def serve(
    app: Application,
    config: AppConfig,
    *,
    webhook_secret: str | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Run until `stop` is set (or SIGINT/SIGTERM), then answer what is in flight and return.

    Order as in Application.run_polling: initialize (getMe), post_init (setMyCommands), start
    fetching, start handling; on stop: stop fetching, finish the updates taken, shut down.
    """
    settings = config.telegram
    if settings.mode == "webhook":
        check_webhook_settings(settings)
        webhook_secret = webhook_secret or read_webhook_secret(settings)
        redact_secrets(app.bot.token, webhook_secret)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = _install_signals(loop, stop) if handle_signals else []
    webhook: WebhookServer | None = None
    ops = Ops(app, config)
    try:
        await app.initialize()
        try:
            if app.post_init:
                await app.post_init(app)
            webhook = await _start_updates(app, settings, webhook_secret, ops.routes())
            await app.start()
            await ops.start()
            log.info(
                "ready: @%s answers by %s through %s",
                app.bot.username,
                settings.mode,
                settings.base_url,
            )
            if ready is not None:
                ready.set()
            await stop.wait()
        finally:
            await ops.stop()
            if app.updater.running:
                with _one_line(logging.getLogger("telegram.ext.Updater")):
                    await app.updater.stop()
            if webhook is not None:
                await webhook.stop()
            if app.running:
                await app.stop()  # waits for every update taken to be answered
            await app.shutdown()
    finally:
        if app.post_shutdown:
            await app.post_shutdown(app)
        for sig in installed:
            loop.remove_signal_handler(sig)
        log.info("stopped")


class _OneLine(logging.Filter):
    """A failure logged with its traceback, as one warning line.

    Stopping, the Updater asks for updates once more to confirm those it took; when that fails
    (TimedOut while the long poll is cut short, the server gone) it logged ~90 lines of
    traceback for something that only means the last updates may come again at the next start.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = REDACTOR.redact(
                f"could not confirm the last updates while stopping ({type(error).__name__}: "
                f"{error}); they may come again at the next start"
            )
            record.args, record.exc_info, record.exc_text = (), None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


@contextlib.contextmanager
def _one_line(logger: logging.Logger) -> Iterator[None]:
    one_line = _OneLine()
    logger.addFilter(one_line)
    try:
        yield
    finally:
        logger.removeFilter(one_line)


@contextlib.contextmanager
def _logged_step(message: str) -> Iterator[None]:
    log.info("%s", message)
    started = time.monotonic()
    yield
    log.info("done in %.1f s", time.monotonic() - started)


def run_telegram(config: AppConfig, seeds_dir: Path | None = None) -> int:
    """`python -m bot telegram`: settings and secrets first, then the model, then serve; at the
    end the seeds watcher is stopped and waited for (a thread left inside the model when the
    interpreter exits aborts it: "terminate called without an active exception")."""
    settings = config.telegram
    token = read_token(settings)
    secret = None
    if settings.mode == "webhook":
        check_webhook_settings(settings)
        secret = read_webhook_secret(settings)
    redact_secrets(token, secret)
    configure_logging(config.logging)
    from bot.ingest.poller import updating
    from bot.progress import BuildReporter
    from bot.runtime import open_retriever

    retriever = open_retriever(
        config,
        seeds_dir=seeds_dir,
        progress=_logged_step,
        build_progress=BuildReporter(progress_stream(config.logging), terminal=False),
    )
    with updating(config, retriever):  # the seeds watcher and corpus.feeds, stopped after
        return _serve_until_stopped(build_application(config, retriever, token), config, secret)


def _serve_until_stopped(app: Application, config: AppConfig, secret: str | None) -> int:
    """serve() in an event loop of its own; its failures as an exit code or a ConfigError."""
    try:
        asyncio.run(serve(app, config, webhook_secret=secret))
    except InvalidToken:
        raise ConfigError(
            f"environment variable {config.telegram.token_env}: the Bot API server at "
            f"{config.telegram.base_url} rejected this token"
        ) from None
    except ConfigError:
        raise
    except TelegramError as exc:
        log.error("could not run the bot: %s: %s", type(exc).__name__, exc)
        return 1
    except Exception:
        log.exception("the bot stopped on an unexpected error")
        return 1
    return 0
