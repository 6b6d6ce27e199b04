"""The Telegram front end: `python -m bot telegram`.

`build_application` wires the handlers around a loaded retriever; `serve` runs it (long polling
or webhook) until SIGINT/SIGTERM, answering the updates in flight before it returns;
`run_telegram` is the command: secrets and settings first, then the model, then `serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.answer_format import (
    HTML,
    fit_answer,
    human_date,
    language_problem,
    reload_message,
    render_more,
    render_sources,
    render_timeline,
    shorten,
    shortest_passage,
)
from bot.answer_format import example_questions as shared_examples
from bot.config import AppConfig, ConfigError, TelegramSettings
from bot.telegram_support import (
    PendingQuestion,
    QuestionStore,
    ReplyLimit,
    RetryingRateLimiter,
    UserRateLimit,
    check_webhook_settings,
    read_token,
    read_webhook_secret,
    redact_secrets,
)
from bot.telegram_webhook import WebhookServer
from retrieval.question.followup import Conversation
from retrieval.text.clean import clean_question

log = logging.getLogger("bot.telegram")

MAX_CHARS = 4096  # Telegram's limit for one message
ALLOWED_UPDATES = ["message", "callback_query"]
TYPING_REPEAT = 4.5  # a typing status lasts about 5 s
TYPING_WAIT = 3.0  # longest wait for the first typing action before replying anyway
KEPT_QUESTIONS = 1000  # questions whose "More" button still works
# httpx connections for sending. httpcore scans every pooled connection for each request, so a
# big pool costs more CPU than it saves; 16 parallel sends are well above Telegram's 30 msg/s.
SEND_CONNECTIONS = 16
POOL_WAIT = 20.0  # seconds a send may wait for a free connection
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

TIMELINE_PAGE = 10  # events per timeline message

COMMANDS = [
    BotCommand("ask", "Ask a question about the articles"),
    BotCommand("timeline", "Dated events in date order, optionally about a topic"),
    BotCommand("sources", "The articles, with their dates"),
    BotCommand("help", "How to ask"),
    BotCommand("start", "Greeting and example questions"),
]
# /reload is for admins (telegram.admin_user_ids): handled, but not offered in everyone's menu.
COMMAND_NAMES = {c.command for c in COMMANDS} | {"reload"}

NON_TEXT_HINT = "I answer text questions only: please type your question."
REFUSAL = "Sorry, this bot only answers its allowed users and chats."
FAILURE = "Sorry, something went wrong while answering. Please try again."
EXPIRED = "This button has expired. Please ask the question again."
ALREADY_SHOWN = "Those passages are already shown above."
UNKNOWN_COMMAND = "I don't know that command. /help lists what I can do."
# Replies of any kind per user and rate window, as a multiple of the questions allowed
# (rate_limit_count): with the defaults 30 a minute, far more than anyone types, and a flood
# from one user then takes at most a second of Telegram's 30 messages a second from the others.
REPLIES_PER_QUESTION = 3

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


@dataclass
class Services:
    """Everything the handlers share, kept in `bot_data["services"]`."""

    settings: TelegramSettings
    retriever: Any  # retrieval.pipeline.Retriever: .ask(question) and .articles
    executor: ThreadPoolExecutor
    rate: UserRateLimit  # questions per user
    replies: ReplyLimit  # every reply per user: commands, buttons and hints too
    strangers: UserRateLimit  # refusals outside the allowlists: one per chat, sender and window
    questions: QuestionStore  # per-question "More" state, bounded
    examples: list[str]


def _services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.bot_data["services"]


# --------------------------------------------------------------------------- texts


def example_questions(retriever: Any, settings: TelegramSettings) -> list[str]:
    return shared_examples(retriever.articles, settings.example_questions)


def _window(seconds: float) -> str:
    named = {60: "minute", 3600: "hour", 86400: "day"}
    if seconds in named:
        return named[seconds]
    return f"{seconds:g} seconds"


def greeting(services: Services, private: bool) -> str:
    articles = sorted(services.retriever.articles, key=lambda a: (a.date, a.title), reverse=True)
    count = len(articles)
    lines = [
        f"Hello! I answer questions about {count} news article{'s' if count != 1 else ''} "
        "with the passage that answers, its article and date:"
    ]
    for article in articles[:5]:
        title = html.escape(shorten(article.title, 300), quote=False)  # cut, then escaped
        lines.append(f"• {title} ({human_date(article.date)})")
    if count > 5:
        lines.append(f"… and {count - 5} more: /sources")
    lines += ["", "Try for example:"]
    lines += [f"• <i>{html.escape(q, quote=False)}</i>" for q in services.examples]
    lines.append("")
    if private:
        lines.append("Just send me your question. /help explains more.")
    else:
        lines.append(
            "Here, write /ask and your question, mention me, or reply to one of my messages. "
            "/help explains more."
        )
    return "\n".join(lines)


def help_text(services: Services, username: str) -> str:
    s = services.settings
    example = html.escape(services.examples[0], quote=False)
    return "\n".join(
        [
            "<b>How to ask</b>",
            f"Send me a question about the news articles, e.g. <i>{example}</i>",
            "I reply with the passage that answers it (its key sentence in bold), the article's "
            "title and date, then a few more passages, shortened. Press <b>More</b> under an "
            "answer for further passages.",
            "",
            "Dates work too: <i>What happened on 5 January?</i>, <i>What is the latest news "
            "about …?</i>, <i>When was … arrested?</i>; /timeline lists the dated events.",
            "",
            f"In a group, write /ask <i>question</i>, mention @{html.escape(username)} in your "
            "question, or reply to one of my messages.",
            "",
            f"Questions can be up to {s.max_question_chars} characters; "
            f"at most {s.rate_limit_count} questions per {_window(s.rate_limit_seconds)}.",
            "",
            "<b>Commands</b>",
            "/ask <i>question</i> — ask a question",
            "/timeline [<i>topic</i>] — the dated events in date order",
            "/sources — the articles I know, with their dates",
            "/help — this help",
            "/start — greeting and example questions",
        ]
    )


_HTML_PIECE = re.compile(r"<(/?)([a-zA-Z-]+)[^>]*>|&#?[a-zA-Z0-9]+;|.", re.DOTALL)


def cut_html(text: str, limit: int) -> str:
    """Telegram HTML cut to at most limit characters with an ellipsis: never inside a tag or an
    entity ("&am…" is a 400 from Telegram), and every tag left open closed again."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    open_tags: list[str] = []
    closing = 0  # characters the closing tags of open_tags take
    for piece in _HTML_PIECE.finditer(text):
        token, slash, name = piece.group(0), piece.group(1), piece.group(2)
        if name and slash:  # a closing tag: always fits, it was reserved
            if open_tags and open_tags[-1] == name.lower():
                open_tags.pop()
                closing -= len(name) + 3
            kept.append(token)
            used += len(token)
            continue
        grows = len(name) + 3 if name else 0
        if used + len(token) + closing + grows + 1 > limit:  # + 1: the ellipsis
            break
        kept.append(token)
        used += len(token)
        if name:
            open_tags.append(name.lower())
            closing += grows
    return "".join(kept) + "…" + "".join(f"</{name}>" for name in reversed(open_tags))


def _chunks(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Whole lines packed into messages of at most limit characters; a longer line is cut."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        line = cut_html(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            candidate = line
        current = candidate
    if current:
        chunks.append(current)
    return chunks


# --------------------------------------------------------------------------- addressing


def _utf16_cut(text: str, offset: int, length: int) -> str:
    """text without the entity at offset/length, which Telegram counts in UTF-16 units."""
    raw = text.encode("utf-16-le")
    before = raw[: 2 * offset].decode("utf-16-le", errors="ignore")
    after = raw[2 * (offset + length) :].decode("utf-16-le", errors="ignore")
    return f"{before} {after}"


def _tidy(question: str) -> str:
    return re.sub(r"^[\s,:;.!—–-]+", "", question).strip()


def _command_entity(message: Message) -> MessageEntity | None:
    for entity in message.entities:
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            return entity
    return None


def _command(message: Message) -> tuple[str, str | None] | None:
    """(command, @target or None) if the message starts with a bot command."""
    entity = _command_entity(message)
    if entity is None:
        return None
    name, _, target = (message.text or "")[1 : entity.length].partition("@")
    return name.lower(), target or None


def _mention_of_me(message: Message, username: str) -> MessageEntity | None:
    entities = (
        message.parse_entities([MessageEntity.MENTION])
        if message.text
        else message.parse_caption_entities([MessageEntity.MENTION])
    )
    for entity, text in entities.items():
        if text[1:].lower() == username.lower():
            return entity
    return None


def _replies_to_me(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def question_in_group(message: Message, username: str, bot_id: int) -> str | None:
    """The question of a group message addressed to the bot, or None for ordinary chatter."""
    text = message.text or message.caption or ""
    mention = _mention_of_me(message, username)
    if mention is not None:
        return _tidy(_utf16_cut(text, mention.offset, mention.length))
    if _replies_to_me(message, bot_id):
        return _tidy(text)
    return None


def _is_for_me(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the bot would act on this update (so a refusal is due, not silence)."""
    if update.callback_query:
        return True
    message = update.effective_message
    if message is None:
        return False
    if message.chat.type == ChatType.PRIVATE:
        return True
    bot = context.bot
    command = _command(message)
    if command:
        name, target = command
        return name in COMMAND_NAMES and (target is None or target.lower() == bot.username.lower())
    if message.text or message.caption:
        return question_in_group(message, bot.username, bot.id) is not None
    return _replies_to_me(message, bot.id)


def _allowed(update: Update, settings: TelegramSettings) -> bool:
    user, chat = update.effective_user, update.effective_chat
    if settings.allowed_user_ids is not None and (
        user is None or user.id not in settings.allowed_user_ids
    ):
        return False
    return settings.allowed_chat_ids is None or (
        chat is not None and chat.id in settings.allowed_chat_ids
    )


# --------------------------------------------------------------------------- sending


async def _send(
    context: ContextTypes.DEFAULT_TYPE,
    to: Message,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Message:
    """One HTML message in the chat of `to`; in groups it quotes `to` (if it still exists)."""
    quote = None
    if to.chat.type != ChatType.PRIVATE:
        quote = ReplyParameters(message_id=to.message_id, allow_sending_without_reply=True)
    topic = to.message_thread_id if getattr(to, "is_topic_message", False) else None
    return await context.bot.send_message(
        chat_id=to.chat.id,
        text=text,
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        reply_parameters=quote,
        message_thread_id=topic,
        link_preview_options=NO_PREVIEW,
    )


async def _answer_query(query: CallbackQuery, text: str | None = None) -> None:
    try:
        await query.answer(text=text)
    except TelegramError as exc:
        log.warning("could not answer callback query: %s", exc)


async def _keep_typing(context: ContextTypes.DEFAULT_TYPE, chat_id: int, first: asyncio.Event):
    while True:
        try:
            await context.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
        except Exception as exc:  # cosmetic: never let it fail an answer
            log.debug("typing action failed: %s", exc)
        finally:
            first.set()
        await asyncio.sleep(TYPING_REPEAT)


async def _retrieve(context: ContextTypes.DEFAULT_TYPE, chat_id: int, question: str) -> Any:
    """Retriever.ask in the worker threads, showing "typing…" meanwhile."""
    services = _services(context)
    first = asyncio.Event()
    typing = asyncio.create_task(_keep_typing(context, chat_id, first))
    try:
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(services.executor, services.retriever.ask, question)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first.wait(), TYPING_WAIT)  # typing must not follow the reply
        return answer
    finally:
        typing.cancel()
        await asyncio.wait([typing])


def _more_button(
    key: str, start: int, remaining: int, what: str = "passage"
) -> InlineKeyboardMarkup:
    label = f"More ({remaining} {what}{'s' if remaining != 1 else ''})"
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"more:{key}:{start}")]]
    )


def more_page(item: PendingQuestion, start: int, page_size: int) -> tuple[str, int]:
    """The text of the next "More" page and how many passages it holds (within MAX_CHARS)."""
    if item.timeline:
        return timeline_page(item.question, item.hits, start, TIMELINE_PAGE)
    asked = html.escape(shorten(item.question, 100), quote=False)
    header = f"More for “{asked}”:\n\n"
    hits = list(item.hits[start : start + page_size])
    for count in range(len(hits), 0, -1):
        text = header + render_more(hits[:count], HTML, first_number=start + 1)
        if len(text) <= MAX_CHARS:
            return text, count
    prefix = header + f"{start + 1}. "
    return prefix + shortest_passage(hits[0], HTML, MAX_CHARS - len(prefix), 250), 1


def timeline_page(heading: str, events: Any, start: int, page_size: int) -> tuple[str, int]:
    """Timeline lines from start, as many of page_size as fit in one message."""
    header = html.escape(shorten(heading, 200), quote=False) + "\n"
    page = list(events[start : start + page_size])
    for count in range(len(page), 0, -1):
        text = header + render_timeline(page[:count], HTML, first_number=start + 1)
        if len(text) <= MAX_CHARS:
            return text, count
    line = render_timeline(page[:1], HTML, first_number=start + 1)
    return cut_html(header + line, MAX_CHARS), 1


# --------------------------------------------------------------------------- questions


def _refusal(question: str, services: Services, user_id: int, *, via_ask: bool) -> str | None:
    """Why this question gets no retrieval (empty, too long, rate limit), or None."""
    settings = services.settings
    if not question:
        example = html.escape(services.examples[0], quote=False)
        if via_ask:
            return f"Please put your question after /ask, e.g. <code>/ask {example}</code>"
        return f"Please type a question, e.g. <i>{example}</i>"
    if len(question) > settings.max_question_chars:
        return (
            f"That message is {len(question):,} characters long. Please ask in at most "
            f"{settings.max_question_chars} characters."
        )
    return _rate_refusal(services, user_id)


def _rate_refusal(services: Services, user_id: int) -> str | None:
    """Counts the request if it may go ahead; else says when to try again."""
    settings = services.settings
    wait = services.rate.acquire(user_id)
    if wait:
        log.info("rate_limited user_id=%s wait_s=%.0f", user_id, wait)
        return (
            "You are asking faster than I can answer: at most "
            f"{settings.rate_limit_count} questions per {_window(settings.rate_limit_seconds)}. "
            f"Please try again in {max(1, round(wait))} s."
        )
    return None


async def answer_question(
    update: Update, context: ContextTypes.DEFAULT_TYPE, question: str, *, via_ask: bool = False
) -> None:
    """Check, retrieve off the event loop, reply (with a "More" button), log one line."""
    services = _services(context)
    settings = services.settings
    message = update.effective_message
    question = clean_question(question)
    user_id = update.effective_user.id if update.effective_user else message.chat.id
    refusal = _refusal(question, services, user_id, via_ask=via_ask)
    if refusal:
        await _send(context, message, refusal)
        return
    problem = language_problem(question)
    if problem:
        await _send(context, message, html.escape(problem, quote=False))
        return
    # Each chat keeps its own last question, so "why?" or "and him?" follow on from it.
    conversation = context.chat_data.setdefault("conversation", Conversation())
    reading = conversation.read(question)
    started = time.monotonic()
    answer = await _retrieve(context, message.chat.id, reading.question)
    text, shown = fit_answer(
        answer,
        HTML,
        shown=settings.shown_passages,
        snippet_chars=settings.snippet_chars,
        max_chars=MAX_CHARS,
        context=reading.note,
    )
    hits = answer.hits if answer.answered else ()
    await _send_with_more(
        context, message, text, PendingQuestion(message.chat.id, question, hits, shown)
    )
    _log_question(update, settings, question, answer.answered, shown, started)


async def _send_with_more(
    context: ContextTypes.DEFAULT_TYPE, message: Message, text: str, item: PendingQuestion
) -> None:
    """The first page of an answer or timeline; if item holds more than it shows, with a More
    button that pages on (forgotten again if the message never went out)."""
    services = _services(context)
    markup, key = None, None
    remaining = len(item.hits) - item.next_index
    if remaining > 0:
        key = services.questions.add(item)
        markup = _more_button(key, item.next_index, remaining, _unit(item))
    try:
        await _send(context, message, text, markup)
    except BaseException:
        if key:
            services.questions.discard(key)
        raise


def _unit(item: PendingQuestion) -> str:
    return "event" if item.timeline else "passage"


def _log_question(
    update: Update,
    settings: TelegramSettings,
    question: str,
    answered: bool,
    shown: int,
    started: float,
) -> None:
    chat = update.effective_chat
    user = update.effective_user
    line = (
        f"question update_id={update.update_id} chat_id={chat.id} chat_type={chat.type} "
        f"user_id={user.id if user else '-'} latency_ms={(time.monotonic() - started) * 1000:.0f} "
        f"answered={'true' if answered else 'false'} passages={shown} chars={len(question)}"
    )
    if settings.log_message_text:
        line += " text=" + json.dumps(question, ensure_ascii=False)
    log.info("%s", line)


# --------------------------------------------------------------------------- handlers


def _sender(update: Update) -> tuple[str, int]:
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return ("chat", update.effective_chat.id if update.effective_chat else 0)


async def _say(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """A short reply outside the handlers: a message, or the note of a pressed button."""
    if update.callback_query:
        await _answer_query(update.callback_query, re.sub(r"<[^>]+>", "", text)[:200])
    elif update.effective_message:
        await _send(context, update.effective_message, text)


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs first: refuses senders outside the allowlists (once per chat and window, then
    silently), and holds every sender to the reply limit (one notice, then silence)."""
    services = _services(context)
    if not _is_for_me(update, context):
        if not _allowed(update, services.settings):
            raise ApplicationHandlerStop
        return  # chatter in a group: the handlers ignore it, nothing is sent
    if not _allowed(update, services.settings):
        # Once per chat: so that a group learns why the bot stays silent to this sender.
        chat = update.effective_chat.id if update.effective_chat else 0
        if not services.strangers.acquire((chat, *_sender(update))):
            await _say(update, context, REFUSAL)
        raise ApplicationHandlerStop
    verdict, wait = services.replies.admit(_sender(update))
    if verdict == "reply":
        return
    log.info("flood_limited %s=%s wait_s=%.0f %s", *_sender(update), wait, verdict)
    if verdict == "notice":
        settings = services.settings
        await _say(
            update,
            context,
            "You are sending messages faster than I can answer: at most "
            f"{settings.rate_limit_count * REPLIES_PER_QUESTION} per "
            f"{_window(settings.rate_limit_seconds)}. I will answer again in "
            f"{max(1, round(wait))} s.",
        )
    raise ApplicationHandlerStop


async def _send_long(context: ContextTypes.DEFAULT_TYPE, to: Message, text: str) -> None:
    for chunk in _chunks(text):
        await _send(context, to, chunk)


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    private = update.effective_chat.type == ChatType.PRIVATE
    await _send_long(context, update.effective_message, greeting(_services(context), private))


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _send_long(
        context, update.effective_message, help_text(_services(context), context.bot.username)
    )


async def on_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = render_sources(_services(context).retriever.articles, HTML)
    await _send_long(context, update.effective_message, text)


async def on_reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins only: bring the index in step with the seeds folder now (it also follows the
    folder by itself with corpus.watch)."""
    services = _services(context)
    admins = services.settings.admin_user_ids or []
    user = update.effective_user
    if user is None or user.id not in admins or not hasattr(services.retriever, "reload"):
        await _send(context, update.message, "Only the bot's admins can reload the articles.")
        return
    loop = asyncio.get_running_loop()
    text = await loop.run_in_executor(services.executor, reload_message, services.retriever.reload)
    await _send(context, update.message, html.escape(text))


async def on_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    entity = _command_entity(message)  # /ask or /ask@name, at offset 0
    question = _tidy(_utf16_cut(message.text, entity.offset, entity.length)) if entity else ""
    await answer_question(update, context, question, via_ask=True)


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any text in a private chat is a question; so is a photo's or file's caption."""
    message = update.effective_message
    await answer_question(update, context, message.text or message.caption or "")


async def on_group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    question = question_in_group(message, context.bot.username, context.bot.id)
    if question is not None:  # else: chatter between people, not for the bot
        await answer_question(update, context, question)


async def on_timeline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/timeline [topic]: the dated events in date order, paged with a More button."""
    services = _services(context)
    message = update.effective_message
    entity = _command_entity(message)
    topic = _tidy(_utf16_cut(message.text, entity.offset, entity.length)) if entity else ""
    topic = clean_question(topic)
    user_id = update.effective_user.id if update.effective_user else message.chat.id
    refusal = _rate_refusal(services, user_id)
    if refusal:
        await _send(context, message, refusal)
        return
    loop = asyncio.get_running_loop()
    events = await loop.run_in_executor(services.executor, services.retriever.timeline, topic)
    if not events:
        about = f" about “{html.escape(topic, quote=False)}”" if topic else ""
        await _send(context, message, f"I found no dated events{about} in the articles.")
        return
    heading = f"Timeline{' of “' + topic + '”' if topic else ''}: {len(events)} dated events"
    text, shown = timeline_page(heading, events, 0, TIMELINE_PAGE)
    item = PendingQuestion(message.chat.id, heading, events, shown, timeline=True)
    await _send_with_more(context, message, text, item)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _send(context, update.effective_message, UNKNOWN_COMMAND)


async def on_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message.chat.type == ChatType.PRIVATE or _replies_to_me(message, context.bot.id):
        await _send(context, message, NON_TEXT_HINT)


def _parse_more(data: str | None) -> tuple[str, int] | None:
    match = re.fullmatch(r"more:([A-Za-z0-9_-]{1,16}):(\d{1,3})", data or "")
    return (match[1], int(match[2])) if match else None


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "More" button: the next page of passages as a new message, exactly once."""
    query = update.callback_query
    services = _services(context)
    parsed = _parse_more(query.data)
    item = services.questions.get(parsed[0]) if parsed else None
    origin = query.message
    if parsed is None or item is None or origin is None or item.chat_id != origin.chat.id:
        await _answer_query(query, EXPIRED)
        return
    key, start = parsed
    if start != item.next_index:
        await _answer_query(query, ALREADY_SHOWN)
        return
    text, count = more_page(item, start, services.settings.more_page_size)
    item.next_index = start + count  # before any await: a second press gets "already shown"
    await _answer_query(query)
    remaining = len(item.hits) - item.next_index
    markup = _more_button(key, item.next_index, remaining, _unit(item)) if remaining else None
    try:
        await _send(context, origin, text, markup)
    except BaseException:
        if item.next_index == start + count:
            item.next_index = start  # nothing was shown: the button works again
        raise
    log.info(
        "more chat_id=%s shown=%d from=%d remaining=%d", origin.chat.id, count, start + 1, remaining
    )
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(reply_markup=None)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with the update id, tell the user, keep running."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    log.error(
        "update_id=%s failed: %s: %s",
        update_id,
        type(error).__name__,
        error,
        exc_info=error,
    )
    if not isinstance(update, Update):
        return
    if update.callback_query:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer(FAILURE)
    message = update.effective_message
    if message is not None:
        with contextlib.suppress(TelegramError):
            await _send(context, message, FAILURE)


async def _post_init(app: Application) -> None:
    try:
        await app.bot.set_my_commands(COMMANDS)
    except TelegramError as exc:
        log.warning("could not register the command list (setMyCommands): %s; carrying on", exc)


async def _post_shutdown(app: Application) -> None:
    services: Services | None = app.bot_data.get("services")
    if services is not None:
        services.executor.shutdown(wait=True)


# --------------------------------------------------------------------------- assembly


def build_application(config: AppConfig, retriever: Any, token: str) -> Application:
    """The bot around a loaded retriever; nothing is contacted until it is initialised."""
    settings = config.telegram
    redact_secrets(token)
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .rate_limiter(RetryingRateLimiter(settings.retries))
        .connection_pool_size(SEND_CONNECTIONS)
        .pool_timeout(POOL_WAIT)
        .concurrent_updates(True)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data["services"] = Services(
        settings=settings,
        retriever=retriever,
        executor=ThreadPoolExecutor(settings.workers, thread_name_prefix="retrieval"),
        rate=UserRateLimit(settings.rate_limit_count, settings.rate_limit_seconds),
        replies=ReplyLimit(
            settings.rate_limit_count * REPLIES_PER_QUESTION, settings.rate_limit_seconds
        ),
        strangers=UserRateLimit(1, settings.rate_limit_seconds),
        questions=QuestionStore(KEPT_QUESTIONS),
        examples=example_questions(retriever, settings),
    )
    app.add_handler(TypeHandler(Update, gate), group=-1)
    app.add_handlers(
        [
            CommandHandler("start", on_start),
            CommandHandler("help", on_help),
            CommandHandler("sources", on_sources),
            CommandHandler("ask", on_ask),
            CommandHandler("timeline", on_timeline),
            CommandHandler("reload", on_reload),
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
            CallbackQueryHandler(on_button),
        ]
    )
    app.add_error_handler(on_error)
    return app


def _polling_error(exc: TelegramError) -> None:
    log.warning("cannot fetch updates (%s: %s); retrying", type(exc).__name__, exc)


async def _start_updates(
    app: Application, settings: TelegramSettings, secret: str | None
) -> WebhookServer | None:
    """Start fetching updates: long polling, or our webhook server (returned, to stop it)."""
    if settings.mode == "polling":
        await app.updater.start_polling(
            timeout=settings.poll_timeout,
            bootstrap_retries=settings.retries,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
            error_callback=_polling_error,
        )
        return None
    assert secret is not None
    server = WebhookServer(
        app.bot,
        app.update_queue,
        settings.webhook,
        secret,
        allowed_updates=ALLOWED_UPDATES,
        retries=settings.retries,
    )
    try:
        await server.start()
    except BaseException:
        await server.stop()
        raise
    return server


def _install_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[signal.Signals]:
    installed: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        log.info("%s: stopping once the questions in flight are answered", sig.name)
        stop.set()
        for each in installed:  # a second signal acts as usual: immediate exit
            loop.remove_signal_handler(each)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            log.debug("cannot handle %s here", sig.name)
    return installed


async def serve(
    app: Application,
    config: AppConfig,
    *,
    webhook_secret: str | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Run until `stop` is set (or SIGINT/SIGTERM), then answer what is in flight and return.

    Order as in Application.run_polling: initialize (getMe), post_init (setMyCommands), start
    fetching, start handling; on stop: stop fetching, finish the updates taken, shut down.
    """
    settings = config.telegram
    if settings.mode == "webhook":
        check_webhook_settings(settings)
        webhook_secret = webhook_secret or read_webhook_secret(settings)
        redact_secrets(app.bot.token, webhook_secret)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = _install_signals(loop, stop) if handle_signals else []
    webhook: WebhookServer | None = None
    try:
        await app.initialize()
        try:
            if app.post_init:
                await app.post_init(app)
            webhook = await _start_updates(app, settings, webhook_secret)
            await app.start()
            log.info(
                "ready: @%s answers by %s through %s",
                app.bot.username,
                settings.mode,
                settings.base_url,
            )
            if ready is not None:
                ready.set()
            await stop.wait()
        finally:
            if app.updater.running:
                await app.updater.stop()
            if webhook is not None:
                await webhook.stop()
            if app.running:
                await app.stop()  # waits for every update taken to be answered
            await app.shutdown()
    finally:
        if app.post_shutdown:
            await app.post_shutdown(app)
        for sig in installed:
            loop.remove_signal_handler(sig)
        log.info("stopped")


@contextlib.contextmanager
def _logged_step(message: str) -> Iterator[None]:
    log.info("%s", message)
    started = time.monotonic()
    yield
    log.info("done in %.1f s", time.monotonic() - started)


def run_telegram(config: AppConfig, seeds_dir: Path | None = None) -> int:
    """`python -m bot telegram`: settings and secrets first, then the model, then serve."""
    settings = config.telegram
    token = read_token(settings)
    secret = None
    if settings.mode == "webhook":
        check_webhook_settings(settings)
        secret = read_webhook_secret(settings)
    redact_secrets(token, secret)
    logging.getLogger("bot").setLevel(logging.INFO)
    from bot.progress import BuildReporter
    from bot.runtime import open_retriever

    retriever = open_retriever(
        config,
        seeds_dir=seeds_dir,
        progress=_logged_step,
        build_progress=BuildReporter(sys.stderr, terminal=False),
    )
    if config.corpus.watch and hasattr(retriever, "watch"):
        retriever.watch(config.corpus.watch_seconds)
    app = build_application(config, retriever, token)
    try:
        asyncio.run(serve(app, config, webhook_secret=secret))
    except InvalidToken:
        raise ConfigError(
            f"environment variable {settings.token_env}: the Bot API server at "
            f"{settings.base_url} rejected this token"
        ) from None
    except ConfigError:
        raise
    except TelegramError as exc:
        log.error("could not run the bot: %s: %s", type(exc).__name__, exc)
        return 1
    except Exception:
        log.exception("the bot stopped on an unexpected error")
        return 1
    return 0
