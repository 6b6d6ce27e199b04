"""The one way an answer is written, for every front end; only the markup differs."""

from __future__ import annotations

import calendar
import datetime as dt
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.corpus import Article, SeedError
from retrieval.dates.timex import Assumption, Impossible, ImpossibleDate, Reading, TimeExpression
from retrieval.files import os_problem
from retrieval.index.local import SyncReport
from retrieval.pipeline import Answer, Hit, TimelineEvent

NO_ANSWER = "I found nothing about that in the articles."
NO_ANSWER_HINT = "Ask about something they cover; {sources} lists them with their dates."


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class Markup:
    escape: Callable[[str], str]
    bold: Callable[[str], str]
    dim: Callable[[str], str]


PLAIN = Markup(escape=_same, bold=lambda s: f"**{s}**", dim=_same)
# Plain text with no marks at all: a timeline piped on (its dates need no "**").
TEXT = Markup(escape=_same, bold=_same, dim=_same)
ANSI = Markup(
    escape=_same, bold=lambda s: f"\033[1;33m{s}\033[0m", dim=lambda s: f"\033[2m{s}\033[0m"
)
HTML = Markup(escape=lambda s: html.escape(s, quote=False), bold=lambda s: f"<b>{s}</b>",
              dim=lambda s: f"<i>{s}</i>")  # fmt: skip


def human_date(date: dt.date) -> str:
    return f"{date.day} {date:%B %Y}"


def impossible_date_text(problem: ImpossibleDate) -> str:
    """Why a question's date cannot be, in a sentence: "There is no 30 February."."""
    if problem.reason is Impossible.YEAR_TOO_LATE:
        return "I can read years only up to 9999."
    if problem.reason is Impossible.NO_SUCH_MONTH:
        return f"There is no month {problem.month}."
    day, month, year = problem.day, calendar.month_name[problem.month or 0], problem.year
    if problem.reason is Impossible.NOT_A_LEAP_YEAR:
        return f"There is no {day} {month} {year}: {year} is not a leap year."
    return f"There is no {day} {month}."


_READINGS = {
    Reading.FROM_NEWEST: "{taken}, counted from the newest article ({newest})",
    Reading.REVERSED: "{taken}: the later date came first",
    Reading.DAY_FIRST: "{taken}, day before month",
}


def assumption_text(assumption: Assumption) -> str:
    """How a question's time phrase was read, when that took an assumption."""
    taken = f"taking “{assumption.phrase}” as {assumption.period.label()}"
    return _READINGS[assumption.reading].format(taken=taken, newest=human_date(assumption.newest))


def answer_notes(answer: Answer) -> list[str]:
    """What the answer assumed (the question's dates first) or could not meet, in plain words."""
    assumed = answer.time.assumptions if answer.time is not None else ()
    return [assumption_text(a) for a in assumed] + list(answer.notes)


def answer_problem(answer: Answer) -> str | None:
    """Why the question cannot be answered as asked, in plain words, or None."""
    if answer.impossible_date is not None:
        return impossible_date_text(answer.impossible_date)
    return answer.problem


def byline(article: Article, m: Markup) -> str:
    return m.dim(f"— {m.escape(article.title)}, {human_date(article.date)}")


def shorten(text: str, limit: int) -> str:
    """Text cut at a word boundary to at most limit characters, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:–- ")
    return cut + "…"


# Stands for a space inside a dated phrase while text is cut, so that a cut at a word boundary
# never falls inside "last Wednesday (5 January 2022)"; _unglue puts the spaces back.
_GLUE = "\ue0ff"


def _unglue(text: str) -> str:
    return text.replace(_GLUE, " ")


def with_dates(text: str, expressions: Sequence[TimeExpression], *, glue: bool = False) -> str:
    """The text with each time phrase that does not say its own date followed by it:
    "last Wednesday (5 January 2022)". Offsets are into text. glue: the phrase and its date
    are one word for shorten and _tail (see _GLUE)."""
    out, at = [], 0
    for e in sorted(expressions, key=lambda e: e.start):
        if e.explicit or e.start < at:
            continue
        dated = text[e.start : e.end] + f" ({e.period.label()})"
        out.append(text[at : e.start] + (dated.replace(" ", _GLUE) if glue else dated))
        at = e.end
    return "".join(out) + text[at:]


def sentence_dates(hit: Hit, index: int) -> list[TimeExpression]:
    """The hit's time expressions that lie in one of its sentences, offsets into that sentence."""
    start = hit.passage.sentence_offsets[index]
    end = start + len(hit.passage.sentences[index])
    return [e.shifted(-start) for e in hit.dates if start <= e.start and e.end <= end]


def dated_sentence(hit: Hit, index: int, *, glue: bool = False) -> str:
    return with_dates(hit.passage.sentences[index], sentence_dates(hit, index), glue=glue)


def passage_text(hit: Hit, m: Markup) -> str:
    parts = []
    for i in range(len(hit.passage.sentences)):
        text = m.escape(dated_sentence(hit, i))
        parts.append(m.bold(text) if i == hit.highlight else text)
    return " ".join(parts)


def full_passage(hit: Hit, m: Markup) -> str:
    return passage_text(hit, m) + "\n" + byline(hit.passage.article, m)


def short_passage(hit: Hit, m: Markup, snippet_chars: int) -> str:
    article = hit.passage.article
    source = m.dim(f"— {m.escape(shorten(article.title, 60))}, {human_date(article.date)}")
    text = _unglue(shorten(dated_sentence(hit, hit.highlight, glue=True), snippet_chars))
    return m.escape(text) + " " + source


def _tail(text: str, limit: int) -> str:
    """The end of text in at most limit characters, starting at a word, "…" if cut."""
    if len(text) <= limit:
        return text
    if limit < 2:
        return ""
    cut = text[len(text) - limit + 1 :]
    cut = cut.split(" ", 1)[1] if " " in cut else ""
    return "…" + cut.lstrip(",;:–- ") if cut else ""


def snippet(hit: Hit, m: Markup, snippet_chars: int) -> str:
    """The passage's best sentence, marked, with what comes before and after it as far as
    snippet_chars allows: "…the old regime? **Soon to understand.** The eternal…", never a
    fragment without its context."""
    sentences = [dated_sentence(hit, n, glue=True) for n in range(len(hit.passage.sentences))]
    best = sentences[hit.highlight]
    if len(best) >= snippet_chars:
        return m.bold(m.escape(_unglue(shorten(best, snippet_chars))))
    before = " ".join(sentences[: hit.highlight])
    after = " ".join(sentences[hit.highlight + 1 :])
    room = snippet_chars - len(best) - 2  # the spaces around the best sentence
    lead = _tail(before, min(len(before), max(room // 2, room - len(after))))
    follow = shorten(after, room - len(lead)) if after and room - len(lead) >= 8 else ""
    follow = "" if follow == "…" else follow
    parts = [m.escape(_unglue(lead))] if lead else []
    parts.append(m.bold(m.escape(_unglue(best))))
    if follow:
        parts.append(m.escape(_unglue(follow)))
    return " ".join(parts)


def _as_typed(question: str, word: str, correction: str) -> tuple[str, str]:
    """A spelling note in the user's capitalisation: "Nazarbaev → Nazarbayev"."""
    found = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", question, re.I)
    typed = found.group(0) if found else word
    if typed.isupper() and len(typed) > 1:
        return typed, correction.upper()
    if typed[:1].isupper():
        return typed, correction[:1].upper() + correction[1:]
    return typed, correction


def corrections_note(answer: Answer, m: Markup) -> str:
    pairs = sorted(_as_typed(answer.question, w, c) for w, c in answer.corrections.items())
    fixes = ", ".join(f"{m.escape(w)} → {m.escape(c)}" for w, c in pairs)
    return m.dim(f"(spelling: {fixes})")


def render_answer(
    answer: Answer,
    m: Markup,
    *,
    shown: int = 3,
    snippet_chars: int = 200,
    max_chars: int | None = None,
    sources_command: str = "/sources",
    context: str | None = None,
) -> str:
    """The best passage in full with its best sentence marked, then the next ones shortened.

    With max_chars, fewer passages are listed, then the snippet shrinks, until it fits.
    context: how a follow-up was read ("taking “Masimov” from your last question"), said first.
    """
    return fit_answer(
        answer,
        m,
        shown=shown,
        snippet_chars=snippet_chars,
        max_chars=max_chars,
        sources_command=sources_command,
        context=context,
    )[0]


def fit_answer(
    answer: Answer,
    m: Markup,
    *,
    shown: int,
    snippet_chars: int,
    max_chars: int | None,
    sources_command: str = "/sources",
    context: str | None = None,
) -> tuple[str, int]:
    """render_answer's text and how many passages it lists (where "more" paging goes on)."""
    lead = m.dim(f"({m.escape(context)})") + "\n" if context else ""
    if not answer.answered:
        return lead + _unanswered(answer, m, sources_command), 0
    for count in range(min(shown, len(answer.hits)), 0, -1):
        text = lead + _answer_text(answer, m, count, snippet_chars)
        if max_chars is None or len(text) <= max_chars:
            return text, count
    return shortest_passage(answer.hits[0], m, max_chars or 0, snippet_chars), 1


def _unanswered(answer: Answer, m: Markup, sources_command: str) -> str:
    if answer.impossible_date is not None:
        text = impossible_date_text(answer.impossible_date)
        return m.escape(text) + " Please check the date and ask again."
    if answer.problem:
        return m.escape(answer.problem)
    notes = answer_notes(answer)
    if notes:
        return "\n".join(m.escape(n) for n in notes)
    return NO_ANSWER + " " + NO_ANSWER_HINT.format(sources=sources_command)


def when_line(answer: Answer, m: Markup) -> str | None:
    """For "When ...?": the resolved date first, with the words the article used."""
    if answer.when is None:
        return None
    said = answer.when
    article = answer.hits[0].passage.article
    if said.explicit:
        return m.bold(said.period.label())
    return m.bold(said.period.label()) + m.dim(
        f" (“{m.escape(said.text)}” in the article of {human_date(article.date)})"
    )


# What a doubt says is missing, by the type of value asked for (retrieval.answer.doubt).
_ASKED = {"count": "how many", "amount": "how much", "age": "how old", "date": "when",
          "person": "who", "place": "where", "organisation": "which organisation"}  # fmt: skip
_TYPE_WORDS = {"many", "much", "old"}


def doubt_line(answer: Answer, m: Markup) -> str | None:
    """The passages are about the topic but may not say what was asked: said before them."""
    doubt = answer.doubtful
    if doubt is None:
        return None
    about = " ".join(doubt.held) or "this"
    # withheld: a passage says the value is not given ("did not know how much ...").
    if doubt.reason in ("no_value", "withheld") and doubt.asked in _ASKED:
        lacking = " ".join(w for w in doubt.missing if w.casefold() not in _TYPE_WORDS)
        said = f"The articles mention {about} but not {_ASKED[doubt.asked]} {lacking}".rstrip()
    elif doubt.reason == "qualifier":  # "how much per MD-11 jet", "who replaced", "the new CEO"
        post = doubt.missing[0].split()[0].casefold() in ("new", "interim", "acting", "permanent")
        lead = "the" if post else _ASKED.get(doubt.asked or "", "what")
        said = f"The articles mention {about} but not {lead} {doubt.missing[0]}"
    elif doubt.reason == "unknown_name":  # the closest passages may still help
        said = f"No article mentions {', '.join(doubt.missing)}"
    elif doubt.reason == "missing_number":
        said = f"The articles mention {about} but not {', '.join(doubt.missing)}"
    else:  # negation: the question asks what did not happen; the passages do not say so
        said = f"The articles mention {about} but may not say what you asked"
    return m.dim(m.escape(said + "; these are the closest passages."))


def short_answer_line(answer: Answer, m: Markup) -> str | None:
    """The value asked for ("2,500"), above the passage it comes from; a date the when line
    gives already is not said twice."""
    short = answer.short_answer
    if short is None or (short.type == "date" and answer.when is not None):
        return None
    if short.period is not None:
        return m.bold(short.period.label()) + m.dim(f" (“{m.escape(short.text)}”)")
    return m.bold(m.escape(short.text))


def shortest_passage(hit: Hit, m: Markup, budget: int, snippet_chars: int = 200) -> str:
    """A passage too long for budget: its best sentence with the byline, cut shorter until it
    fits, then without the byline. Escaping can lengthen text, so rendered length is checked."""
    limit = snippet_chars * 4
    while limit > 20:
        text = short_passage(hit, m, limit)
        if len(text) <= budget:
            return text
        limit = limit * 2 // 3
    limit = budget
    while limit > 1 and len(m.escape(shorten(hit.highlight_text, limit))) > budget:
        limit = limit * 2 // 3
    return m.escape(shorten(hit.highlight_text, limit))


def by_article(hits: Sequence[Hit]) -> list[list[Hit]]:
    """Hits grouped by article, each group where its article's best hit ranks."""
    groups: dict[str, list[Hit]] = {}
    for hit in hits:
        groups.setdefault(hit.passage.article.source, []).append(hit)
    return list(groups.values())


def _answer_text(answer: Answer, m: Markup, count: int, snippet_chars: int) -> str:
    lines = [m.dim(m.escape(note)) for note in answer_notes(answer)]
    lines += [line for line in (doubt_line(answer, m), when_line(answer, m)) if line]
    short = short_answer_line(answer, m)
    if short:
        lines.append(short)
    top = answer.hits[0]
    lines.append(full_passage(top, m))
    number = 2
    # One title line per article: the top passage's byline covers its article's other passages.
    for n, group in enumerate(by_article(answer.hits[1:count])):
        article = group[0].passage.article
        lines.append("")
        if n == 0 and article.source == top.passage.article.source:
            lines.append(m.dim("Also from this article:"))
        else:
            title = m.escape(shorten(article.title, 80))
            lines.append(m.dim(f"Also from “{title}”, {human_date(article.date)}:"))
        for hit in group:
            lines.append(f"{number}. " + snippet(hit, m, snippet_chars))
            number += 1
    if answer.corrections:
        lines.append(corrections_note(answer, m))
    return "\n".join(lines)


def render_more(hits: Sequence[Hit], m: Markup, *, first_number: int) -> str:
    """Further passages for the same question, each in full; consecutive passages of one
    article share the title line after them."""
    blocks, number = [], first_number
    run: list[Hit] = []

    def close() -> None:
        nonlocal number
        if not run:
            return
        texts = []
        for hit in run:
            texts.append(f"{number}. " + passage_text(hit, m))
            number += 1
        blocks.append("\n\n".join(texts) + "\n" + byline(run[0].passage.article, m))
        run.clear()

    for hit in hits:
        if run and run[0].passage.article.source != hit.passage.article.source:
            close()
        run.append(hit)
    close()
    return "\n\n".join(blocks)


def example_questions(
    articles: Sequence[Article], configured: Sequence[str] | None = None
) -> list[str]:
    """Two questions a new user can try: the configured ones, else made from the articles."""
    if configured:
        return list(configured[:2])
    newest_first = sorted(articles, key=lambda a: a.date, reverse=True)
    if not newest_first:
        return ["What happened?", "Who was involved?"]
    # An overview question: the articles' lead passages answer it (a title inside quotes
    # would be read as a topic and answered by some passage in the middle).
    about = "What is this article about?" if len(articles) == 1 else "What are the articles about?"
    return [f"What happened on {human_date(newest_first[0].date)}?", about]


def reload_message(reload: Callable[[], SyncReport]) -> str:
    """Runs a reload of the seeds folder and says how it went, as every front end says it."""
    try:
        report = reload()
    except SeedError as exc:  # every file gone or broken, the folder removed
        return f"Not reloaded: {exc}; the articles loaded before stay."
    except OSError as exc:  # the index cannot be written anywhere: not the output failing
        return f"Not reloaded: cannot build the index ({os_problem(exc)}); the articles loaded before stay."
    if report.problem:  # a full disk while indexing: the index before answers on
        return f"Not reloaded: {report.problem}; the articles loaded before stay."
    done = "Articles reloaded" if report.rebuilt else "The articles are up to date"
    return f"{done}: {report.summary()}"


def render_sources(articles: Sequence[Article], m: Markup) -> str:
    lines = [f"{len(articles)} article{'s' if len(articles) != 1 else ''}:"]
    for a in sorted(articles, key=lambda a: (a.date, a.title), reverse=True):
        lines.append(f"• {m.bold(human_date(a.date))} — {m.escape(a.title)}")
    return "\n".join(lines)


def render_timeline(
    events: Sequence[TimelineEvent],
    m: Markup,
    *,
    first_number: int,
    sentence_chars: int = 160,
    title_chars: int | None = None,
) -> str:
    """One line per dated event, in date order: the date and the sentence around its time
    phrase, under a line naming the article whenever the article changes. title_chars: titles
    cut to that (a terminal's width), else whole."""
    lines, article_shown = [], None
    for n, event in enumerate(events, start=first_number):
        article = event.passage.article
        if article.source != article_shown:
            title = shorten(article.title, title_chars) if title_chars else article.title
            lines.append(m.dim(f"{m.escape(title)}, {human_date(article.date)}:"))
            article_shown = article.source
        text = around(event.sentence, event.expression, sentence_chars)
        lines.append(f"  {n}. {m.bold(event.period.label())}: {m.escape(text)}")
    return "\n".join(lines)


def around(sentence: str, expression: TimeExpression, limit: int) -> str:
    """The sentence, or if too long a part of it that keeps the time phrase in view."""
    if len(sentence) <= limit:
        return sentence
    start = max(0, expression.start - limit // 3)
    start = sentence.rfind(" ", 0, start) + 1 if start else 0
    return ("…" if start else "") + shorten(sentence[start:], limit - (1 if start else 0))
