"""Articles added and removed by the bot's admins while it runs (Telegram's documents, /add, a
pasted or forwarded article, /remove): checked with the seed reader (size, encoding, format:
its one-line errors), written atomically into the seeds folder under a safe name made from the
date and title, and indexed at once by the live update path (LiveRetriever.reload, which also
pushes them to the chats following their topics). Nothing here knows Telegram: each call
returns the line to reply.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bot.ingest.items import parse_date
from bot.ingest.writer import write_seed_file
from retrieval.corpus import DATE_LINE, MAX_SEED_BYTES, Article, SeedError, parse_article
from retrieval.live import LiveRetriever

SHOWN_NAME = 60  # characters of a sender's file name echoed back
SLUG_CHARS = 60  # of the title, in a file name
# A pasted message is an article, not a question, with a body this long after its title and date
# lines: a question is a line or two, and one followed by a date line is no article.
MIN_PASTED_BODY = 100


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str


def size_problem(name: str, size: int | None) -> str | None:
    """Why a file of this size is refused before it is downloaded (Telegram gives the size)."""
    if size is not None and size > MAX_SEED_BYTES:
        return (
            f"{_shown(name)}: {size / 2**20:,.1f} MB is too large; an article file can be at "
            f"most {MAX_SEED_BYTES // 2**20} MB."
        )
    if not name.lower().endswith(".txt"):
        return f"{_shown(name)}: please send a .txt file in the seed format (date line, body)."
    return None


def _shown(name: str) -> str:
    name = name or "the file"
    return name if len(name) <= SHOWN_NAME else name[: SHOWN_NAME - 1] + "…"


def from_message(text: str) -> str:
    """/add's text as a seed file: already one ("date YYYY-MM-DD Title" first), or a title line
    then a date line ("2022-01-09", "9 January 2022", "Jan 9, 2022") then the body. A date line
    that is no date is kept as it is, for the reader to name."""
    lines = text.strip().splitlines()
    if not lines or DATE_LINE.match(lines[0].strip()) or len(lines) < 2:
        return text.strip() + "\n"
    date = _date(lines[1])
    return _seed(lines[0], date.isoformat() if date else lines[1].strip(), lines[2:])


def _seed(title: str, date: str, body: list[str]) -> str:
    return f"date {date} {title.strip()}\n\n" + "\n".join(body).strip() + "\n"


def _date(line: str) -> dt.date | None:
    try:
        return parse_date(line)
    except ValueError:
        return None


def pasted_article(text: str, posted: dt.date | None = None) -> str | None:
    """An admin's plain message as a seed file when it is an article, None when it is a
    question. An article: the seed format, or a title line, a date line (as /add reads it) and
    a body of MIN_PASTED_BODY characters. A forwarded message (posted: the day its original was
    posted) is an article whatever its length, and without a date line is of that day."""
    lines = text.strip().splitlines()
    if lines and DATE_LINE.match(lines[0].strip()):
        body = lines[1:]
    elif len(lines) >= 2 and _date(lines[1]) is not None:
        body = lines[2:]
    elif posted is not None and len(lines) >= 2:
        return _seed(lines[0], posted.isoformat(), lines[1:])
    else:
        return None
    if posted is None and len("\n".join(body).strip()) < MIN_PASTED_BODY:
        return None
    return from_message(text)


def file_name(article: Article) -> str:
    """The date and the title's words in ASCII: "2022-01-09_former-spy-chief-masimov.txt"."""
    ascii_title = unicodedata.normalize("NFKD", article.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:SLUG_CHARS].strip("-")
    return f"{article.date.isoformat()}_{slug or 'article'}.txt"


def add_article(
    live: LiveRetriever, data: bytes, sent_name: str, *, replace: bool = False
) -> Outcome:
    """Checks the bytes as a seed file, writes them, reindexes; the reply either way."""
    if len(data) > MAX_SEED_BYTES:
        return Outcome(False, size_problem(sent_name, len(data)) or "too large")
    try:
        article = parse_article(Path(sent_name or "message.txt"), data)
    except SeedError as exc:
        return Outcome(False, f"Not added: {exc}")
    name = file_name(article)
    target = live.seeds_dir / name
    same = (article.date, article.title, article.paragraphs)
    copy = next((a.source for a in live.articles if (a.date, a.title, a.paragraphs) == same), None)
    if copy is not None:
        return Outcome(False, f"Not added: the same article is there already, as {copy}.")
    if not write_seed_file(target, data, replace=replace):
        return Outcome(
            False,
            f"Not added: {name} exists already (an article of the same date and title); "
            "send it again with /add --replace to overwrite it.",
        )
    report = live.reload()
    passages = sum(1 for p in live.passages if p.article.source == name)
    if report.problem or not passages:
        return Outcome(False, f"Written as {name}, but not indexed: {report.problem or 'skipped'}")
    verb = "Replaced" if replace and name in report.changed else "Added"
    return Outcome(
        True,
        f"{verb}: {article.title} ({article.date.isoformat()}), {passages} passage"
        + ("s" if passages != 1 else ""),
    )


def find_article(live: LiveRetriever, wanted: str) -> tuple[Article | None, str]:
    """The article a /remove names by file name or title (a unique part of it), or why none."""
    wanted = " ".join(wanted.split()).casefold()
    if not wanted:
        return None, "Please name the article after /remove: its file name or title."
    exact = [a for a in live.articles if wanted in (a.source.casefold(), a.title.casefold())]
    found = exact or [
        a for a in live.articles if wanted in a.title.casefold() or wanted in a.source.casefold()
    ]
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, "No article has that file name or title; /sources lists them."
    return None, f"{len(found)} articles match; please give more of the title or the file name."


def remove_article(live: LiveRetriever, source: str) -> Outcome:
    """Deletes the article's seed file and reindexes."""
    target = live.seeds_dir / source
    if Path(source).name != source or not target.is_file():
        return Outcome(False, f"Not removed: {source} is no longer in the seeds folder.")
    title = next((a.title for a in live.articles if a.source == source), source)
    if len(live.articles) <= 1:
        return Outcome(False, f"Not removed: {title} is the only article; add another first.")
    target.unlink()
    report = live.reload()
    return Outcome(True, f"Removed: {title} ({source}); {report.articles} articles now.")
