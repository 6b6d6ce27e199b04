"""A fake Telegram Bot API server on 127.0.0.1 for tests and the load script.

It serves `/bot<token>/<method>` with JSON, form or multipart bodies, answers like Telegram
(`{"ok": true, "result": ...}`, real-looking Message objects, errors with error_code and
description), parses HTML like Telegram does (a malformed or unescaped text is a 400), enforces
the 4096-character limit, and records every call. A test enqueues updates (getUpdates long
polling, or POSTs to the webhook with the secret token header), waits for replies, makes a
method answer 429 or another error, or takes the server offline for a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

MAX_TEXT = 4096
# Fields that Bot API clients send JSON-encoded inside form bodies.
JSON_FIELDS = {
    "reply_markup",
    "entities",
    "reply_parameters",
    "link_preview_options",
    "commands",
    "scope",
    "allowed_updates",
}
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout", "message_thread_id"}
BOOL_FIELDS = {"drop_pending_updates", "show_alert", "disable_notification"}
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
ENTITY_NAMES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2  # a forged text may hold one


_TAG = re.compile(r"<(/?)([a-zA-Z-]+)((?:\s+[a-zA-Z-]+=\"[^\"<>]*\")*)\s*>")
_ENTITY = re.compile(r"&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]+);")


def _parse_error(source: str, problem: str, at: int) -> ApiError:
    offset = len(source[:at].encode("utf-8", "surrogatepass"))
    return ApiError(400, f"Bad Request: can't parse entities: {problem} at byte offset {offset}")


def _entity(source: str, i: int) -> tuple[str, int]:
    """The character an HTML entity at i stands for, and where the entity ends."""
    match = _ENTITY.match(source, i)
    if not match:
        raise _parse_error(source, "character '&' is not the start of an HTML entity", i)
    ref = match[1]
    if ref.startswith("#x"):
        return chr(int(ref[2:], 16)), match.end()
    if ref.startswith("#"):
        return chr(int(ref[1:])), match.end()
    if ref in ENTITY_NAMES:
        return ENTITY_NAMES[ref], match.end()
    raise _parse_error(source, f'unsupported HTML entity "&{ref};"', i)


def _tag(source: str, i: int, length: int, stack: list, entities: list) -> int:
    """Reads the tag at i: opens one on the stack, or closes one into an entity; its end."""
    match = _TAG.match(source, i)
    if not match:
        raise _parse_error(source, "unexpected character '<' (not a tag)", i)
    closing, name, attrs = match[1], match[2].lower(), match[3]
    if name not in HTML_TAGS:
        raise _parse_error(source, f'unsupported {"end" if closing else "start"} tag "{name}"', i)
    if not closing:
        href = re.search(r'href="([^"]*)"', attrs) if name == "a" else None
        stack.append((name, length, {"url": href[1] if href else ""} if name == "a" else {}))
        return match.end()
    if not stack or stack[-1][0] != name:
        raise _parse_error(source, f'unmatched end tag at "{name}", expected other', i)
    _, start, extra = stack.pop()
    if length > start:
        entities.append(
            {"type": HTML_TAGS[name], "offset": start, "length": length - start, **extra}
        )
    return match.end()


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: (plain text, entities), or ApiError 400 like Telegram's."""
    plain: list[str] = []
    length = 0  # UTF-16 length of plain so far
    stack: list[tuple[str, int, dict[str, Any]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "<":
            i = _tag(source, i, length, stack, entities)
            continue
        if char == ">":
            raise _parse_error(source, "unexpected character '>' outside a tag", i)
        text, i = _entity(source, i) if char == "&" else (char, i + 1)
        plain.append(text)
        length += utf16_len(text)
    if stack:
        raise _parse_error(source, f'unclosed start tag "{stack[-1][0]}"', len(source))
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities


def auto_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram's clients attach: bot commands, @mentions, links."""
    found = []
    patterns = [
        ("bot_command", r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?"),
        ("mention", r"(?<![\w@])@[A-Za-z0-9_]{5,32}"),
    ]
    for kind, pattern in patterns:
        for match in re.finditer(pattern, text):
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match[0]),
                }
            )
    return sorted(found, key=lambda e: e["offset"])


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 0
    result: Any = None
    description: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Sent:
    """A message the bot sent (sendMessage that succeeded)."""

    chat_id: int
    message: dict[str, Any]
    html: str  # the text as the bot sent it, markup included
    at: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.message["text"]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.message.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def bold(self) -> list[str]:
        return [
            self.text[e["offset"] : e["offset"] + e["length"]]  # fine for BMP text
            for e in self.message.get("entities", [])
            if e["type"] == "bold"
        ]


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


class FakeBotApi:
    def __init__(self, token: str, *, username: str = "NewsTestBot", host: str = "127.0.0.1"):
        self.token = token
        self.host = host
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
        self.users: dict[int, dict[str, Any]] = {}
        self.callback_queries: dict[str, dict[str, Any]] = {}
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

    # ------------------------------------------------------------------ building updates

    def user(self, user_id: int, first_name: str = "Ann", username: str | None = None) -> dict:
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        if username:
            user["username"] = username
        self.users[user_id] = user
        return user

    def private_chat(self, user: dict) -> dict:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        self.chats[chat["id"]] = chat
        return chat

    def group_chat(self, chat_id: int, title: str = "News readers") -> dict:
        chat = {"id": chat_id, "type": "supergroup", "title": title}
        self.chats[chat_id] = chat
        return chat

    def _message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _user_message(self, chat: dict, user: dict, reply_to: dict | None, **content: Any) -> dict:
        message = {
            "message_id": self._message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **content,
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def send_text(
        self, chat: dict, user: dict, text: str, *, reply_to: dict | None = None
    ) -> dict[str, Any]:
        """A user writes `text` (entities as a Telegram client sets them); returns the message."""
        content: dict[str, Any] = {"text": text}
        entities = auto_entities(text)
        if entities:
            content["entities"] = entities
        message = self._user_message(chat, user, reply_to, **content)
        self.enqueue({"message": message})
        return message

    def send_sticker(self, chat: dict, user: dict, *, reply_to: dict | None = None) -> dict:
        sticker = {
            "file_id": "CAACAgIAAxkBAAEBsticker",
            "file_unique_id": "AgADsticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        message = self._user_message(chat, user, reply_to, sticker=sticker)
        self.enqueue({"message": message})
        return message

    def send_photo(self, chat: dict, user: dict, caption: str | None = None) -> dict:
        size = {"file_id": "AgACphoto", "file_unique_id": "AQADphoto", "width": 90, "height": 90}
        content: dict[str, Any] = {"photo": [size]}
        if caption is not None:
            content["caption"] = caption
        message = self._user_message(chat, user, None, **content)
        self.enqueue({"message": message})
        return message

    def send_voice(self, chat: dict, user: dict) -> dict:
        voice = {"file_id": "AwACvoice", "file_unique_id": "AgADvoice", "duration": 3}
        message = self._user_message(chat, user, None, voice=voice)
        self.enqueue({"message": message})
        return message

    def press(self, sent: Sent | dict, data: str, user: dict) -> str:
        """A user presses an inline button with callback `data` under a bot message."""
        message = sent.message if isinstance(sent, Sent) else sent
        query_id = str(next(self._query_ids))
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": f"ci{message['chat']['id']}",
            "data": data,
        }
        self.callback_queries[query_id] = {"answered": False, "answers": []}
        self.enqueue({"callback_query": query})
        return query_id

    def build_update(self, body: dict[str, Any]) -> dict[str, Any]:
        update_id = next(self._update_ids)
        self.enqueued_at[update_id] = time.monotonic()
        return {"update_id": update_id, **body}

    def enqueue(self, body: dict[str, Any]) -> dict[str, Any]:
        """Deliver an update: to the webhook if one is set, else to getUpdates."""
        update = self.build_update(body)
        if "message" in body:
            message = body["message"]
            self.update_ids[(message["chat"]["id"], message["message_id"])] = update["update_id"]
        if self.webhook["url"]:
            task = asyncio.get_running_loop().create_task(self._deliver(update))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._pending.append(update)
            self._wake()
        return update

    async def _deliver(self, update: dict[str, Any]) -> None:
        """POST to the webhook like Telegram: secret token header, retried if unreachable."""
        for _ in range(10):
            status = await self.post_webhook(update, self.webhook["secret_token"])
            if status < 500:
                return
            await asyncio.sleep(0.5)

    async def post_webhook(self, update: dict[str, Any], secret: str | None) -> int:
        """One POST of `update` to the webhook URL; the HTTP status (599: unreachable)."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        try:
            async with self._session.post(
                self.webhook["url"],
                data=json.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 599
        self.deliveries.append((update["update_id"], status))
        await self._notify()
        return status

    async def post_webhook_raw(
        self,
        body: bytes = b"",
        *,
        secret: str | None,
        content_length: int | None = None,
        chunked: bool = False,
        content_type: str = "application/json",
        timeout: float = 10,
    ) -> int:
        """A forged or oversized POST to the webhook, over a raw socket: the headers as given
        (`content_length` may claim more than `body` holds), then `body` (chunked if asked),
        then the status line read back. 0: the connection closed without an answer; 598: no
        answer within `timeout` (the bot is waiting for a body it should have refused)."""
        url = self.webhook["url"].removeprefix("http://")
        address, _, path = url.partition("/")
        host, _, port = address.partition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        head = [f"POST /{path} HTTP/1.1", f"Host: {address}", f"Content-Type: {content_type}"]
        if secret is not None:
            head.append(f"X-Telegram-Bot-Api-Secret-Token: {secret}")
        if chunked:
            head.append("Transfer-Encoding: chunked")
        else:
            head.append(
                f"Content-Length: {len(body) if content_length is None else content_length}"
            )
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            if chunked:
                for start in range(0, len(body), 65536):
                    piece = body[start : start + 65536]
                    writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                writer.write(b"0\r\n\r\n")
            else:
                writer.write(body)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            try:
                line = await asyncio.wait_for(reader.readline(), timeout)
            except TimeoutError:
                return 598
            except ConnectionError:
                return 0
            match = re.match(rb"HTTP/1\.[01] (\d{3})", line)
            return int(match[1]) if match else 0
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

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

    @staticmethod
    def _error(code: int, description: str, parameters: dict | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    # ------------------------------------------------------------------ methods

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        if chat_id not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        return self.chats[chat_id]

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        message = self.messages.get((chat["id"], params.get("message_id")))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.me["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    @staticmethod
    def _check_markup(markup: Any) -> None:
        if markup is None:
            return
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            raise ApiError(400, "Bad Request: unsupported reply_markup")
        for row in markup["inline_keyboard"]:
            for button in row:
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    @staticmethod
    def _text(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        source = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML":
            text, entities = parse_html(source)
        elif params.get("parse_mode") in (None, ""):
            text, entities = source, params.get("entities") or []
        else:
            raise ApiError(400, f"Bad Request: unsupported parse_mode {params['parse_mode']}")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return text, entities

    async def api_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.me

    async def api_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook["url"]:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0)
        allowed = params.get("allowed_updates") or None
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
            self.confirmed_offset = max(self.confirmed_offset, offset)
            await self._notify()
        if allowed:
            self._pending = [u for u in self._pending if set(u) - {"update_id"} <= set(allowed)]
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                ready = [u for u in self._pending if u["update_id"] >= offset][:limit]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0:
                    return ready
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    async def api_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text, entities = self._text(params)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        message: dict[str, Any] = {
            "message_id": self._message_id(chat["id"]),
            "from": self.me,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        if markup:
            message["reply_markup"] = markup
        reply = params.get("reply_parameters") or {}
        reply_id = reply.get("message_id") or params.get("reply_to_message_id")
        if reply_id:
            replied = self.messages.get((chat["id"], int(reply_id)))
            if replied is not None:
                message["reply_to_message"] = {
                    k: v for k, v in replied.items() if k != "reply_to_message"
                }
            elif not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        self.messages[(chat["id"], message["message_id"])] = message
        sent = Sent(chat["id"], message, params["text"], time.monotonic(), params)
        self.sent.append(sent)
        self._sent_by_chat.setdefault(chat["id"], []).append(sent)
        return message

    async def api_sendchataction(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def api_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query = self.callback_queries.get(str(params.get("callback_query_id")))
        if query is None or query["answered"]:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(params.get("text") or "") > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query["answered"] = True
        query["answers"].append(params)
        return True

    async def api_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._bot_message(params)
        text, entities = self._text(params)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        if text == message["text"] and markup == message.get("reply_markup"):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message.update(text=text, entities=entities, edit_date=int(time.time()))
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return message

    async def api_editmessagereplymarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._bot_message(params)
        markup = params.get("reply_markup") or None
        self._check_markup(markup)
        if markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return message

    async def api_setmycommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")) or not (
                1 <= len(command.get("description", "")) <= 256
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands = commands
        return True

    async def api_getmycommands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands

    async def api_deletemycommands(self, params: dict[str, Any]) -> bool:
        self.commands = []
        return True

    async def api_setwebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if url and not url.startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: bad webhook: invalid URL")
        secret = params.get("secret_token") or None
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: bad webhook: invalid secret token")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
        }
        return True

    async def api_deletewebhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = {"url": "", "secret_token": None, "allowed_updates": None}
        return True

    async def api_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def api_close(self, params: dict[str, Any]) -> bool:
        return True

    async def api_logout(self, params: dict[str, Any]) -> bool:
        return True
