"""`newsbot import` (issue 18, item 0): each format from a small fixture with bad items, dates
in their common forms, duplicates against the folder, safe names, atomic writes."""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.ingest.items import parse_date
from bot.ingest.writer import SeedWriter, slug
from retrieval.corpus import load_corpus, parse_article

DATA = Path(__file__).resolve().parent / "data" / "import"
CSV_FIELDS = ["--title-field", "headline", "--date-field", "published", "--text-field", "body",
              "--url-field", "link"]  # fmt: skip


def run_import(capsys, out: Path, *args: str) -> tuple[int, str, list[str]]:
    code = main(["import", *args, "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out.strip(), captured.err.strip().splitlines()


def articles(folder: Path) -> dict[str, tuple[str, str]]:
    """title -> (date, first paragraph) of every seed file, each read by the bot's reader."""
    return {a.title: (a.date.isoformat(), a.paragraphs[0]) for a in load_corpus(folder)}


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("Sat, 08 Jan 2022 23:30:00 -0500", "2022-01-08"),  # RFC 822: its own day, not UTC's
        ("2024-03-05T23:30:00-05:00", "2024-03-05"),  # ISO 8601 with an offset
        ("2024-03-05", "2024-03-05"),
        ("2023-11-11T01:15:00Z", "2023-11-11"),
        ("26-FEB-1987 15:01:01.79", "1987-02-26"),  # Reuters-21578
        (" 2-MAR-1987 09:11:00.00", "1987-03-02"),
        ("March 5, 2024", "2024-03-05"),
    ],
)
def test_dates_in_their_common_forms_keep_the_articles_own_day(text, date):
    assert parse_date(text).isoformat() == date


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2023-02-30", "impossible date '2023-02-30'"),
        ("31-FEB-1987 15:03:27.51", "impossible date"),
        ("March 2024", "lacks its day, month or year"),
        ("sometime soon", "is not a date"),
        ("", "the date is empty"),
        ("9" * 500, "too long to be a date"),
    ],
)
def test_a_date_that_is_not_a_whole_date_says_why(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_date(text)


def test_rss_keeps_the_feeds_day_names_bad_items_and_skips_a_repeated_link(tmp_path, capsys):
    code, summary, errors = run_import(capsys, tmp_path, str(DATA / "feed.rss"))
    assert code == 0
    assert summary == (f"Imported 2 articles into {tmp_path}; skipped 1 duplicate, 2 bad items.")
    assert errors == [
        "newsbot: skipped feed.rss, item 3 'An item without a date': no date",
        "newsbot: skipped feed.rss, item 4 'An item with a date that is no date':"
        " the date 'sometime soon' is not a date",
    ]
    found = articles(tmp_path)
    date, first = found["Tokayev orders arrest of former security chief Masimov"]
    assert date == "2022-01-08"  # 23:30 at -0500 is the 9th in UTC; the feed's day is kept
    assert first.startswith("Karim Masimov, the former head")  # HTML paragraphs, tags gone
    masimov = next(tmp_path.glob("2022-01-08_tokayev-orders-arrest-*.txt"))
    assert len(parse_article(masimov).paragraphs) == 2


def test_atom(tmp_path, capsys):
    code, summary, errors = run_import(capsys, tmp_path, str(DATA / "feed.atom"))
    assert (code, errors) == (0, ["newsbot: skipped feed.atom, item 2: no title"])
    assert "Imported 1 article" in summary
    assert articles(tmp_path)["Iceland declares emergency as volcano threatens Grindavik"][0] == (
        "2023-11-11"
    )


def test_json_lines_names_each_bad_line_and_skips_the_same_text(tmp_path, capsys):
    code, summary, errors = run_import(capsys, tmp_path, str(DATA / "articles.jsonl"))
    assert code == 0
    assert summary.endswith("skipped 1 duplicate, 4 bad items.")
    assert errors == [
        "newsbot: skipped articles.jsonl:2: not JSON (Expecting ',' delimiter at column 74)",
        "newsbot: skipped articles.jsonl:4: no 'text'",
        "newsbot: skipped articles.jsonl:5: impossible date '2023-02-30' (day is out of range"
        " for month)",
        "newsbot: skipped articles.jsonl:6: not a JSON object ({...})",
    ]
    assert articles(tmp_path) == {
        "OPEC agrees to cut output": (
            "2023-04-02",
            "OPEC and its allies agreed to cut oil output by about 1.16 million barrels per day.",
        ),
        "Central bank raises rates": (
            "2023-04-05",
            "The central bank raised its main rate by a quarter point.",
        ),
    }


def test_csv_with_columns_named_by_options(tmp_path, capsys):
    code, summary, errors = run_import(capsys, tmp_path, str(DATA / "articles.csv"), *CSV_FIELDS)
    assert code == 0
    assert errors == [
        "newsbot: skipped articles.csv:5: no 'published'",
        "newsbot: skipped articles.csv:7: no 'headline'",
    ]
    found = articles(tmp_path)
    assert found["Harbour strike ends after two weeks"][0] == "2023-06-12"
    assert found["Storm closes the bridge"][0] == "2023-06-13"  # a Reuters-style date
    strike = next(tmp_path.glob("2023-06-12_*.txt"))
    assert len(parse_article(strike).paragraphs) == 2  # the quoted cell's blank line


def test_csv_without_the_columns_is_one_line_and_the_other_sources_are_imported(tmp_path, capsys):
    code, summary, errors = run_import(
        capsys, tmp_path, str(DATA / "articles.csv"), str(DATA / "feed.atom"),
        str(tmp_path / "missing.jsonl"),
    )  # fmt: skip
    assert code == 2
    assert errors == [
        "newsbot: cannot import articles.csv: no column 'title', 'date', 'text' (columns:"
        " 'headline', 'published', 'body', 'link')",
        "newsbot: skipped feed.atom, item 2: no title",
        f"newsbot: cannot import {tmp_path / 'missing.jsonl'}: cannot read it: no such file or"
        " directory",
    ]
    assert summary.endswith("skipped 0 duplicates, 1 bad item; 2 source(s) not read.")
    assert len(list(tmp_path.glob("*.txt"))) == 1


def test_html_article_page_by_trafilatura(tmp_path, capsys):
    code, summary, errors = run_import(capsys, tmp_path, str(DATA / "page.html"))
    assert (code, errors) == (0, [])
    [(title, (date, first))] = articles(tmp_path).items()
    assert (title, date) == ("Rail link to the coast opens", "2024-03-05")
    assert first.startswith("The new rail link between the capital and the coast opened")
    text = next(tmp_path.glob("*.txt")).read_text()
    assert "Sport" not in text and "newsletter" not in text  # navigation and footer left out


def test_reuters_sgml_names_briefs_and_impossible_dates(tmp_path, capsys):
    code, summary, errors = run_import(capsys, tmp_path, str(DATA / "reut2-000.sgm"))
    assert code == 0
    assert errors == [
        "newsbot: skipped reut2-000.sgm, NEWID 2: no body",
        "newsbot: skipped reut2-000.sgm, NEWID 3: impossible date '31-FEB-1987 15:03:27.51'",
    ]
    cocoa = parse_article(next(tmp_path.glob("1987-02-26_bahia-cocoa-review_*.txt")))
    assert cocoa.paragraphs == (
        "Showers continued throughout the week in the Bahia cocoa zone, alleviating the drought"
        " since early January and improving prospects for the coming temporao, Comissaria Smith"
        " said in its weekly review.",
        "The dry period means the temporao will be late this year.",
    )  # the indented line starts a paragraph; "Reuter" and the control characters go


def test_reuters_from_the_uci_download_a_zip_holding_the_tar_gz(tmp_path, capsys):
    """UCI's download is a zip around reuters21578.tar.gz, which holds the reut2-*.sgm files
    beside others (README.txt, all-*-strings.lc.txt): the README's path takes it as it is."""
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        tar.add(DATA / "reut2-000.sgm", arcname="reut2-000.sgm")
        tar.add(DATA / "feed.atom", arcname="README.txt")
    download = tmp_path / "reuters+21578+text+categorization+collection.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr("reuters21578.tar.gz", packed.getvalue())
    out = tmp_path / "seeds"
    out.mkdir()
    code, summary, errors = run_import(capsys, out, str(download))
    assert code == 0
    assert errors[0].startswith(
        f"newsbot: skipped {download.name}:reuters21578.tar.gz:reut2-000.sgm"
    )
    assert summary == f"Imported 2 articles into {out}; skipped 0 duplicates, 2 bad items."
    # Run again: every story is a duplicate, by its NEWID.
    code, summary, _ = run_import(capsys, out, str(download))
    assert summary.endswith("skipped 2 duplicates, 2 bad items.")


def test_duplicates_of_the_seed_files_already_there_are_skipped(tmp_path, capsys):
    shutil.copy(DATA / "existing.txt.seed", tmp_path / "gas.txt")  # written by hand, no URL
    code, summary, _ = run_import(capsys, tmp_path, str(DATA / "feed.rss"))
    assert summary.endswith("skipped 2 duplicates, 2 bad items.")  # the same text as gas.txt
    before = sorted(p.name for p in tmp_path.iterdir())
    code, summary, _ = run_import(capsys, tmp_path, str(DATA / "feed.rss"))
    assert summary.startswith("Imported 0 articles")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing left behind either


def test_names_are_safe_and_an_existing_file_is_never_overwritten(tmp_path):
    assert slug("../../etc/passwd; rm -rf ~") == "etc-passwd-rm-rf"
    assert slug("Überraschung: Café “Zürich” …") == "uberraschung-cafe-zurich"
    assert slug("Кремль") == "article"
    assert len(slug("word " * 100)) <= 60
    writer = SeedWriter(tmp_path)
    from bot.ingest.items import NewsItem

    item = NewsItem("../secret", parse_date("2024-01-01"), "Some text here.", "http://x/1", "t")
    first = writer.add(item)
    assert first.name.startswith("2024-01-01_secret_") and "/" not in first.name
    (tmp_path / first.name).write_text("date 2024-01-01 Edited\n\nKept as the user edited it.\n")
    again = SeedWriter(tmp_path).add(item)  # a new writer: the same URL is found by name
    assert type(again).__name__ == "Duplicate"
    assert "Kept as the user edited it." in (tmp_path / first.name).read_text()
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary file left


def test_a_text_the_seed_reader_refuses_is_a_bad_item(tmp_path, capsys):
    source = tmp_path / "huge.jsonl"
    source.write_text(
        '{"title": "Huge", "date": "2024-01-01", "text": "%s"}\n' % ("word " * 300_000)
    )
    out = tmp_path / "out"
    out.mkdir()
    code, summary, errors = run_import(capsys, out, str(source))
    assert errors == ["newsbot: skipped huge.jsonl:1: larger than the limit of 1 MiB"]
    assert list(out.iterdir()) == []


def test_out_must_be_a_folder(tmp_path, capsys):
    code = main(["import", str(DATA / "feed.rss"), "--out", str(tmp_path / "nowhere")])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"newsbot: error: --out {tmp_path / 'nowhere'}: seeds folder does not exist"
    )
