"""What every Telegram handler shares (kept in `bot_data["services"]`), and each chat's
ChatSession (in its `chat_data`), in the words and sizes of Telegram."""

from __future__ import annotations

import html
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.answer_format import HTML
from bot.config import TelegramSettings
from bot.follow.chat import ChatFollows
from bot.follow.store import FollowStore
from bot.ops.metrics import Metrics
from bot.pages import Medium
from bot.session import ChatSession
from bot.telegram.html import MAX_CHARS
from bot.telegram.limits import ReplyLimit, UserRateLimit, window
from bot.telegram.store import QuestionStore
from retrieval.index.local import SyncReport
from retrieval.live import Answering

COMMANDS = (
    "ask", "more", "timeline", "sources", "follow", "following", "unfollow", "reload", "add",
    "remove", "whoami", "help", "start",
)  # fmt: skip
PRIVATE_TIP = "\nTry for example:\n{listed}\n\nJust send me your question. /help explains more."
GROUP_TIP = (
    "\nTry for example:\n{listed}\n\nHere, write /ask and your question, mention me, or reply "
    "to one of my messages. /help explains more."
)


@dataclass
class Services:
    """Everything the handlers share."""

    settings: TelegramSettings
    retriever: Answering
    reload: Callable[[], SyncReport] | None  # the admins' /reload; None: articles fixed
    executor: ThreadPoolExecutor
    rate: UserRateLimit  # questions per user
    replies: ReplyLimit  # every reply per user: commands, buttons and hints too
    strangers: UserRateLimit  # refusals outside the allowlists: one per chat, sender and window
    questions: QuestionStore  # per-question "More" state, bounded
    follows: FollowStore | None = None  # the chats' followed topics (bot.telegram.following)
    media: dict[tuple[bool, str], Medium] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)  # /metrics (bot.ops)

    def medium(self, private: bool, username: str) -> Medium:
        """How a private chat, or a group, is spoken to (made once the bot knows its name)."""
        key = (private, username)
        if key not in self.media:
            self.media[key] = _medium(self.settings, private, username)
        return self.media[key]


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.bot_data["services"]


def session(update: Update, context: ContextTypes.DEFAULT_TYPE) -> ChatSession:
    """The chat's session: its follow-ups and its /more, whoever in it writes."""
    found = context.chat_data.get("session") if context.chat_data is not None else None
    if found is None:
        shared = services(context)
        chat = update.effective_chat
        private = chat is None or chat.type == ChatType.PRIVATE
        medium = shared.medium(private, context.bot.username)
        found = ChatSession(shared.retriever, medium, reload=shared.reload)
        if shared.follows is not None and chat is not None:
            limit = shared.settings.follow_max_topics
            found.follows = ChatFollows(shared.follows, chat.id, limit)
        if context.chat_data is not None:
            context.chat_data["session"] = found
    return found


def _help_intro(s: TelegramSettings, username: str) -> str:
    return "\n".join(
        [
            "<b>How to ask</b>",
            "Send me a question about the news articles, e.g. <i>{example}</i>",
            "I reply with the passage that answers it (its key sentence in bold), the article's "
            "title and date, then a few more passages, shortened. Press <b>More</b> under an "
            "answer (or send /more) for further passages.",
            "",
            "Dates work too: <i>What happened on 5 January?</i>, <i>What is the latest news "
            "about …?</i>, <i>When was … arrested?</i>; /timeline lists the dated events.",
            "",
            f"In a group, write /ask <i>question</i>, mention @{html.escape(username)} in your "
            "question, or reply to one of my messages.",
            "",
            f"Questions can be up to {s.max_question_chars} characters; "
            f"at most {s.rate_limit_count} questions per {window(s.rate_limit_seconds)}.",
            "",
            "<b>Commands</b>",
        ]
    )  # "{example}" stays: the session fills it in


def _medium(settings: TelegramSettings, private: bool, username: str) -> Medium:
    return Medium(
        markup=HTML,
        shown=settings.shown_passages,
        page_size=settings.more_page_size,
        snippet_chars=settings.snippet_chars,
        max_question_chars=settings.max_question_chars,
        commands=COMMANDS,
        welcome=(
            "Hello! I answer questions about {articles} of the news with the passage that "
            "answers, its article and date:"
        ),
        how_to_ask=PRIVATE_TIP if private else GROUP_TIP,
        help_intro=_help_intro(settings, username),
        help_line="{usage} — {summary}",
        max_chars=MAX_CHARS,
        page_headings=True,
        admins_only=True,
        examples=tuple(settings.example_questions or ()),
    )
