"""The Telegram handlers: each turns an update into a call of the chat's ChatSession and sends
its Reply. Retrieval runs in worker threads, never on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from telegram import BotCommand, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.session import COMMANDS as SESSION_COMMANDS
from bot.session import Reply
from bot.telegram.addressing import command, command_argument, question_in_group, replies_to_me
from bot.telegram.following import on_follow, on_following, on_unfollow_button
from bot.telegram.guards import is_admin, rate_refusal
from bot.telegram.inline import on_chosen_result, on_inline_query
from bot.telegram.paging import on_button, send_reply
from bot.telegram.sending import keep_typing, send
from bot.telegram.services import COMMANDS, services, session
from bot.telegram.uploads import add_pasted, on_add, on_document, on_remove, on_remove_button

log = logging.getLogger("bot.telegram")

T = TypeVar("T")
TYPING_WAIT = 3.0  # longest wait for the first typing action before replying anyway
NON_TEXT_HINT = "I answer text questions only: please type your question."
FAILURE = "Sorry, something went wrong while answering. Please try again."
ADMINS_ONLY = "Only the bot's admins can use /{name}."

# The command menu (setMyCommands): what everyone may use, as /help lists it.
MENU = [
    BotCommand(c.name, c.summary[0].upper() + c.summary[1:])
    for c in SESSION_COMMANDS
    if c.name in COMMANDS and c.menu and not c.admin
]

# Messages without words; a photo or file with a caption is asked its caption instead.
NON_TEXT = (
    filters.Sticker.ALL
    | filters.PHOTO
    | filters.VOICE
    | filters.AUDIO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
    | filters.Document.ALL
    | filters.LOCATION
    | filters.VENUE
    | filters.CONTACT
    | filters.POLL
    | filters.Dice.ALL
)


async def _in_worker(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int | None, work: Callable[[], T]
) -> T:
    """work() in a worker thread; with chat_id, "typing…" is shown there meanwhile."""
    loop = asyncio.get_running_loop()
    executor = services(context).executor
    if chat_id is None:
        return await loop.run_in_executor(executor, work)
    first = asyncio.Event()
    typing = asyncio.create_task(keep_typing(context, chat_id, first))
    try:
        result = await loop.run_in_executor(executor, work)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first.wait(), TYPING_WAIT)  # typing must not follow the reply
        return result
    finally:
        typing.cancel()
        await asyncio.wait([typing])


async def answer_question(
    update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, *, via: str = ""
) -> None:
    """Check, retrieve off the event loop, reply (with a "More" button), log one line, count
    it in the metrics by outcome."""
    taken = time.monotonic()
    metrics = services(context).metrics
    chat = session(update, context)
    message = update.effective_message
    question, refusal = chat.check(text, via=via)
    outcome = "refused"
    if refusal is None and (limited := rate_refusal(services(context), update)):
        refusal, outcome = Reply(limited), "rate_limited"
    if refusal is not None:
        await send_reply(context, message, refusal)
        metrics.question(outcome, reply_seconds=time.monotonic() - taken)
        return
    started = time.monotonic()
    try:
        reply, seconds = await _in_worker(
            context, message.chat.id, lambda: _timed(chat.answer, question)
        )
        await send_reply(context, message, reply)
    except Exception:
        metrics.question("error")
        raise
    metrics.question(
        _outcome(reply), reply_seconds=time.monotonic() - taken, retrieval_seconds=seconds
    )
    _log_question(update, context, question, reply, started)


def _timed(work: Callable[[str], Reply], question: str) -> tuple[Reply, float]:
    """work(question), and the seconds it took."""
    started = time.monotonic()
    reply = work(question)
    return reply, time.monotonic() - started


def _outcome(reply: Reply) -> str:
    """A question's outcome as the metrics count it."""
    answer = reply.answer
    if answer is None or not answer.answered:
        return "refused"
    return "doubtful" if answer.doubtful is not None else "answered"


def _log_question(
    update: Update, context: ContextTypes.DEFAULT_TYPE, question: str, reply: Reply, started: float
) -> None:
    chat, user = update.effective_chat, update.effective_user
    answered = reply.answer is not None and reply.answer.answered
    latency_ms = (time.monotonic() - started) * 1000
    line = (
        f"question update_id={update.update_id} chat_id={chat.id} chat_type={chat.type} "
        f"user_id={user.id if user else '-'} latency_ms={latency_ms:.0f} "
        f"answered={'true' if answered else 'false'} passages={reply.shown} chars={len(question)}"
    )
    if services(context).settings.log_message_text:
        line += " text=" + json.dumps(question, ensure_ascii=False)
    fields = {"update_id": update.update_id, "chat_id": chat.id, "latency_ms": round(latency_ms)}
    log.info("%s", line, extra=fields)  # the fields: for JSON logs (bot.ops.logs)


async def on_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    question = command_argument(update.effective_message)
    await answer_question(update, context, question, via="/ask")


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any text in a private chat is a question, but an admin's pasted or forwarded article (bot.
    telegram.uploads.add_pasted); a photo's or file's caption is a question too."""
    message = update.effective_message
    if await add_pasted(update, context):
        return
    await answer_question(update, context, message.text or message.caption or "")


async def on_group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    question = question_in_group(message, context.bot.username, context.bot.id)
    if question is not None:  # else: chatter between people, not for the bot
        await answer_question(update, context, question)


async def on_timeline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/timeline [topic]: the dated events in date order, paged with a More button."""
    message = update.effective_message
    topic = command_argument(message)
    limited = rate_refusal(services(context), update)
    if limited:
        await send(context, message, limited)
        return
    chat = session(update, context)
    reply = await _in_worker(context, None, lambda: chat.timeline(topic))
    await send_reply(context, message, reply)


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other command of the session's: /start, /help, /sources, /more, /reload..."""
    message: Message = update.effective_message  # an edited command too
    name, _ = command(message) or ("", None)
    chat = session(update, context)
    found = chat.commands.get(name)
    if found is None:
        reply = chat.command("/" + name)
    elif found.admin and not is_admin(update, services(context).settings):
        reply = Reply(ADMINS_ONLY.format(name=found.name))
    elif found.slow:
        argument = command_argument(message)
        reply = await _in_worker(context, None, lambda: chat.command(name, argument))
    else:
        reply = chat.command(name, command_argument(message))
    await send_reply(context, message, reply)


async def on_whoami(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/whoami: the sender's and the chat's ids, for the admin list and the allowlists."""
    user, chat = update.effective_user, update.effective_chat
    reply = session(update, context).whoami(user.id if user else chat.id, chat.id)
    await send_reply(context, update.effective_message, reply)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help: the commands, the admin ones (/reload, /add, /remove) too for an admin."""
    admin = is_admin(update, services(context).settings)
    chat = session(update, context)
    await send_reply(context, update.effective_message, Reply(chat.help(admin=admin)))


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    name, _ = command(message) or ((message.text or "").split(" ")[0].lstrip("/"), None)
    await send_reply(context, message, session(update, context).command("/" + name))


async def on_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message.chat.type == ChatType.PRIVATE or replies_to_me(message, context.bot.id):
        await send(context, message, NON_TEXT_HINT)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with the update id, tell the user, keep running."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    chat = update.effective_chat if isinstance(update, Update) else None
    log.error(
        "update_id=%s failed: %s: %s",
        update_id,
        type(error).__name__,
        error,
        exc_info=error,
        extra={"update_id": update_id, "chat_id": chat.id if chat else None},
    )
    if not isinstance(update, Update):
        return
    if update.callback_query:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer(FAILURE)
    message = update.effective_message
    if message is not None:
        with contextlib.suppress(TelegramError):
            await send(context, message, FAILURE)


def handlers() -> list[BaseHandler]:
    """Every handler, in the order they are tried."""
    special = {"ask": on_ask, "timeline": on_timeline, "whoami": on_whoami}
    special |= {"follow": on_follow, "unfollow": on_follow, "following": on_following}
    special |= {"add": on_add, "remove": on_remove, "help": on_help}
    return [
        *(CommandHandler(name, special.get(name, on_command)) for name in COMMANDS),
        MessageHandler(filters.ChatType.PRIVATE & filters.Document.ALL, on_document),
        MessageHandler(
            filters.ChatType.PRIVATE & (filters.TEXT | filters.CAPTION) & ~filters.COMMAND,
            on_private_text,
        ),
        MessageHandler(
            filters.ChatType.GROUPS & (filters.TEXT | filters.CAPTION) & ~filters.COMMAND,
            on_group_text,
        ),
        MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, on_unknown_command),
        MessageHandler(NON_TEXT, on_non_text),
        InlineQueryHandler(on_inline_query),
        ChosenInlineResultHandler(on_chosen_result),
        CallbackQueryHandler(on_unfollow_button, pattern=r"^unf:"),
        CallbackQueryHandler(on_remove_button, pattern=r"^rmx?:"),
        CallbackQueryHandler(on_button),
    ]
