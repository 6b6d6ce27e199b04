"""A fake Telegram Bot API server on 127.0.0.1 for the tests, the load script and
`newsbot try-telegram`.

It serves `/bot<token>/<method>` with JSON, form or multipart bodies, answers like Telegram
(`{"ok": true, "result": ...}`, real-looking Message objects, errors with error_code and
description), parses HTML like Telegram does (a malformed or unescaped text is a 400), enforces
the 4096-character limit, and records every call. A test enqueues updates (getUpdates long
polling, or POSTs to the webhook with the secret token header), waits for replies, makes a
method answer 429 or another error, or takes the server offline for a few seconds.

Here: the server's life, its HTTP side and the waits; what users do is in .updates, the methods
in .methods, Telegram's HTML in .html.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.telegram.local_api.html import ApiError, parse_html
from bot.telegram.local_api.methods import BotApiMethods, Call, Failure, Sent
from bot.telegram.local_api.updates import UpdateMaker

__all__ = ["ApiError", "FakeBotApi", "Sent", "parse_html"]

HOST = "127.0.0.1"  # never another address: it takes any token and holds what users typed
# Fields that Bot API clients send JSON-encoded inside form bodies.
JSON_FIELDS = {
    "results",
    "reply_markup",
    "entities",
    "reply_parameters",
    "link_preview_options",
    "commands",
    "scope",
    "allowed_updates",
}
INT_FIELDS = {
    "chat_id", "user_id", "message_id", "offset", "limit", "timeout", "message_thread_id",
}  # fmt: skip
BOOL_FIELDS = {"drop_pending_updates", "show_alert", "disable_notification"}


class FakeBotApi(UpdateMaker, BotApiMethods):
    def __init__(self, token: str, *, username: str = "NewsTestBot"):
        self.token = token
        self.host = HOST
        self.port = 0
        self.me = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "News Bot",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self._sent_by_chat: dict[int, list[Sent]] = {}
        self.commands: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {"url": "", "secret_token": None, "allowed_updates": None}
        self.deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status) webhook posts
        self.confirmed_offset = 0  # getUpdates offset: every update below it was fetched
        self.enqueued_at: dict[int, float] = {}  # update_id -> time.monotonic()
        self.update_ids: dict[tuple[int, int], int] = {}  # (chat_id, message_id) -> update_id
        self.outages = 0
        self.offline = False
        self.chats: dict[int, dict[str, Any]] = {}
        self.chat_admins: dict[int, set[int]] = {}  # group id -> its admins (getChatMember)
        self.blocked: set[int] = set()  # chats whose user blocked the bot: sends are 403
        self.users: dict[int, dict[str, Any]] = {}
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}  # file_id -> content (getFile, /file/bot<token>/...)
        self.inline_queries: dict[str, dict[str, Any]] = {}  # id -> {"answer": params or None}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._pending: list[dict[str, Any]] = []  # updates not yet confirmed via offset
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count] = {}
        self._query_ids = itertools.count(1)
        self._failures: dict[str, list[Failure]] = {}
        self._offline_on: dict[str, float] = {}
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    async def start(self) -> FakeBotApi:
        self._changed = asyncio.Condition()
        self._session = aiohttp.ClientSession()
        await self._listen()
        return self

    async def _listen(self) -> None:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/{prefix}/{method}", self._handle)
        app.router.add_get("/file/{prefix}/documents/{file_id}.txt", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> FakeBotApi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def go_offline(self, seconds: float) -> None:
        """Unreachable for `seconds`: open connections are reset, new ones refused."""
        runner = await self._stop_listening()
        await self._outage(runner, seconds)

    async def _stop_listening(self) -> web.AppRunner | None:
        self.outages += 1
        self.offline = True
        runner, self._runner = self._runner, None
        if runner is not None:
            for site in list(runner.sites):
                await site.stop()  # closes the listening socket at once
            if runner.server is not None:
                runner.server.pre_shutdown()  # and the idle keep-alive connections
        return runner

    async def _outage(self, runner: web.AppRunner | None, seconds: float) -> None:
        if runner is not None:
            await runner.cleanup()  # resets the connections still open
        await asyncio.sleep(seconds)
        await self._listen()
        self.offline = False
        await self._notify()

    def go_offline_on(self, method: str, seconds: float) -> None:
        """The next call of `method` resets its connection and takes the server offline."""
        self._offline_on[method] = seconds

    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` get this error instead of a result."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else "Bad Request: injected failure"
            )
        self._failures.setdefault(method, []).extend(
            Failure(status, description, retry_after) for _ in range(times)
        )

    # ------------------------------------------------------------------ waiting

    def _wake(self) -> None:
        task = asyncio.get_running_loop().create_task(self._notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, check: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
        """Wait (bounded) until check() returns something truthy, and return it."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                result = check()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    def update_id_of(self, message: dict[str, Any]) -> int:
        return self.update_ids[(message["chat"]["id"], message["message_id"])]

    def sent_to(self, chat_id: int) -> list[Sent]:
        return list(self._sent_by_chat.get(chat_id, ()))

    async def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 20) -> list[Sent]:
        """The first `count` messages the bot sent to the chat, once there are that many."""

        def check() -> list[Sent] | None:
            sent = self.sent_to(chat_id)
            return sent[:count] if len(sent) >= count else None

        return await self.wait_for(check, timeout, f"{count} message(s) to chat {chat_id}")

    async def wait_reply(self, message: dict, timeout: float = 20) -> Sent:
        """The bot's message that replies to `message` (quoted, or the next one in a private chat)."""
        chat_id = message["chat"]["id"]

        def check() -> Sent | None:
            for sent in self.sent_to(chat_id):
                replied = sent.message.get("reply_to_message", {}).get("message_id")
                if replied == message["message_id"] or (
                    replied is None and sent.message["message_id"] > message["message_id"]
                ):
                    return sent
            return None

        return await self.wait_for(check, timeout, f"a reply to {message.get('text', message)!r}")

    def calls_to(self, method: str, ok: bool | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    async def wait_call(self, method: str, count: int = 1, timeout: float = 20) -> list[Call]:
        return await self.wait_for(
            lambda: self.calls_to(method)[count - 1 :] and self.calls_to(method),
            timeout,
            f"{count} call(s) of {method}",
        )

    async def wait_inline_answer(self, query_id: str, timeout: float = 20) -> dict[str, Any]:
        """The parameters of answerInlineQuery for this query, once it is answered."""
        return await self.wait_for(
            lambda: self.inline_queries[query_id]["answer"], timeout, f"inline query {query_id}"
        )

    def answers_to(self, query_id: str) -> list[dict[str, Any]]:
        return self.callback_queries[query_id]["answers"]

    async def wait_answered(self, query_id: str, timeout: float = 20) -> dict[str, Any]:
        answers = await self.wait_for(
            lambda: self.answers_to(query_id), timeout, f"an answer to callback query {query_id}"
        )
        return answers[0]

    # ------------------------------------------------------------------ HTTP

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: expected a JSON object")
                return {**params, **body}
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        for key, value in list(params.items()):
            if not isinstance(value, str):
                continue
            if key in JSON_FIELDS:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
            elif key in INT_FIELDS:
                with contextlib.suppress(ValueError):
                    params[key] = int(value)
            elif key in BOOL_FIELDS:
                params[key] = value.lower() == "true"
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        prefix, method = request.match_info["prefix"], request.match_info["method"]
        if not prefix.startswith("bot") or prefix[3:] != self.token:
            return self._error(401, "Unauthorized")
        if method in self._offline_on:
            seconds = self._offline_on.pop(method)
            self.calls.append(Call(method, {}, time.monotonic(), 0, None, "connection reset"))
            runner = await self._stop_listening()
            if request.transport is not None:
                request.transport.abort()  # the client sees a connection reset
            task = asyncio.get_running_loop().create_task(self._outage(runner, seconds))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return web.Response(status=500)
        call = Call(method, {}, time.monotonic(), status=0)  # 0 while in progress
        self.calls.append(call)
        if method.lower() == "getupdates":
            await self._notify()  # a long poll has begun: the bot is listening
        try:
            call.params = await self._params(request)
            failures = self._failures.get(method)
            if failures:
                failure = failures.pop(0)
                params = {"retry_after": failure.retry_after} if failure.retry_after else None
                raise ApiError(failure.status, failure.description, params)
            handler = getattr(self, f"api_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            call.result = await handler(call.params)
            call.status = 200
            return web.json_response({"ok": True, "result": call.result})
        except ApiError as exc:
            call.status, call.description = exc.code, exc.description
            return self._error(exc.code, exc.description, exc.parameters)
        finally:
            if call.status == 0:
                call.description = "connection dropped"
            await self._notify()

    async def _download(self, request: web.Request) -> web.Response:
        """A file's bytes, as Telegram serves them after getFile."""
        prefix, file_id = request.match_info["prefix"], request.match_info["file_id"]
        if prefix[3:] != self.token or file_id not in self.files:
            return web.Response(status=404)
        self.calls.append(Call("download", {"file_id": file_id}, time.monotonic(), 200))
        return web.Response(body=self.files[file_id])

    @staticmethod
    def _error(code: int, description: str, parameters: dict | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)
