"""The follow commands as a ChatSession runs them, for one chat: the same words in the console
and on Telegram (where /following also gets a button per topic, bot.telegram.following)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.answer_format import Markup, shorten
from bot.follow.pushes import find_pushes, news_sources, render_push
from bot.follow.store import FollowStore, Subscription
from retrieval.index.local import SyncReport
from retrieval.live import LiveRetriever
from retrieval.question.checks import question_problem
from retrieval.text.clean import clean_question

if TYPE_CHECKING:
    from bot.session import ChatSession

MAX_TOPICS = 20  # topics per chat, unless the settings say otherwise
EXAMPLE = "/follow oil prices"
NOT_HERE = "Following topics is not available here."


@dataclass(frozen=True)
class ChatFollows:
    """One chat's topics in the store."""

    store: FollowStore
    chat_id: int
    limit: int = MAX_TOPICS

    def topics(self) -> list[Subscription]:
        return self.store.topics(self.chat_id)


def _quoted(session: ChatSession, topic: str) -> str:
    return f"“{session.medium.markup.escape(shorten(topic, 100))}”"


def checked_topic(session: ChatSession, topic: str, via: str) -> tuple[str, str | None]:
    """The topic cleaned, and why it cannot be followed (empty, too long, not English, no
    words), or None: the checks a question gets."""
    topic = clean_question(topic)
    if not topic:
        return topic, f"Please put a topic after {via}, e.g. {EXAMPLE}"
    problem = question_problem(topic, session.medium.max_question_chars)
    if problem is None:
        return topic, None
    # The question checks' words, said of a topic: "That topic is 5,000 characters long."
    return topic, session.medium.markup.escape(problem.replace("question", "topic"))


def follow(session: ChatSession, topic: str) -> str:
    follows = session.follows
    if follows is None:
        return NOT_HERE
    topic, problem = checked_topic(session, topic, "/follow")
    if problem:
        return problem
    outcome = follows.store.follow(follows.chat_id, topic, follows.limit)
    if outcome == "already":
        return f"This chat follows {_quoted(session, topic)} already."
    if outcome == "full":
        return (
            f"This chat follows {follows.limit} topics, the most it can: /unfollow one first "
            "(/following lists them)."
        )
    return (
        f"Following {_quoted(session, topic)}: new articles about it will be sent here. "
        "/following lists this chat's topics."
    )


def following(session: ChatSession) -> str:
    follows = session.follows
    if follows is None:
        return NOT_HERE
    topics = follows.topics()
    if not topics:
        return f"This chat follows no topics. Follow one to get its new articles: {EXAMPLE}"
    n = len(topics)
    lines = [f"This chat follows {n} topic{'s' if n != 1 else ''}:"]
    lines += [f"• {_quoted(session, t.topic)}" for t in topics]
    lines.append("/unfollow and a topic stops it.")
    return "\n".join(lines)


def unfollow(session: ChatSession, topic: str) -> str:
    follows = session.follows
    if follows is None:
        return NOT_HERE
    topic = clean_question(topic)
    if not topic:
        return "Please put the topic after /unfollow; /following lists this chat's topics."
    dropped = follows.store.unfollow(follows.chat_id, topic)
    if dropped is None:
        return f"This chat does not follow {_quoted(session, topic)}; /following lists its topics."
    return f"No longer following {_quoted(session, dropped)}."


class HeldNews:
    """Pushes for a chat that can only print between replies (the console, where a line printed
    while the user types would garble the prompt): matched in the watcher's thread, kept until
    the next reply."""

    def __init__(self, retriever: LiveRetriever, follows: ChatFollows, markup: Markup) -> None:
        self.retriever = retriever
        self.follows = follows
        self.markup = markup
        self._held: list[str] = []
        self._lock = threading.Lock()

    def seeds_reloaded(self, report: SyncReport) -> None:
        """A LiveRetriever listener."""
        sources = news_sources(report)
        if not sources:
            return
        pushes = find_pushes(self.follows.store, self.retriever.current, sources)
        texts = [render_push(p, self.markup) for p in pushes]
        with self._lock:
            self._held.extend(texts)

    def take(self) -> str:
        """What came since the last call, one push a paragraph ("" for nothing)."""
        with self._lock:
            held, self._held = self._held, []
        return "\n\n".join(held)
