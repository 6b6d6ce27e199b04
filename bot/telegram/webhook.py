"""The webhook endpoint: Telegram POSTs updates here, with the secret token in a header.

python-telegram-bot's own webhook server reads a whole body (tornado allows 100 MB) before it
looks at the secret token, so anyone who can reach the port can make the bot read 100 MB per
request. This one, on the same tornado, checks the header as soon as the headers are in, refuses
a declared length over MAX_UPDATE_BYTES before reading a byte of the body, never keeps the body
of a request without the right secret, and stops reading any body past that size.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

import tornado.httpserver
import tornado.web
from telegram import Bot, Update
from telegram.error import BadRequest, InvalidToken, NetworkError

from bot.config import WebhookSettings

log = logging.getLogger("bot.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# An update is one message: 4,096 characters of text (up to 16 KB in UTF-8) with entities, the
# message it replies to, a keyboard; Telegram's are a few kilobytes. 1 MiB leaves ample room.
MAX_UPDATE_BYTES = 1024 * 1024
BODY_TIMEOUT = 10.0  # seconds to send a body: a trickle must not hold a connection for long
IDLE_TIMEOUT = 60.0  # seconds a kept-alive connection may sit idle


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]

    def initialize(self, bot: Bot, queue: asyncio.Queue, secret: str) -> None:
        self.bot, self.queue, self.secret = bot, queue, secret
        self.body = bytearray()
        self.refusal: int | None = None

    def prepare(self) -> None:
        """Runs when the headers are in, before the body is read."""
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.secret.encode()):
            self.refusal = 403
        elif self.request.headers.get("Content-Type", "").split(";")[0].strip().lower() != (
            "application/json"
        ):
            self.refusal = 415
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > MAX_UPDATE_BYTES):
            raise tornado.web.HTTPError(self.refusal or 413)  # answered now, body never read
        # A body within the cap is drained before the refusal (discarded unread): closing on
        # unread bytes resets the connection, and the sender would never see the 403. A chunked
        # body has no declared length: the connection stops reading it at the cap.
        self.request.connection.set_max_body_size(MAX_UPDATE_BYTES)

    def data_received(self, chunk: bytes) -> None:
        if self.refusal is None:
            self.body += chunk

    async def post(self) -> None:
        if self.refusal is not None:
            raise tornado.web.HTTPError(self.refusal)
        try:
            data = json.loads(bytes(self.body).decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("an update is a JSON object")
            update = Update.de_json(data, self.bot)
        except Exception as exc:  # whatever the body was, it was not an update
            log.warning("webhook: refused a body that is not an update (%s)", type(exc).__name__)
            raise tornado.web.HTTPError(400) from None
        await self.queue.put(update)
        self.set_status(200)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish()  # the status says it all; no page describing it

    def log_exception(self, kind: Any, value: Any, traceback: Any) -> None:
        """Refusals are expected traffic, not errors: a debug line."""
        log.debug("webhook: refused a request (%s)", getattr(value, "status_code", kind))


class WebhookServer:
    """Registers the webhook with Telegram and serves it until stopped."""

    def __init__(
        self,
        bot: Bot,
        queue: asyncio.Queue,
        settings: WebhookSettings,
        secret: str,
        *,
        allowed_updates: list[str],
        retries: int,
        routes: list | None = None,
    ) -> None:
        """`routes`: more (pattern, handler, arguments) to serve: /healthz, /readyz, /metrics."""
        self.bot = bot
        self.settings = settings
        self.allowed_updates = allowed_updates
        self.retries = retries
        self.secret = secret
        path = "/" + settings.url_path.strip("/")
        app = tornado.web.Application(
            [
                (rf"{path}/?", _UpdateHandler, {"bot": bot, "queue": queue, "secret": secret}),
                *(routes or []),
            ],
            log_function=lambda handler: None,  # one log line per question is ours to write
        )
        self._server = tornado.httpserver.HTTPServer(
            app,
            max_body_size=MAX_UPDATE_BYTES,
            body_timeout=BODY_TIMEOUT,
            idle_connection_timeout=IDLE_TIMEOUT,
        )
        self.running = False

    async def start(self) -> None:
        """Listen first, then tell Telegram where to post (so no update meets a closed port)."""
        self._server.listen(self.settings.port, address=self.settings.listen)
        self.running = True
        for attempt in range(self.retries + 1):
            try:
                await self.bot.set_webhook(
                    url=self.settings.public_url,
                    secret_token=self.secret,
                    allowed_updates=self.allowed_updates,
                    drop_pending_updates=False,
                )
                return
            except (BadRequest, InvalidToken):
                raise
            except NetworkError as exc:  # TimedOut too; RetryAfter is waited out by the limiter
                if attempt == self.retries:
                    raise
                log.warning("setWebhook failed (%s); retrying", exc)
                await asyncio.sleep(min(0.5 * 2**attempt, 4.0))

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        self._server.stop()
        await self._server.close_all_connections()
