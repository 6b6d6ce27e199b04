"""Followed topics without Telegram: the store (limits, restarts, schema version, dropped chats),
the matching of a new article against topics (retrieval.follow: a passing mention, a topic of
parts, a title naming the whole topic), the console, which prints a followed topic's new
article before its next reply, and the labels file of scripts/follow_quality.py."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest

from bot.answer_format import PLAIN
from bot.console import ConsoleChat
from bot.follow.store import SCHEMA_VERSION, FollowStore, StoreError
from retrieval.corpus import Article
from retrieval.follow import article_passages, match, names_every_part, topic_parts

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


RATES = """date 1987-10-20 Reagan sees room for interest rate declines

President Reagan said he sees room for a further decline in interest rates after some banks cut
their prime lending rates today.
"""
BONN = """date 1987-10-19 Bonn ministry has no comment on Baker remarks

The West German Finance Ministry declined to comment on criticism by U.S. Treasury Secretary
James Baker of recent West German interest rate increases.
"""
EXPORTS = """date 1987-10-19 Reagan calls for vigilance on certain exports

President Reagan said the Commerce Department should be vigilant in preventing the flow of
strategic technology to the Soviet Union.
"""
OCTANE = """date 1987-06-19 Japanese firms to launch sales of 100 octane gasoline

Two oil refiners will start selling 100 octane gasoline next month, industry sources said.
"""
THRIFTS = """date 1987-06-29 Savings institution to help ailing thrifts

The U.S. League of Savings Institutions said it has launched a program to bolster the liquidity
of some savings and loan institutions and reduce their dependency on costly deposits.
"""
FSLIC = """date 1987-06-28 Banking chairman urges caution on FSLIC bill

The chairman of the House Banking Committee said Congress must help ailing thrifts, but that a
bill to recapitalise the Federal Savings and Loan Insurance Corporation needed more thought.
"""


def test_a_topic_of_parts_is_news_only_of_an_article_naming_each_part(live):
    """ "Reagan on interest rates" is about Reagan and about interest rates: a story on rates
    without Reagan, or on Reagan and exports, is not news of it, however close its words; a
    part is named by a stem or a word made from it ("Japanese" for Japan). A title and lead
    naming the whole topic make the article news of it, though the body words it otherwise
    and another article's body names the topic word for word."""
    assert topic_parts("Reagan on interest rates", live.current.indexed) == [
        ["reagan"],
        ["interest", "rate"],
    ]
    assert (
        len(topic_parts("stock exchange opening delayed or closing early", live.current.indexed))
        == 1
    )
    texts = {
        "rates": RATES,
        "bonn": BONN,
        "exports": EXPORTS,
        "octane": OCTANE,
        "thrifts": THRIFTS,
        "fslic": FSLIC,
    }
    for name, text in texts.items():
        (Path(live.seeds_dir) / f"1{name}.txt").write_text(text, encoding="utf-8")
    live.reload()
    retriever = live.current
    article = {a.source.removesuffix(".txt")[1:]: a for a in retriever.articles}
    named = {
        name: names_every_part("Reagan on interest rates", article[name], retriever.indexed)
        for name in ("rates", "bonn", "exports")
    }
    assert named == {"rates": True, "bonn": False, "exports": False}
    assert names_every_part("gasoline in Japan", article["octane"], retriever.indexed)
    for topic in ("US on interest rates", "U.S. on interest rates"):  # "U.S." names the US
        assert names_every_part(topic, article["bonn"], retriever.indexed)
    for name in ("bonn", "exports"):
        passages = article_passages(retriever, f"1{name}.txt")
        assert match(retriever, "Reagan on interest rates", passages) is None
    passages = article_passages(retriever, "1thrifts.txt")
    assert match(retriever, "help for ailing thrifts", passages) is not None


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


# ------------------------------------------------------------------------------ the quality script


def _quality_script():  # noqa: ANN202 - the module of scripts/follow_quality.py
    path = Path(__file__).resolve().parent.parent / "scripts" / "follow_quality.py"
    spec = importlib.util.spec_from_file_location("follow_quality", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quality_scripts_labels_file_and_stories_not_held_back(tmp_path):
    script = _quality_script()
    held = [
        Article("South Korea threatens emergency measures", dt.date(1987, 6, 18), name, ("x",))
        for name in ("19025_south-korea-threatens-emergency-measures.txt", "19043_jal-crash.txt")
    ]
    path = tmp_path / "topics.json"
    topics = [
        {"topic": "South Korea emergency measures", "stories": ["19025_south-korea-threatens-emergency-measures.txt"]},
        {"topic": "JAL crash", "stories": ["19043", "00007_red-lion-inns-files-plans-offering.txt"]},
    ]  # fmt: skip
    path.write_text(json.dumps({"topics": topics}), encoding="utf-8")
    labels = script.read_labels(path)
    assert list(labels) == ["South Korea emergency measures", "JAL crash"]
    truth, outside = script.resolve(labels, held)
    assert truth == {
        ("South Korea emergency measures", "19025_south-korea-threatens-emergency-measures.txt"),
        ("JAL crash", "19043_jal-crash.txt"),
    }
    assert outside == [("JAL crash", "00007_red-lion-inns-files-plans-offering.txt")]
    for bad, problem in (
        ("not json", "cannot be read as JSON"),
        ('{"topics": []}', "at least one topic"),
        ('{"topics": [{"topic": "", "stories": []}]}', "topic 1: 'topic' must be"),
        ('{"topics": [{"topic": "oil", "stories": "19025"}]}', "'stories' must be a list"),
    ):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(script.LabelsError) as caught:
            script.read_labels(path)
        assert problem in str(caught.value) and str(path) in str(caught.value)
        assert "\n" not in str(caught.value)
