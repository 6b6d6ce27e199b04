"""Followed topics on Telegram: /follow, /unfollow and /following (a button per topic to
unfollow it), in a group for its admins only unless `telegram.follow_in_groups: members`; and
the Pusher, which sends each chat the new articles about its topics.

The Pusher listens to the LiveRetriever's reloads (the watcher, /reload). It matches in a thread
of its own, never in the workers that answer questions, and sends one message at a time, paced
(PUSH_GAP) through the same rate limiter and retry rules as replies, so that Telegram's 30
messages a second are never all taken by pushes. A chat that blocked or removed the bot, or no
longer exists, loses its topics at the first failed push (logged); nothing is retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from concurrent.futures import Future, ThreadPoolExecutor

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ContextTypes

from bot.answer_format import HTML, shorten
from bot.config import AppConfig, ConfigError
from bot.follow.chat import ChatFollows
from bot.follow.pushes import Outgoing, find_pushes, news_sources, plan
from bot.follow.store import FILE_NAME, FollowStore, StoreError
from bot.session import Reply
from bot.telegram.addressing import command, command_argument
from bot.telegram.guards import is_admin
from bot.telegram.html import MAX_CHARS
from bot.telegram.paging import send_reply
from bot.telegram.sending import NO_PREVIEW, answer_query, send
from bot.telegram.services import services, session
from retrieval.index.local import SyncReport
from retrieval.live import LiveRetriever

log = logging.getLogger("bot.telegram")

PUSH_GAP = 0.1  # seconds between two pushes: at most 10 a second, answers keep the other 20
GROUP_ADMINS = "In this group only its admins can /{name}."
GONE = "This topic is no longer followed here."
_UNFOLLOW = re.compile(r"unf:(\d{1,12})")
# Failures that mean the bot can never write to the chat again: drop its topics.
_GONE_CHAT = ("chat not found", "bot was kicked", "user is deactivated", "chat was deleted")


def open_store(config: AppConfig) -> FollowStore:
    """The store in the cache folder; in memory (topics lost at exit) when there is none."""
    cache = config.path_setting("corpus.cache_dir")
    if cache is None:
        log.warning("corpus.cache_dir is null: followed topics are kept in memory until exit")
    try:
        return FollowStore(cache.path / FILE_NAME if cache else None)
    except StoreError as exc:
        raise ConfigError(f"corpus.cache_dir: {exc}") from None


async def _may_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Anyone in a private chat; in a group its admins (or the bot's), unless members may."""
    settings = services(context).settings
    chat, user = update.effective_chat, update.effective_user
    if chat.type == ChatType.PRIVATE or settings.follow_in_groups == "members":
        return True
    if is_admin(update, settings):
        return True
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("could not check chat_id=%s admins (getChatMember): %s", chat.id, exc)
        return False
    return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


async def on_follow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/follow and /unfollow: the session's reply, for those who may change the chat's topics."""
    message = update.effective_message
    name, _ = command(message) or ("follow", None)
    if not await _may_change(update, context):
        await send_reply(context, message, Reply(GROUP_ADMINS.format(name=name)))
        return
    reply = session(update, context).command(name, command_argument(message))
    await send_reply(context, message, reply)


def _buttons(chat: ChatFollows) -> InlineKeyboardMarkup | None:
    rows = [
        [InlineKeyboardButton(f"Unfollow “{shorten(t.topic, 40)}”", callback_data=f"unf:{t.id}")]
        for t in chat.topics()
    ]
    return InlineKeyboardMarkup(rows) if rows else None


async def on_following(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/following: the chat's topics, each with a button that unfollows it."""
    chat = session(update, context)
    text = chat.command("following").text
    markup = _buttons(chat.follows) if chat.follows is not None else None
    await send(context, update.effective_message, text, markup)


async def on_unfollow_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An unfollow button: the topic dropped if it is this chat's (a forged or old id is not)."""
    query = update.callback_query
    found = _UNFOLLOW.fullmatch(query.data or "")
    chat = session(update, context)
    if found is None or chat.follows is None or query.message is None:
        await answer_query(query, GONE)
        return
    if not await _may_change(update, context):
        await answer_query(query, GROUP_ADMINS.format(name="unfollow"))
        return
    dropped = chat.follows.store.unfollow_id(chat.follows.chat_id, int(found[1]))
    await answer_query(query, GONE if dropped is None else f"No longer following “{dropped}”.")
    with contextlib.suppress(TelegramError):  # the list as it is now, the button gone
        await query.edit_message_reply_markup(_buttons(chat.follows))


class Pusher:
    """Sends the chats the new articles about their topics (see the module's docstring)."""

    def __init__(self, app: Application, retriever: LiveRetriever, store: FollowStore) -> None:
        self.app = app
        self.retriever = retriever
        self.store = store
        self.loop: asyncio.AbstractEventLoop | None = None  # set once the bot runs
        self._matching = ThreadPoolExecutor(1, thread_name_prefix="follow")
        self._sending: set[Future] = set()

    def start(self) -> None:
        """From the bot's event loop, once it runs: reloads from now on are pushed."""
        self.loop = asyncio.get_running_loop()
        self.retriever.listeners.append(self.seeds_reloaded)

    def seeds_reloaded(self, report: SyncReport) -> None:
        """A LiveRetriever listener (the reloading thread): matching goes to our own thread."""
        sources = news_sources(report)
        if sources and self.loop is not None:
            with contextlib.suppress(RuntimeError):  # shutting down
                self._matching.submit(self._match, sources)

    def _match(self, sources: tuple[str, ...]) -> None:
        try:
            pushes = find_pushes(self.store, self.retriever.current, sources)
            settings = self.app.bot_data["services"].settings
            out = plan(pushes, self.store, settings.follow_pushes_per_hour, HTML, MAX_CHARS)
        except Exception:
            log.exception("matching the followed topics failed; no pushes for %s", sources)
            return
        if out and self.loop is not None:
            future = asyncio.run_coroutine_threadsafe(self._send_all(out), self.loop)
            self._sending.add(future)
            future.add_done_callback(self._sending.discard)

    async def _send_all(self, out: list[Outgoing]) -> None:
        gone: set[int] = set()  # chats dropped: their other messages are not tried
        for item in out:
            if item.chat_id not in gone and not await self._send(item):
                gone.add(item.chat_id)
            await asyncio.sleep(PUSH_GAP)

    async def _send(self, item: Outgoing) -> bool:
        """False when the chat is gone for good (and its topics dropped)."""
        pushes = self.app.bot_data["services"].metrics.pushes
        try:
            await self.app.bot.send_message(
                item.chat_id, item.text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
            )
            log.info("push chat_id=%s counted=%s", item.chat_id, item.counted)
            pushes.labels("sent").inc()
        except (Forbidden, BadRequest) as exc:  # Forbidden: blocked by the user, kicked
            if isinstance(exc, Forbidden) or any(w in str(exc).lower() for w in _GONE_CHAT):
                self.store.drop_chat(item.chat_id, str(exc))
                pushes.labels("chat_gone").inc()
                return False
            log.warning("push to chat_id=%s failed: %s", item.chat_id, exc)
            pushes.labels("failed").inc()
        except TelegramError as exc:  # the rate limiter retried already
            log.warning("push to chat_id=%s failed: %s", item.chat_id, exc)
            pushes.labels("failed").inc()
        return True

    async def stop(self) -> None:
        """No new pushes; the matching under way ends, the sends under way are cancelled."""
        with contextlib.suppress(ValueError):
            self.retriever.listeners.remove(self.seeds_reloaded)
        self.loop = None
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._matching.shutdown(wait=True, cancel_futures=True)
        )
        for future in list(self._sending):
            future.cancel()
