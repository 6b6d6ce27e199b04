"""`newsbot try-telegram`: the real bot, without a token, against the Bot API server of our own
(bot.telegram.local_api) on 127.0.0.1, and a terminal client in which a person types as a
Telegram user: in a private chat, or (/group) in a group where the bot answers when mentioned or
replied to. Replies are shown as Telegram renders them, their buttons listed as [1] More (...)
and pressed with !1. /quit or Ctrl-D stops the client, the bot and the server.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from bot.answer_format import ANSI, PLAIN, Markup
from bot.config import AppConfig
from bot.runtime import Progress
from bot.telegram.local_api import FakeBotApi, Sent
from bot.telegram.local_api.running import pointed_at, running_bot
from retrieval.live import Answering

BOT_NAME = "NewsTestBot"
# The shape of a real token (bot id, colon, 35 characters); only the local server accepts it.
TOKEN = "7000000001:AAtry-telegram-local-only-not-a-token"
YOU = 1001  # the user id of "you"; your private chat has the same id
GROUP = -1001000000001  # a supergroup's id, as Telegram numbers them
TICK = 0.05  # seconds between looks at what the bot sent
QUIET = 0.5  # a reply is complete once the bot has sent nothing for this long
IDLE = 2.0  # the bot took the message and did nothing for this long: it does not answer
REPLY_WAIT = 120.0  # longest wait for an answer (the first loads the model's session)
START_WAIT = 60.0
HELP = (
    "Local Telegram on {address}: the real bot @{bot}, no token, nothing leaves this machine.\n"
    "You are “you” (user id {you}) in a private chat with the bot. Type a message or a command "
    "(/start, /help, /whoami...).\n"
    "  /group    the group chat: the bot answers when mentioned (@{bot} ...), to /ask, or to a\n"
    "            reply (start the line with > to reply to its last message)\n"
    "  /private  back to the private chat\n"
    "  !1        press the button listed as [1] under the last reply\n"
    "  /quit     leave (or Ctrl-D)"
)
NOT_ADDRESSED = ": in a group the bot answers when mentioned (@{bot}), to /ask, or to a reply"


def render(sent: Sent, markup: Markup) -> str:
    """A bot message's text with its bold and italic as the terminal shows them (entities
    count UTF-16 code units, as Telegram's do)."""
    raw = sent.text.encode("utf-16-le", "surrogatepass")
    styles = {"bold": markup.bold, "italic": markup.dim}
    out, at = [], 0
    entities = sorted(sent.message.get("entities", []), key=lambda e: e["offset"])
    for entity in entities:
        style = styles.get(entity["type"])
        start, end = 2 * entity["offset"], 2 * (entity["offset"] + entity["length"])
        if style is None or start < at:  # another style, or nested in one shown already
            continue
        out.append(raw[at:start].decode("utf-16-le", "surrogatepass"))
        out.append(style(raw[start:end].decode("utf-16-le", "surrogatepass")))
        at = end
    out.append(raw[at:].decode("utf-16-le", "surrogatepass"))
    return "".join(out)


class Client:
    """The terminal side: a line typed becomes an update, the bot's messages become lines."""

    def __init__(self, api: FakeBotApi, out: TextIO, markup: Markup) -> None:
        self.api, self.out, self.markup = api, out, markup
        self.you = api.user(YOU, "You", username="you")
        self.private = api.private_chat(self.you)
        self.group = api.group_chat(GROUP, "Newsbot sandbox")
        self.chat = self.private
        self.buttons: list[tuple[Sent, dict[str, Any]]] = []

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    @property
    def prompt(self) -> str:
        return "you> " if self.chat is self.private else "you@group> "

    async def run(self, read_line) -> None:  # noqa: ANN001 - async (prompt) -> str | None
        while (line := await read_line(self.prompt)) is not None:
            line = line.strip()
            if line in ("/quit", "/exit"):
                return
            if line:
                await self.typed(line)

    async def typed(self, line: str) -> None:
        if line in ("/group", "/private"):
            self.chat = self.group if line == "/group" else self.private
            where = "the group “Newsbot sandbox”" if line == "/group" else "the private chat"
            self.say(f"(now in {where})")
            return
        if line.startswith("!"):
            await self.press(line[1:])
            return
        reply_to = None
        if line.startswith(">"):
            line, reply_to = line[1:].strip(), self.last_from_bot()
            if reply_to is None:
                self.say("(nothing of the bot's to reply to in this chat yet)")
                return
        seen = len(self.api.sent_to(self.chat["id"]))
        message = self.api.send_text(self.chat, self.you, line, reply_to=reply_to)
        await self.show(await self.replies(seen, self.api.update_id_of(message)))

    def last_from_bot(self) -> dict[str, Any] | None:
        sent = self.api.sent_to(self.chat["id"])
        return sent[-1].message if sent else None

    async def press(self, number: str) -> None:
        if not number.isdigit() or not 1 <= int(number) <= len(self.buttons):
            self.say(f"(no button [{number}]: {len(self.buttons)} listed under the last reply)")
            return
        sent, button = self.buttons[int(number) - 1]
        chat_id = sent.chat_id
        seen = len(self.api.sent_to(chat_id))
        query = self.api.press(sent, button["callback_data"], self.you)
        replies = await self.replies(seen, max(self.api.enqueued_at), chat_id)
        notices = [a["text"] for a in self.api.answers_to(query) if a.get("text")]
        for notice in notices:  # Telegram shows it over the chat for a moment
            self.say(f"(notice: {notice})")
        if replies or not notices:
            await self.show(replies)

    async def replies(self, seen: int, update_id: int, chat_id: int | None = None) -> list[Sent]:
        """What the bot sends to the chat for one update: once a message came and then
        nothing for QUIET; none if it took the update and did nothing (not even "typing")."""
        chat_id = self.chat["id"] if chat_id is None else chat_id
        started = last = time.monotonic()
        count, typing = seen, False
        taken = lambda: self.api.confirmed_offset > update_id  # noqa: E731 - it asked for the next
        while time.monotonic() - started < REPLY_WAIT:
            await asyncio.sleep(TICK)
            now, sent = time.monotonic(), self.api.sent_to(chat_id)
            typing = typing or any(
                c.at > started and c.params.get("chat_id") == chat_id
                for c in self.api.calls_to("sendChatAction")
            )
            if len(sent) > count:
                count, last = len(sent), now
            elif count > seen and now - last >= QUIET:
                break
            elif count == seen and not typing and now - last >= IDLE and taken():
                break  # taken, and left unanswered
        return self.api.sent_to(chat_id)[seen:]

    async def show(self, replies: list[Sent]) -> None:
        if not replies:
            in_group = self.chat is self.group
            self.say(f"(no reply{NOT_ADDRESSED.format(bot=BOT_NAME) if in_group else ''})")
            return
        buttons = [(sent, b) for sent in replies for b in sent.buttons]
        if buttons:
            self.buttons = buttons
        for sent in replies:
            self.say("bot: " + render(sent, self.markup).replace("\n", "\n     "))
            for n, (owner, button) in enumerate(self.buttons, 1):
                if owner is sent:
                    self.say(f"     [{n}] {button['text']}")


def _read_line(loop: asyncio.AbstractEventLoop):  # noqa: ANN202 - the client's line reader
    """input() in a daemon thread, so that the event loop (the bot, the server) keeps running
    while the user types, and an unfinished line never holds up the exit."""

    async def read(prompt: str) -> str | None:
        done: asyncio.Future[str | None] = loop.create_future()

        def work() -> None:
            try:
                line: str | None = input(prompt)
            except EOFError:
                line = None
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(line))

        threading.Thread(target=work, name="try-telegram-input", daemon=True).start()
        return await done

    return read


async def _sandbox(config: AppConfig, retriever: Answering, out: TextIO, markup: Markup) -> None:
    async with FakeBotApi(TOKEN, username=BOT_NAME) as api:
        # poll_timeout: a stop waits at most this long for the long poll to end
        config = pointed_at(config, api, mode="polling", poll_timeout=1)
        async with running_bot(config, retriever, TOKEN, start_wait=START_WAIT):
            client = Client(api, out, markup)
            client.say(HELP.format(address=f"{api.host}:{api.port}", bot=BOT_NAME, you=YOU))
            await client.run(_read_line(asyncio.get_running_loop()))


def run_sandbox(config: AppConfig, *, seeds_dir: Path | None = None, progress: Progress) -> int:
    """`newsbot try-telegram`: the model first (`progress` shows its loading), then the
    server, the bot and the client."""
    from bot.ingest.poller import updating
    from bot.runtime import open_retriever

    retriever = open_retriever(config, seeds_dir=seeds_dir, progress=progress)
    markup = ANSI if sys.stdout.isatty() else PLAIN
    with updating(config, retriever):  # as the real bot: the seeds watcher and corpus.feeds
        asyncio.run(_sandbox(config, retriever, sys.stdout, markup))
    print(file=sys.stdout, flush=True)  # the prompt's line ends
    return 0
