"""Seed files: parsing, ordering, and one-line errors naming file, line and problem."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from retrieval.corpus import SeedError, list_seeds, load_corpus, parse_article, read_seeds
from retrieval.passages import split_passages, split_sentences

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "seeds" / "000_bf7e3f6dcec9099b.txt"


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- good files -------------------------------------------------------------------------------


def test_bundled_article_parses():
    article = parse_article(BUNDLED)
    assert article.title == (
        "Masimov was a loyalist of former President Nazabaryev. The purge has begun"
    )
    assert article.date == dt.date(2022, 1, 8)
    assert article.source == "000_bf7e3f6dcec9099b.txt"
    assert len(article.paragraphs) == 3
    assert article.paragraphs[0].startswith("Being friends with everyone is not enough.")
    assert "Karim Masimov" in article.paragraphs[0]
    assert "Zhanaozen" in article.paragraphs[1]
    assert article.paragraphs[2].endswith("a good start.")
    # Line breaks inside a paragraph are folded into single spaces.
    assert all("\n" not in p and "  " not in p for p in article.paragraphs)


def test_leading_whitespace_and_blank_lines_before_date_line(tmp_path):
    path = write(
        tmp_path, "a.txt", "\n\n   \t date 2023-05-17   A title  \n\nFirst para.\n\nSecond para.\n"
    )
    article = parse_article(path)
    assert article.date == dt.date(2023, 5, 17)
    assert article.title == "A title"
    assert article.paragraphs == ("First para.", "Second para.")


def test_paragraph_lines_joined_and_crlf_and_bom(tmp_path):
    text = "\ufeffdate 2021-12-31 Title\r\n\r\nOne line\r\ncontinues here.\r\n  \r\nNext.\r\n"
    article = parse_article(write(tmp_path, "b.txt", text))
    assert article.title == "Title"
    assert article.paragraphs == ("One line continues here.", "Next.")


def test_several_articles_sorted_oldest_first(tmp_path):
    write(tmp_path, "a.txt", "date 2023-03-01 Spring\n\nIt was spring.\n")
    write(tmp_path, "b.txt", "date 2021-07-15 Summer\n\nIt was summer.\n")
    write(tmp_path, "c.txt", "date 2022-11-20 Autumn\n\nIt was autumn.\n")
    write(tmp_path, "notes.md", "not a seed file at all")
    articles = load_corpus(tmp_path)
    assert [a.title for a in articles] == ["Summer", "Autumn", "Spring"]
    assert [a.date for a in articles] == sorted(a.date for a in articles)
    assert [a.source for a in articles] == ["b.txt", "c.txt", "a.txt"]


# --- broken files: each error names the file, the line and the problem -------------------------

BROKEN = [
    # name, content, expected line (None: no line), words the problem must mention
    ("nodate.txt", "Kazakhstan riots\n\nSome text.\n", 1, ["expected", "date YYYY-MM-DD"]),
    ("impossible.txt", "\ndate 2022-02-30 Title\n\nText.\n", 2, ["impossible date", "2022-02-30"]),
    ("format.txt", "date 08/01/2022 Title\n\nText.\n", 1, ["08/01/2022", "not YYYY-MM-DD"]),
    ("short.txt", "date 2022-1-8 Title\n\nText.\n", 1, ["2022-1-8", "not YYYY-MM-DD"]),
    ("nobody.txt", "date 2022-01-08 Only a title\n\n\n   \n", 1, ["no body"]),
    ("empty.txt", "", None, ["empty"]),
    ("blank.txt", "  \n\n\t\n", None, ["empty"]),
    ("utf16.txt", b"\xff\xfed\x00a\x00t\x00e\x00", 1, ["not UTF-8"]),
]


@pytest.mark.parametrize(("name", "content", "line", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_file_reported_in_one_line(tmp_path, name, content, line, words):
    path = write(tmp_path, name, content)
    with pytest.raises(SeedError) as info:
        parse_article(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:" if line is None else f"{path}:{line}:")
    assert info.value.line == line
    for word in words:
        assert word in message


@pytest.mark.parametrize("name", [b[0] for b in BROKEN])
def test_broken_file_stops_loading_the_folder(tmp_path, name):
    content = dict((b[0], b[1]) for b in BROKEN)[name]
    write(tmp_path, "good.txt", "date 2022-01-08 Good\n\nFine text.\n")
    bad = write(tmp_path, name, content)
    with pytest.raises(SeedError) as info:
        load_corpus(tmp_path)
    assert str(bad) in str(info.value)


def test_not_utf8_reports_the_line_of_the_bad_byte(tmp_path):
    path = write(
        tmp_path, "latin1.txt", "date 2022-01-08 Title\n\nCaf\xe9 au lait.\n".encode("latin-1")
    )
    with pytest.raises(SeedError) as info:
        parse_article(path)
    assert str(info.value).startswith(f"{path}:3:")
    assert "not UTF-8" in str(info.value)


def test_skip_bad_files_keeps_good_ones_and_warns(tmp_path, caplog):
    write(tmp_path, "a_good.txt", "date 2022-01-08 Good one\n\nFine text.\n")
    write(tmp_path, "b_bad.txt", "date 2022-02-30 Bad date\n\nText.\n")
    write(tmp_path, "c_empty.txt", "")
    write(tmp_path, "d_good.txt", "date 2020-06-01 Older one\n\nMore text.\n")
    with caplog.at_level(logging.WARNING, logger="retrieval.corpus"):
        articles = load_corpus(tmp_path, skip_bad_files=True)
    assert [a.source for a in articles] == ["d_good.txt", "a_good.txt"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert any("b_bad.txt:1" in w and "impossible date" in w for w in warnings)
    assert any("c_empty.txt" in w and "empty" in w for w in warnings)


def test_folder_with_only_bad_files_is_an_error_even_when_skipping(tmp_path):
    write(tmp_path, "bad.txt", "no date here\n\ntext\n")
    with pytest.raises(SeedError, match="no usable seed files"):
        load_corpus(tmp_path, skip_bad_files=True)


def test_folder_without_seed_files_is_an_error(tmp_path):
    write(tmp_path, "readme.md", "date 2022-01-08 Not a txt\n\nText.\n")
    with pytest.raises(SeedError) as info:
        load_corpus(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert "no usable seed files" in str(info.value)


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(SeedError, match="does not exist"):
        load_corpus(tmp_path / "nowhere")


# --- passages ---------------------------------------------------------------------------------


def test_one_reader_lists_loads_and_says_what_changed(tmp_path, caplog):
    """list_seeds (the watcher), load_corpus (a run without an index) and read_seeds (the
    index) read the folder alike; a link to nowhere is a bad file, not silently left out."""
    write(tmp_path, "a.txt", "date 2022-01-02 A\n\nFirst story.\n")
    write(tmp_path, "b.txt", "date 2022-01-01 B\n\nSecond story.\n")
    write(tmp_path, "notes.md", "not a seed")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere")
    assert [s.name for s in list_seeds(tmp_path)] == ["a.txt", "b.txt", "gone.txt"]
    with pytest.raises(SeedError, match="gone.txt: cannot read"):
        load_corpus(tmp_path)
    with caplog.at_level(logging.WARNING):
        first = read_seeds(tmp_path, on_bad="skip")
    assert [a.source for a in first.articles] == ["b.txt", "a.txt"]  # oldest first
    assert first.added == ("a.txt", "b.txt") and first.skipped == ("gone.txt",)
    assert any("gone.txt: cannot read" in m for m in caplog.messages)
    known = {a.source: (first.stamps[a.source], a) for a in first.articles}
    write(tmp_path, "b.txt", "date 2022-01-01 B\n\nSecond story, edited.\n")
    (tmp_path / "a.txt").unlink()
    again = read_seeds(tmp_path, on_bad="skip", known=known)
    assert (again.added, again.changed, again.removed) == ((), ("b.txt",), ("a.txt",))


def test_abbreviation_does_not_split_a_sentence():
    paragraph = parse_article(BUNDLED).paragraphs[2]
    sentences = split_sentences(paragraph)
    petersburg = [s for s in sentences if "Petersburg" in s]
    assert len(petersburg) == 1
    assert "his visit to St. Petersburg on December 28" in petersburg[0]
    assert not any(s.endswith("St.") for s in sentences)
    assert split_sentences("Dr. Smith met U.S. officials in St. Louis. They talked.") == [
        "Dr. Smith met U.S. officials in St. Louis.",
        "They talked.",
    ]


@pytest.mark.parametrize(("max_sentences", "stride"), [(1, 1), (2, 1), (3, 1), (3, 2), (5, 3)])
def test_passage_windows(max_sentences, stride):
    article = parse_article(BUNDLED)
    passages = split_passages(article, max_sentences=max_sentences, stride=stride)
    covered: set[tuple[int, int]] = set()
    for p in passages:
        sentences = split_sentences(article.paragraphs[p.paragraph])
        assert 1 <= len(p.sentences) <= max_sentences
        # The window is exactly those consecutive sentences of its own paragraph.
        assert (
            list(p.sentences) == sentences[p.first_sentence : p.first_sentence + len(p.sentences)]
        )
        assert p.text in article.paragraphs[p.paragraph]
        assert p.article is article
        covered.update((p.paragraph, i) for i in p.sentence_span)
    every = {
        (n, i)
        for n, paragraph in enumerate(article.paragraphs)
        for i in range(len(split_sentences(paragraph)))
    }
    assert covered == every


def test_short_paragraph_is_one_passage_and_windows_stay_inside_paragraphs(tmp_path):
    path = write(
        tmp_path,
        "p.txt",
        "date 2022-01-08 T\n\nOne. Two. Three. Four.\n\nFive is alone.\n\nSix. Seven.\n",
    )
    passages = split_passages(parse_article(path), max_sentences=3, stride=1)
    assert [(p.paragraph, p.first_sentence, p.sentences) for p in passages] == [
        (0, 0, ("One.", "Two.", "Three.")),
        (0, 1, ("Two.", "Three.", "Four.")),
        (1, 0, ("Five is alone.",)),
        (2, 0, ("Six.", "Seven.")),
    ]
    assert passages[0].overlaps(passages[1])
    assert not passages[1].overlaps(passages[2])


def test_stride_still_covers_the_paragraph_tail(tmp_path):
    path = write(tmp_path, "s.txt", "date 2022-01-08 T\n\nA1. B2. C3. D4. E5. F6.\n")
    passages = split_passages(parse_article(path), max_sentences=4, stride=3)
    assert [p.first_sentence for p in passages] == [0, 2]
    assert passages[-1].sentences[-1] == "F6."
