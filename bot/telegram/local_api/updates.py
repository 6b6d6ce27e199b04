"""What users do, for the fake Bot API server: messages, stickers, photos, button presses,
as updates delivered by getUpdates or posted to the webhook. A mixin of FakeBotApi."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from typing import Any

import aiohttp

from bot.telegram.local_api.html import auto_entities
from bot.telegram.local_api.methods import Sent


class UpdateMaker:
    """Builds and delivers updates; FakeBotApi holds the state."""

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
        self,
        chat: dict,
        user: dict,
        text: str,
        *,
        reply_to: dict | None = None,
        forwarded_from: dict | None = None,
        posted: int | None = None,
    ) -> dict[str, Any]:
        """A user writes `text` (entities as a Telegram client sets them), or forwards it: a
        channel's post (forwarded_from a chat) or a user's message, first posted at `posted`
        (Unix time, default a day ago). Returns the message."""
        content: dict[str, Any] = {"text": text}
        if forwarded_from is not None:
            channel = forwarded_from.get("type") == "channel"
            content["forward_origin"] = {
                "type": "channel" if channel else "user",
                "date": int(time.time()) - 86400 if posted is None else posted,
                **({"chat": forwarded_from, "message_id": 1} if channel
                   else {"sender_user": forwarded_from}),
            }  # fmt: skip
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

    def send_document(
        self,
        chat: dict,
        user: dict,
        name: str,
        data: bytes,
        *,
        caption: str | None = None,
        size: int | None = None,
    ) -> dict:
        """A user sends a file; `size` is what Telegram says it is (default: len(data))."""
        file_id = f"BQACdoc{len(self.files) + 1}"
        self.files[file_id] = data
        document = {
            "file_id": file_id,
            "file_unique_id": f"AgADdoc{len(self.files)}",
            "file_name": name,
            "mime_type": "text/plain",
            "file_size": len(data) if size is None else size,
        }
        content: dict[str, Any] = {"document": document}
        if caption is not None:
            content["caption"] = caption
        message = self._user_message(chat, user, None, **content)
        self.enqueue({"message": message})
        return message

    def inline_query(self, user: dict, query: str) -> str:
        """A user types `@bot query` in some chat; returns the query's id."""
        query_id = str(next(self._query_ids))
        self.inline_queries[query_id] = {"answer": None}
        self.enqueue({"inline_query": {"id": query_id, "from": user, "query": query, "offset": ""}})
        return query_id

    def choose_inline_result(self, user: dict, result_id: str, query: str = "") -> None:
        """The user sent one of the results (inline feedback on): chosen_inline_result."""
        chosen = {"result_id": result_id, "from": user, "query": query}
        self.enqueue({"chosen_inline_result": chosen})

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
            allowed = self.webhook["allowed_updates"]
            if allowed and not set(body) <= set(allowed):  # Telegram keeps them back too
                return update
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
