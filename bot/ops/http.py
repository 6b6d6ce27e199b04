"""/healthz, /readyz and /metrics as tornado handlers: added to the webhook server's routes in
webhook mode, and served by a listener of their own when `ops.port` is set (polling mode has
no HTTP server otherwise). Tornado because python-telegram-bot's webhook extra already brings
it and our webhook server runs on it: one HTTP stack in the process.

`Ops` is what `serve` starts and stops: the readiness check, the heartbeat, the own listener.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import tornado.httpserver
import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST
from telegram.ext import Application

from bot.config import AppConfig, ConfigError
from bot.ops.health import Readiness, keep_in_touch
from bot.ops.metrics import Metrics

log = logging.getLogger("bot.ops")

Routes = list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]


class _Probe(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD")  # type: ignore[assignment]

    def initialize(self, ops: Ops) -> None:
        self.ops = ops

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish()

    def head(self) -> None:
        self.get()


class _Alive(_Probe):
    def get(self) -> None:
        """Alive: the event loop ran this."""
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok\n")


class _Ready(_Probe):
    def get(self) -> None:
        problem = self.ops.readiness.problem()
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        if problem is not None:
            self.set_status(503)
            self.finish(f"not ready: {problem}\n")
        else:
            self.finish("ready\n")


class _Metrics(_Probe):
    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(self.ops.metrics.render())


class Ops:
    """The health and metrics endpoints of one running bot, and the heartbeat behind /readyz."""

    def __init__(self, app: Application, config: AppConfig) -> None:
        services = app.bot_data["services"]
        limiter = app.bot.rate_limiter
        self.settings = config.ops
        self.bot = app.bot
        self.metrics: Metrics = services.metrics
        self.last_contact = lambda: getattr(limiter, "last_contact", None)
        self.readiness = Readiness(
            services.retriever, self.last_contact, self.settings.api_contact_seconds
        )
        self._server: tornado.httpserver.HTTPServer | None = None
        self._heartbeat: asyncio.Task | None = None

    def routes(self) -> Routes:
        given = {"ops": self}
        return [
            (r"/healthz", _Alive, given),
            (r"/readyz", _Ready, given),
            (r"/metrics", _Metrics, given),
        ]

    async def start(self) -> None:
        """The heartbeat, and the listener of its own if `ops.port` is set."""
        every = max(0.5, self.settings.api_contact_seconds / 3)
        self._heartbeat = asyncio.create_task(keep_in_touch(self.bot, self.last_contact, every))
        if self.settings.port is not None:
            app = tornado.web.Application(self.routes(), log_function=lambda handler: None)
            self._server = tornado.httpserver.HTTPServer(app, idle_connection_timeout=60.0)
            try:
                self._server.listen(self.settings.port, address=self.settings.listen)
            except OSError as exc:
                raise ConfigError(
                    f"key 'ops.port': cannot listen on {self.settings.listen}:"
                    f"{self.settings.port} ({exc.strerror or exc})"
                ) from None
            log.info(
                "health and metrics on http://%s:%d/ (healthz, readyz, metrics)",
                self.settings.listen,
                self.settings.port,
            )

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
