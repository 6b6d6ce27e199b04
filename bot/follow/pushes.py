"""From a reload's new and changed articles to the messages each following chat gets: which
followed topics an article is about (retrieval.follow), never the same version of an article
twice to a chat for a topic, at most `per_hour` pushes per chat and hour and the rest in one
summary, each push rendered in the front end's markup.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answer_format import Markup, byline, passage_text, shorten, shortest_passage
from bot.follow.store import FollowStore, Subscription
from retrieval.follow import article_passages, digest, match
from retrieval.index.local import SyncReport
from retrieval.pipeline import Hit, Retriever, StoreDown

log = logging.getLogger(__name__)

SHOWN_TOPIC = 100  # characters of a topic in a push


@dataclass(frozen=True)
class Push:
    """One article for one chat's topic; kind: "new" or "updated" (a material edit)."""

    chat_id: int
    topic: str
    hit: Hit
    kind: str


@dataclass(frozen=True)
class Outgoing:
    """A message to send: a push (counted against the chat's hourly limit) or a summary."""

    chat_id: int
    text: str
    counted: bool


def news_sources(report: SyncReport) -> tuple[str, ...]:
    """The seed files a reload brought in or changed (a damaged index rebuilt as it was: none)."""
    return (*report.added, *report.changed) if report.rebuilt else ()


def find_pushes(store: FollowStore, retriever: Retriever, sources: Sequence[str]) -> list[Push]:
    """The pushes these articles make, each claimed in the store (so made once), in the order of
    the articles; a topic followed by many chats is matched once per article."""
    by_key: dict[str, list[Subscription]] = defaultdict(list)
    for sub in store.subscriptions():
        by_key[sub.key].append(sub)
    if not by_key:
        return []
    articles = {a.source: a for a in retriever.articles}
    pushes: list[Push] = []
    for source in sources:
        article = articles.get(source)
        if article is None:  # skipped as broken: not news
            continue
        passages, version = article_passages(retriever, source), digest(article)
        for key, subs in by_key.items():
            try:
                hit = match(retriever, subs[0].topic, passages)
            except StoreDown as exc:  # the engine said why in the log; nothing claimed
                log.warning("no pushes for %s: %s", ", ".join(sources), exc)
                return pushes
            if hit is None:
                continue
            for sub in subs:
                kind = store.claim(sub.chat_id, key, source, version)
                if kind is not None:
                    pushes.append(Push(sub.chat_id, sub.topic, hit, kind))
    return pushes


def render_push(push: Push, m: Markup, max_chars: int | None = None) -> str:
    """The topic that matched, the passage with its sentence highlighted, title and date."""
    what = "Updated article" if push.kind == "updated" else "New article"
    head = m.bold(f"{what} about “{m.escape(shorten(push.topic, SHOWN_TOPIC))}”") + "\n"
    text = head + passage_text(push.hit, m) + "\n" + byline(push.hit.passage.article, m)
    if max_chars is None or len(text) <= max_chars:
        return text
    return head + shortest_passage(push.hit, m, max_chars - len(head))


def summary(chat_pushes: Sequence[Push], m: Markup, per_hour: int) -> str:
    """The pushes past the hourly limit, in one message: how many about which topic."""
    counts: dict[str, int] = defaultdict(int)
    for push in chat_pushes:
        counts[push.topic] += 1
    parts = [f"{n} about “{m.escape(shorten(topic, SHOWN_TOPIC))}”" for topic, n in counts.items()]
    topic = m.escape(shorten(next(iter(counts)), SHOWN_TOPIC))
    total = len(chat_pushes)
    return (
        f"…and {total} more new article{'s' if total != 1 else ''}: {', '.join(parts)} "
        f"(at most {per_hour} messages an hour). Ask e.g. “latest news about {topic}”."
    )


def plan(
    pushes: Sequence[Push],
    store: FollowStore,
    per_hour: int,
    m: Markup,
    max_chars: int | None = None,
) -> list[Outgoing]:
    """Each chat's pushes up to what its hour allows, the rest summarised in one message."""
    by_chat: dict[int, list[Push]] = defaultdict(list)
    for push in pushes:
        by_chat[push.chat_id].append(push)
    out: list[Outgoing] = []
    for chat_id, chat_pushes in by_chat.items():
        room = max(per_hour - store.sent_last_hour(chat_id), 0)
        for push in chat_pushes[:room]:
            store.record_send(chat_id)  # counted now: a reload meanwhile sees it
            out.append(Outgoing(chat_id, render_push(push, m, max_chars), True))
        if chat_pushes[room:]:
            out.append(Outgoing(chat_id, summary(chat_pushes[room:], m, per_hour), False))
    return out
