"""Hostile or unlucky input: seed files, questions and bytes that once crashed, hung or misled.

Tables of cases for each class of issue 11 (seed files, control sequences, bytes that are not
UTF-8, scripts other than Latin), plus hypothesis for the functions every text goes through.
No traceback, no hang (every test is time-bound), nothing raw reaching a terminal.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answer_format import ANSI, PLAIN, render_answer, render_sources
from bot.console import ConsoleChat
from retrieval.corpus import MAX_SEED_BYTES, SeedError, load_corpus, parse_article
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from retrieval.model.packages import MINILM
from retrieval.pipeline import Retriever
from retrieval.text.analyzer import Analyzer
from retrieval.text.clean import clean_question, clean_text, display_name

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "seeds" / "000_bf7e3f6dcec9099b.txt"
ARREST = "Who did Tokayev order to arrest?"
# Our own colours (bot.answer_format.ANSI); any other escape in the output came from the text.
OUR_ESCAPES = re.compile(r"\x1b\[(?:1;33|2|0)m")

RUSSIAN = (
    "date 2022-03-02 Москва вводит пошлины на сталь\n\n"
    "Москва объявила о новых пошлинах на импорт стали из Европы.\n\n"
    "Правительство заявило, что меры вступят в силу в апреле.\n"
)
CHINESE = (
    "date 2022-03-03 北京大学举行毕业典礼\n\n北京大学的学生举行了毕业典礼。\n\n上海的天气很好。\n"
)
HOSTILE_TITLE = "Storm \x1b]0;pwned\x07hits the \x1b[31mcoast\x1b[0m\u202e"
HOSTILE = (
    f"date 2022-03-04 {HOSTILE_TITLE}\n\n"
    "A storm\x1b[2J hit the northern coast\x00 on Thursday, flooding the harbour of Bergen.\n\n"
    "...\n\n!!!\n\n\u200b\n\n"
    "Fishermen\x0bsaid\x0cthe waves\x85were the highest in forty years.\n"
)


def write(folder: Path, name: str | bytes, content: str | bytes) -> Path:
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), os.fsencode(name))))
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def no_control(text: str) -> bool:
    """No control character but line breaks, and no escape sequence but our own colours."""
    rest = OUR_ESCAPES.sub("", text)
    return not any(ord(c) < 32 and c != "\n" or 0x7F <= ord(c) < 0xA0 for c in rest)


# --- seed files that used to crash, hang or exhaust memory -------------------------------------


def special_files(folder: Path) -> dict[str, str]:
    """Files that are not regular files, each named *.txt; name -> what the error must say."""
    os.mkfifo(folder / "fifo.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "folder.txt").mkdir()
    write(folder, "huge.txt", "date 2022-01-01 Huge\n\n" + "word " * (MAX_SEED_BYTES // 5 + 1))
    return {
        "fifo.txt": "not a regular file (a FIFO)",
        "zero.txt": "not a regular file (a character device)",
        "folder.txt": "not a regular file (a folder)",
        "huge.txt": "larger than the limit of 1 MiB",
    }


@pytest.mark.timeout(20)
def test_special_and_huge_seed_files_are_one_line_errors(tmp_path):
    for name, problem in special_files(tmp_path).items():
        with pytest.raises(SeedError) as caught:
            parse_article(tmp_path / name)
        assert str(caught.value) == f"{tmp_path / name}: {problem}"


@pytest.mark.timeout(20)
def test_special_files_are_skipped_when_asked_without_hanging(tmp_path, caplog):
    bad = special_files(tmp_path)
    write(tmp_path, "good.txt", RUSSIAN)
    with pytest.raises(SeedError, match="fifo.txt: not a regular file"):
        load_corpus(tmp_path)
    with caplog.at_level(logging.WARNING):
        articles = load_corpus(tmp_path, skip_bad_files=True)
    assert [a.source for a in articles] == ["good.txt"]
    warned = "\n".join(r.getMessage() for r in caplog.records)
    for name, problem in bad.items():
        assert f"{name}: {problem}" in warned


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ("...\n\nThe harbour flooded.\n\n!!!\n", ("The harbour flooded.",)),
        ("\u200b\n\nThe harbour flooded.\n\n* * *\n\n\u2014\n", ("The harbour flooded.",)),
        ("The \x1b[1mharbour\x1b[0m\x00 flooded.\x0b\n", ("The harbour flooded.",)),
    ],
)
def test_paragraphs_without_words_are_not_passages(tmp_path, body, kept):
    article = parse_article(write(tmp_path, "a.txt", f"date 2022-01-01 Harbour\n\n{body}"))
    assert article.paragraphs == kept


@pytest.mark.parametrize("body", ["...\n\n!!!\n", "\u200b\n", "\x1b[2J\n\n\x00\n"])
def test_a_body_without_words_is_a_bad_file(tmp_path, body):
    with pytest.raises(SeedError, match=r"a\.txt:1: no body: "):
        parse_article(write(tmp_path, "a.txt", f"date 2022-01-01 Title\n\n{body}"))


def test_control_sequences_never_reach_titles_or_text(tmp_path):
    article = parse_article(write(tmp_path, "storm.txt", HOSTILE))
    assert article.title == "Storm hits the coast"
    assert article.paragraphs == (
        "A storm hit the northern coast on Thursday, flooding the harbour of Bergen.",
        "Fishermen said the waves were the highest in forty years.",
    )


def test_identical_files_are_one_article(tmp_path, caplog):
    for name in ("a.txt", "b.txt", "c.txt"):
        write(tmp_path, name, RUSSIAN)
    with caplog.at_level(logging.WARNING):
        articles = load_corpus(tmp_path)
    assert [a.source for a in articles] == ["a.txt"]
    assert sum("the same article as a.txt" in r.getMessage() for r in caplog.records) == 2


def test_a_name_that_is_not_utf8_is_shown_escaped(tmp_path):
    path = write(tmp_path, b"caf\xe9 \x1b[2J.txt", RUSSIAN)
    assert parse_article(path).source == "caf\\xe9 \\x1b[2J.txt"
    assert display_name(path).endswith("caf\\xe9 \\x1b[2J.txt")


# --- scripts other than Latin, and articles with no terms at all ------------------------------


@pytest.fixture(scope="module")
def world(model, config, tmp_path_factory) -> Retriever:
    """Articles in Russian and Chinese, one of only stop words, a copy of it, a hostile one."""
    folder = tmp_path_factory.mktemp("world")
    write(folder, "ru.txt", RUSSIAN)
    write(folder, "zh.txt", CHINESE)
    write(folder, "storm.txt", HOSTILE)
    write(folder, "stop.txt", "date 2022-03-05 It is what it is\n\nIt is what it is.\n")
    # The same paragraph under another title: shown once, not as #1 and #2.
    write(folder, "storm2.txt", HOSTILE.replace("Storm", "Gale", 1))
    encoder = Encoder(model, DEFAULT_MODEL, tmp_path_factory.mktemp("world-cache"))
    return Retriever.over_articles(load_corpus(folder), config.retrieval, encoder)


def test_words_of_any_script_are_terms():
    analyzer = Analyzer()
    assert analyzer.terms("Москва объявила о пошлинах") == ["москва", "объявила", "о", "пошлинах"]
    assert analyzer.terms("北京大学") == ["北京", "京大", "大学"]
    assert analyzer.terms("Ελλάδα και Łódź") == ["ελλαδα", "και", "łodz"]
    assert analyzer.terms("... !!! \u200b") == []


@pytest.mark.parametrize(
    ("question", "source"),
    [("пошлины на импорт стали", "ru.txt"), ("北京大学的学生", "zh.txt")],
)
def test_questions_in_other_scripts_find_their_article(world, question, source):
    answer = world.ask(question)
    assert answer.answered and answer.hits[0].passage.article.source == source
    assert answer.hits[0].score > answer.hits[-1].score


def test_articles_without_terms_still_start_and_answer(model, config, tmp_path):
    write(tmp_path, "stop.txt", "date 2022-03-05 It is what it is\n\nIt is what it is.\n")
    only_stop_words = Retriever.over_articles(
        load_corpus(tmp_path), config.retrieval, Encoder(model, "m", None)
    )
    answer = only_stop_words.ask("What is it?")
    assert answer.hits == () or answer.hits[0].passage.text == "It is what it is."


def test_the_same_paragraph_in_two_articles_is_shown_once(world):
    answer = world.ask("Where did the storm flood a harbour?")
    texts = [h.passage.text for h in answer.hits]
    assert answer.answered and "Bergen" in texts[0]
    assert len(texts) == len(set(texts))


# --- questions with control characters and bad bytes -------------------------------------------

NOISY = [
    "Who did Tokayev\x0border to arrest?",
    "Who did Tokayev\x0corder to arrest?",
    "Who did Tokayev\x85order to arrest?",
    "Who did Tokayev\x00order to arrest?",
    "Who did Tokayev\x1b[2Jorder to arrest?",
    "Who did \x1b]0;title\x07Tokayev order to arrest?",
    "Who did Tokayev order to arrest?\udcff",
    "\u202eWho did Tokayev\u200b order to arrest?",
    "  Who  did\tTokayev\norder to arrest?  ",
]


@pytest.mark.parametrize("question", NOISY)
def test_control_characters_between_words_do_not_change_the_answer(retriever, question):
    clean, noisy = retriever.ask(ARREST), retriever.ask(question)
    assert noisy.answered == clean.answered
    assert [h.passage for h in noisy.hits] == [h.passage for h in clean.hits]
    assert noisy.hits[0].highlight == clean.hits[0].highlight
    text = render_answer(noisy, ANSI)
    assert no_control(text) and "\ud800" not in noisy.question


@pytest.mark.parametrize("question", ["\x00", "\x1b[2J", "\udcff", "\u200b\u202e", "\x0b\x0c"])
def test_a_question_of_nothing_but_controls_is_empty(retriever, question):
    assert clean_question(question).strip("\ufffd") == ""
    assert not retriever.ask(question).answered


def test_console_strips_what_it_echoes(retriever):
    chat = ConsoleChat(retriever, ANSI, shown=3, snippet_chars=200)
    for line in ("/\x1b]0;pwned\x07nope", "/timeline \x1b[2Jfrogs", NOISY[4], "\udcff\x00"):
        reply = chat.reply(line)
        assert reply is not None and no_control(reply)


def test_world_sources_and_answers_have_no_control_sequences(world):
    assert no_control(render_sources(world.articles, ANSI))
    assert "Storm hits the coast" in render_sources(world.articles, PLAIN)
    for question in ("What happened in Bergen?", "What happened?", "latest news"):
        assert no_control(render_answer(world.ask(question), ANSI))


def test_ask_survives_bad_bytes_and_control_sequences_everywhere(tmp_path):
    """The command line as a user runs it: bad bytes in the argument, in standard input and in a
    file name, control sequences in seeds and questions; every question answered, valid JSON."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write(seeds, "000.txt", BUNDLED.read_bytes())
    write(seeds, b"storm \xff\x1b[2J.txt", HOSTILE)
    config = tmp_path / "bot.yaml"
    # The small model: what is checked is the bytes' way through, not the answers' quality.
    config.write_text(
        f"corpus:\n  seeds_dir: seeds\n  cache_dir: {tmp_path / 'cache'}\n"
        f"retrieval:\n  model: {MINILM}\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONIOENCODING": "utf-8:strict"}
    stdin = (
        b"Who did Tokayev order \xff\xfe to arrest?\n"
        b"\x1b]0;pwned\x07Where did the storm \x1b[2J flood a harbour?\n"
        b"\xc3\n\x00\x1b[2J\n"
        b"Who did Tokayev order to arrest?\n"
    )
    runs = {}
    for flags in (["--json"], []):
        runs[bool(flags)] = proc = subprocess.run(
            [sys.executable, "-m", "bot", "ask", "--config", str(config), *flags, "-"],
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            timeout=120,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        assert b"Traceback" not in proc.stderr
        out = proc.stdout.decode("utf-8")  # strict: the output is UTF-8 through and through
        assert no_control(out)
    answers = [json.loads(line) for line in runs[True].stdout.decode().splitlines()]
    # A line that is nothing once cleaned ("\x00\x1b[2J") is reported as no question, so that
    # output line N still answers input line N.
    assert [a.get("answered") for a in answers] == [True, True, False, None, True]
    assert answers[3] == {"question": "", "error": "line 4 is empty: no question"}
    assert "Masimov" in answers[0]["passages"][0]["text"]
    assert answers[1]["passages"][0]["source"] == "storm \\xff\\x1b[2J.txt"
    assert answers[1]["passages"][0]["title"] == "Storm hits the coast"
    assert answers[2]["question"] == "\ufffd"
    answers = [answers[n] for n in (0, 1, 2, 4)]
    arg = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--config", str(config), "--json"]
        + [os.fsdecode(b"Who did Tokayev \xff order to arrest?\x1b[2J")],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        env=env,
    )
    assert arg.returncode == 0 and no_control(arg.stdout.decode("utf-8"))
    assert json.loads(arg.stdout)["answered"] is True
    timeline = subprocess.run(
        [sys.executable, "-m", "bot", "timeline", "--config", str(config)]
        + [os.fsdecode(b"frogs\x1b]0;pwned\x07 \xff")],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        env=env,
    )
    assert timeline.returncode == 0
    assert (
        timeline.stdout.decode("utf-8")
        == "No dated events about \u201cfrogs \ufffd\u201d in the articles.\n"
    )


# --- properties: whatever the text, no exception and nothing raw -------------------------------

ANY_TEXT = st.text(
    st.characters(codec=None, exclude_categories=()),  # every code point, lone surrogates too
    max_size=200,
)
# Text that looks like what reaches a bot: words, escapes, controls, invisible characters.
PIECES = st.sampled_from(
    ["Tokayev", "arrest", "Москва", "北京", " ", "\x1b[", "31m", "\x1b]0;", "\x07", "\x9b",
     "\x00", "\x0b", "\x85", "\u200b", "\u202e", "\udcff", "?", "...", "\n", "\t"]
)  # fmt: skip
MIXED = st.lists(PIECES, max_size=30).map("".join)
# In CI the examples are drawn the same way every run (a red build must mean a change broke
# something); on a developer's machine they differ each run and keep exploring.
EXPLORE = os.environ.get("CI") != "true"
FAST = settings(max_examples=200, deadline=None, derandomize=not EXPLORE)


@FAST
@given(st.one_of(ANY_TEXT, MIXED))
def test_clean_question_is_total_idempotent_and_free_of_controls(text):
    cleaned = clean_question(text)
    assert clean_question(cleaned) == cleaned
    assert clean_text(cleaned) == cleaned
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in cleaned)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in cleaned)
    cleaned.encode("utf-8")  # strict


@FAST
@given(st.one_of(ANY_TEXT, MIXED))
def test_analyzer_takes_any_text(text):
    analyzer = Analyzer()
    analyzer.learn_vocabulary([clean_text(text)])
    assert all(term and not term.isspace() for term in analyzer.terms(text))


@settings(
    max_examples=40,
    deadline=None,
    derandomize=not EXPLORE,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.one_of(ANY_TEXT, MIXED))
def test_any_question_gets_an_answer_or_a_refusal(retriever, text):
    answer = retriever.ask(text)
    assert answer.answered == bool(answer.hits)
    assert no_control(render_answer(answer, ANSI))
    json.dumps(answer.question, ensure_ascii=False).encode("utf-8")
