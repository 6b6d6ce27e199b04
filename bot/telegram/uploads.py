"""Articles added and removed from Telegram by the bot's admins (telegram.admin_user_ids): a .txt
document in the seed format, `/add` with the text, or the article pasted or forwarded as a plain
message (bot.uploads.pasted_article tells it from a question); `/remove <article>` with a
confirm button.
The checks, the writing and the indexing are bot.uploads'; here the size is checked before the
file is downloaded (Telegram gives it), and the work runs off the event loop.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.answer_format import HTML, human_date
from bot.telegram.addressing import command_argument
from bot.telegram.guards import is_admin
from bot.telegram.sending import answer_query, send
from bot.telegram.services import services
from bot.uploads import (
    Outcome,
    add_article,
    find_article,
    from_message,
    pasted_article,
    remove_article,
    size_problem,
)
from retrieval.live import LiveRetriever

ADMINS_ONLY = "Only the bot's admins can add or remove articles."
FIXED = "Articles cannot be added or removed here: the bot was started without a seeds folder."
ADD_USAGE = (
    "Send /add, then the article: a title line, a date line (YYYY-MM-DD) and the body; or "
    "send a .txt file in the seed format. /add --replace overwrites an article of the same "
    "date and title."
)
EXPIRED = "This button has expired; send /remove again."
KEPT_REMOVALS = 100


def _live(update: Update, context: ContextTypes.DEFAULT_TYPE) -> LiveRetriever | str:
    """The retriever to change, or why this sender cannot."""
    shared = services(context)
    if not is_admin(update, shared.settings):
        return ADMINS_ONLY
    if not isinstance(shared.retriever, LiveRetriever):
        return FIXED
    return shared.retriever


async def _live_or_refuse(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> LiveRetriever | None:
    """The retriever an admin's message changes; anyone else is told why not (None)."""
    live = _live(update, context)
    if isinstance(live, str):
        await send(context, update.effective_message, HTML.escape(live))
        return None
    return live


async def _run(context: ContextTypes.DEFAULT_TYPE, work: Callable[[], Outcome]) -> Outcome:
    return await asyncio.get_running_loop().run_in_executor(services(context).executor, work)


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A document in a private chat: an admin's article (checked before and after download)."""
    message = update.effective_message
    live = await _live_or_refuse(update, context)
    if live is None:
        return
    document = message.document
    name = document.file_name or "document"
    problem = size_problem(name, document.file_size)
    if problem:
        await send(context, message, HTML.escape(problem))
        return
    try:
        data = bytes(await (await document.get_file()).download_as_bytearray())
    except TelegramError as exc:
        await send(context, message, HTML.escape(f"Not added: could not download {name} ({exc})."))
        return
    replace = "--replace" in (message.caption or "")
    outcome = await _run(context, lambda: add_article(live, data, name, replace=replace))
    await send(context, message, HTML.escape(outcome.text))


async def on_add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/add [--replace] and the article's text."""
    message = update.effective_message
    live = await _live_or_refuse(update, context)
    if live is None:
        return
    text = command_argument(message).strip()
    replace = text.startswith("--replace")
    text = text.removeprefix("--replace").strip()
    if not text:
        await send(context, message, HTML.escape(ADD_USAGE))
        return
    data = from_message(text).encode("utf-8")
    outcome = await _run(context, lambda: add_article(live, data, "message.txt", replace=replace))
    await send(context, message, HTML.escape(outcome.text))


async def add_pasted(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """An admin's plain message that is an article, added as /add adds it; False when it is not
    one (or the sender is no admin): then it is a question."""
    message = update.effective_message
    if not message.text or not is_admin(update, services(context).settings):
        return False
    origin = message.forward_origin  # forwarded: an article, of the day first posted at most
    text = pasted_article(message.text, origin.date.date() if origin is not None else None)
    if text is None:
        return False
    live = await _live_or_refuse(update, context)
    if live is not None:
        outcome = await _run(context, lambda: add_article(live, text.encode(), "message.txt"))
        await send(context, message, HTML.escape(outcome.text))
    return True


async def on_remove(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/remove <file name or title>: asks to confirm with a button."""
    message = update.effective_message
    live = await _live_or_refuse(update, context)
    if live is None:
        return
    article, problem = find_article(live, command_argument(message))
    if article is None:
        await send(context, message, HTML.escape(problem))
        return
    pending: OrderedDict[str, tuple[int, str]] = context.bot_data.setdefault(
        "removals", OrderedDict()
    )
    key = secrets.token_urlsafe(8)
    pending[key] = (message.chat.id, article.source)
    while len(pending) > KEPT_REMOVALS:
        pending.popitem(last=False)
    buttons = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Remove", callback_data=f"rm:{key}"),
          InlineKeyboardButton("Cancel", callback_data=f"rmx:{key}")]]
    )  # fmt: skip
    m = HTML
    text = (
        f"Remove {m.bold(m.escape(article.title))} ({human_date(article.date)}, "
        f"{m.escape(article.source)}) from the articles?"
    )
    await send(context, message, text, buttons)


async def on_remove_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The confirm or cancel button of a /remove: once, by an admin, in its own chat."""
    query = update.callback_query
    action, _, key = (query.data or "").partition(":")
    pending: OrderedDict[str, tuple[int, str]] = context.bot_data.get("removals", OrderedDict())
    found = pending.get(key)
    live = _live(update, context)
    if isinstance(live, str):
        await answer_query(query, live)
        return
    if found is None or query.message is None or found[0] != query.message.chat.id:
        await answer_query(query, EXPIRED)
        return
    del pending[key]
    if action == "rmx":
        outcome = Outcome(False, "Not removed.")
    else:
        outcome = await _run(context, lambda: remove_article(live, found[1]))
    await answer_query(query, outcome.text[:200])
    try:
        await query.edit_message_text(HTML.escape(outcome.text))
    except TelegramError:
        await send(context, query.message, HTML.escape(outcome.text))
