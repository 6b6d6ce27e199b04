"""Who gets an answer, and how often: the allowlists, the questions per user, and the reply
limit that keeps one sender's flood from starving the others. `gate` runs before every
handler."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.config import TelegramSettings
from bot.telegram.addressing import command, is_for_me
from bot.telegram.limits import window
from bot.telegram.sending import say
from bot.telegram.services import COMMANDS, Services, services

log = logging.getLogger("bot.telegram")

REFUSAL = "Sorry, this bot only answers its allowed users and chats."
# Replies of any kind per user and rate window, as a multiple of the questions allowed
# (rate_limit_count): with the defaults 30 a minute, far more than anyone types, and a flood
# from one user then takes at most a second of Telegram's 30 messages a second from the others.
REPLIES_PER_QUESTION = 3


def allowed(update: Update, settings: TelegramSettings) -> bool:
    user, chat = update.effective_user, update.effective_chat
    if settings.allowed_user_ids is not None and (
        user is None or user.id not in settings.allowed_user_ids
    ):
        return False
    return settings.allowed_chat_ids is None or (
        chat is not None and chat.id in settings.allowed_chat_ids
    )


def is_admin(update: Update, settings: TelegramSettings) -> bool:
    user = update.effective_user
    return user is not None and user.id in (settings.admin_user_ids or [])


def rate_refusal(shared: Services, update: Update) -> str | None:
    """Counts a question (or timeline) if its sender may ask now; else says when to again."""
    settings = shared.settings
    user_id = update.effective_user.id if update.effective_user else update.effective_chat.id
    wait = shared.rate.acquire(user_id)
    if not wait:
        return None
    log.info("rate_limited user_id=%s wait_s=%.0f", user_id, wait)
    return (
        "You are asking faster than I can answer: at most "
        f"{settings.rate_limit_count} questions per {window(settings.rate_limit_seconds)}. "
        f"Please try again in {max(1, round(wait))} s."
    )


def _sender(update: Update) -> tuple[str, int]:
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return ("chat", update.effective_chat.id if update.effective_chat else 0)


def _asks_whoami(update: Update) -> bool:
    """/whoami is answered outside the allowlists too: it is how a user finds the id to add."""
    message = update.message
    return message is not None and (command(message) or ("", None))[0] == "whoami"


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs first: refuses senders outside the allowlists (once per chat and window, then
    silently), and holds every sender to the reply limit (one notice, then silence)."""
    shared = services(context)
    if not is_for_me(update, context, set(COMMANDS)):
        if not allowed(update, shared.settings):
            raise ApplicationHandlerStop
        return  # chatter in a group: the handlers ignore it, nothing is sent
    if not allowed(update, shared.settings) and not _asks_whoami(update):
        # Once per chat: so that a group learns why the bot stays silent to this sender.
        chat = update.effective_chat.id if update.effective_chat else 0
        if not shared.strangers.acquire((chat, *_sender(update))):
            await say(update, context, REFUSAL)
        raise ApplicationHandlerStop
    verdict, wait = shared.replies.admit(_sender(update))
    if verdict == "reply":
        return
    log.info("flood_limited %s=%s wait_s=%.0f %s", *_sender(update), wait, verdict)
    if verdict == "notice":
        settings = shared.settings
        await say(
            update,
            context,
            "You are sending messages faster than I can answer: at most "
            f"{settings.rate_limit_count * REPLIES_PER_QUESTION} per "
            f"{window(settings.rate_limit_seconds)}. I will answer again in "
            f"{max(1, round(wait))} s.",
        )
    raise ApplicationHandlerStop
