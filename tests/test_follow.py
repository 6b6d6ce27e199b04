"""Followed topics without Telegram: the store (limits, restarts, schema version, dropped chats),
the matching of a new article against topics (retrieval.follow), and the console, which prints
a followed topic's new article before its next reply."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.answer_format import PLAIN
from bot.console import ConsoleChat
from bot.follow.store import SCHEMA_VERSION, FollowStore, StoreError
from retrieval.follow import article_passages, match

pytestmark = pytest.mark.timeout(300)

ARREST = """date 2022-01-09 Former spy chief Masimov held on treason charges

Kazakhstan's former intelligence chief Karim Masimov was arrested on suspicion of high treason,
the national security committee said on Sunday.

Masimov, a close ally of former president Nursultan Nazarbayev, was detained on Thursday.
"""
ICELAND = """date 2023-11-11 Iceland declares emergency as volcano threatens Grindavik

The fishing town of Grindavik, home to about 3,700 people, was evacuated overnight as magma
moved under the town and earthquakes shook the Reykjanes peninsula.
"""


# ------------------------------------------------------------------------------ the store


def test_topics_are_kept_per_chat_up_to_the_limit_and_survive_a_restart(tmp_path):
    path = tmp_path / "cache" / "follows.sqlite3"
    store = FollowStore(path)
    assert store.follow(1, "OPEC", limit=2) == "added"
    assert store.follow(1, "  opec ", limit=2) == "already"
    assert store.follow(1, "cocoa", limit=2) == "added"
    assert store.follow(1, "steel", limit=2) == "full"
    assert store.follow(2, "steel", limit=2) == "added"
    store.close()
    again = FollowStore(path)
    assert [t.topic for t in again.topics(1)] == ["OPEC", "cocoa"]
    assert again.unfollow(1, "OPEC ") == "OPEC"
    assert again.unfollow(1, "OPEC") is None
    other = again.topics(2)[0]
    assert again.unfollow_id(1, other.id) is None  # another chat's button drops nothing
    assert again.drop_chat(2, "Forbidden: bot was blocked by the user") == 1
    assert [s.chat_id for s in again.subscriptions()] == [1]
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert (mode, version) == ("wal", SCHEMA_VERSION)


def test_a_store_from_a_newer_bot_or_not_a_database_is_one_line(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    sqlite3.connect(newer).execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"\x89PNG not a database" * 100)
    for path in (newer, junk):
        with pytest.raises(StoreError) as caught:
            FollowStore(path)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_an_article_is_pushed_once_per_version_and_topic():
    store = FollowStore(None)
    assert store.claim(1, "opec", "a.txt", "v1") == "new"
    assert store.claim(1, "opec", "a.txt", "v1") is None
    assert store.claim(1, "opec", "a.txt", "v2") == "updated"
    assert store.claim(1, "cocoa", "a.txt", "v2") == "new"


AIRLINES = """date 2023-12-01 European airlines cut winter flights as fuel costs rise

Several European airlines said on Friday they would cut winter flights and raise fares, blaming
jet fuel prices that rose by a fifth since the summer.

Lufthansa and Air France-KLM said the cuts would fall mostly on short routes within Europe.

Flights to Iceland were briefly disrupted last month when a volcano erupted near Grindavik.
"""


def test_an_article_that_mentions_a_topic_in_passing_is_not_news_of_it(live):
    """A story of another subject with one line on the topic is not pushed, though a question
    about the topic is answered from that line; a topic it is about is."""
    (Path(live.seeds_dir) / "102_airlines.txt").write_text(AIRLINES, encoding="utf-8")
    live.reload()
    answer = live.ask("Iceland volcano")
    assert answer.answered and answer.hits[0].passage.article.source == "102_airlines.txt"
    retriever = live.current
    passages = article_passages(retriever, "102_airlines.txt")
    assert match(retriever, "Iceland volcano", passages) is None
    assert match(retriever, "airline fuel costs", passages) is not None


# ------------------------------------------------------------------------------ the console


def test_the_console_prints_a_followed_topics_new_article_once(live):
    chat = ConsoleChat(live, PLAIN, shown=3, snippet_chars=200)
    live.listeners.append(chat.seeds_reloaded)
    assert chat.reply("/follow Masimov arrest").startswith("Following “Masimov arrest”")
    assert chat.reply("/follow Iceland volcano").startswith("Following")
    assert "2 topics" in chat.reply("/following")
    seeds: Path = live.seeds_dir
    (seeds / "100_arrest.txt").write_text(ARREST, encoding="utf-8")
    live.reload()
    text = chat.reply("/sources")
    assert text.startswith("**New article about “Masimov arrest”**"), text
    assert "Former spy chief Masimov held on treason charges, 9 January 2022" in text
    assert "Iceland" not in text.split("/sources")[0]
    # An edit of spacing and punctuation only is not news; one of the words is.
    (seeds / "100_arrest.txt").write_text(ARREST.replace(",", " ,  "), encoding="utf-8")
    live.reload()
    assert "article about" not in chat.reply("/help")
    (seeds / "100_arrest.txt").write_text(ARREST + "\nHe denies it.\n", encoding="utf-8")
    live.reload()
    assert chat.reply("/help").startswith("**Updated article about “Masimov arrest”**")
    assert chat.reply("/unfollow masimov ARREST") == "No longer following “Masimov arrest”."
    (seeds / "101_iceland.txt").write_text(ICELAND, encoding="utf-8")
    live.reload()
    text = chat.reply("/whoami")
    assert text.startswith("**New article about “Iceland volcano”**"), text
    assert text.count("article about") == 1


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        ("", "Please put a topic after /follow"),
        ("oil " * 1250, "That topic is 4,999 characters long"),
        ("Новости нефти", "topics in English"),
    ],
)
def test_a_bad_topic_is_one_line_and_not_followed(live, topic, problem):
    chat = ConsoleChat(live, PLAIN, shown=3, snippet_chars=200)
    text = chat.reply(f"/follow {topic}")
    assert problem in text and "\n" not in text, text
    assert chat.session.follows.topics() == []
