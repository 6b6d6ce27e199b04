"""Replies that go on: a session's Reply sent as one or more messages, with a "More" button
while its answer or timeline has more to show, and what a press of that button shows."""

from __future__ import annotations

import contextlib
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.pages import PassagePager, TimelinePager
from bot.session import Reply
from bot.telegram.html import chunks
from bot.telegram.sending import answer_query, send
from bot.telegram.services import services
from bot.telegram.store import PendingQuestion

log = logging.getLogger("bot.telegram")

EXPIRED = "This button has expired. Please ask the question again."
ALREADY_SHOWN = "Those passages are already shown above."


def more_button(key: str, pager: PassagePager | TimelinePager) -> InlineKeyboardMarkup:
    left = pager.remaining
    label = f"More ({left} {pager.unit}{'s' if left != 1 else ''})"
    data = f"more:{key}:{pager.next_index}"
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])


def parse_more(data: str | None) -> tuple[str, int] | None:
    """(key, first item to show) of a More button's callback data, or None if it is none."""
    match = re.fullmatch(r"more:([A-Za-z0-9_-]{1,16}):(\d{1,9})", data or "")
    return (match[1], int(match[2])) if match else None


async def _send_pages(
    context: ContextTypes.DEFAULT_TYPE, to: Message, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """The text in as many messages as it needs, the button under the last."""
    pieces = chunks(text)
    for n, piece in enumerate(pieces):
        await send(context, to, piece, markup if n == len(pieces) - 1 else None)


async def send_reply(context: ContextTypes.DEFAULT_TYPE, to: Message, reply: Reply) -> None:
    """A session's reply; if it has more to show, with a More button (forgotten again if the
    message never went out)."""
    markup, key = None, None
    if reply.pager is not None:
        store = services(context).questions
        key = store.add(PendingQuestion(to.chat.id, reply.pager))
        markup = more_button(key, reply.pager)
    try:
        await _send_pages(context, to, reply.text, markup)
    except BaseException:
        if key:
            services(context).questions.discard(key)
        raise


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "More" button: the next page as a new message, exactly once."""
    query = update.callback_query
    parsed = parse_more(query.data)
    item = services(context).questions.get(parsed[0]) if parsed else None
    origin = query.message
    if parsed is None or item is None or origin is None or item.chat_id != origin.chat.id:
        await answer_query(query, EXPIRED)
        return
    key, start = parsed
    pager = item.pager
    if start != pager.next_index or not pager.remaining:
        await answer_query(query, ALREADY_SHOWN)
        return
    text, count = pager.turn()  # moves on before any await: a second press is "already shown"
    await answer_query(query)
    markup = more_button(key, pager) if pager.remaining else None
    try:
        await _send_pages(context, origin, text, markup)
    except BaseException:
        if pager.next_index == start + count:
            pager.next_index = start  # nothing was shown: the button works again
        raise
    log.info(
        "more chat_id=%s shown=%d from=%d remaining=%d",
        origin.chat.id,
        count,
        start + 1,
        pager.remaining,
    )
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(reply_markup=None)
