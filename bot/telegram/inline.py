"""Inline mode: `@bot question` in any chat shows up to INLINE_RESULTS answer passages, each
ready to send into that chat (its sentence highlighted, the article's title and date); an empty
query shows the newest articles; a question with no answer, one result saying so.

Telegram sends a query per keystroke: a query is answered only if no newer one came from the
same user within DEBOUNCE seconds, and still none while it was looked up; the same text is
answered from a small cache (and Telegram caches it for `telegram.inline_cache_seconds`).
Each query looked up counts against the user's questions (telegram.rate_limit_count).

A chosen result (chosen_inline_result, sent when inline feedback is on in BotFather) is only
logged; an id that is not one of ours is one warning line.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import OrderedDict

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.answer_format import HTML, NO_ANSWER, human_date, passage_text, shorten, snippet
from bot.telegram.guards import rate_refusal
from bot.telegram.html import MAX_CHARS, cut_html
from bot.telegram.services import services
from retrieval.corpus import Article
from retrieval.pipeline import Hit
from retrieval.question.checks import question_problem
from retrieval.text.clean import clean_question

log = logging.getLogger("bot.telegram")

INLINE_RESULTS = 5  # Telegram shows a few at a time; more are rarely scrolled to
DEBOUNCE = 0.4  # seconds a query waits for the next keystroke's
CACHED_QUERIES = 200  # texts answered from memory
RESULT_ID = re.compile(r"[anx][0-9]-[0-9a-f]{12}")  # ours: kind, rank, hash of what it shows
Results = list[InlineQueryResultArticle]


def _result_id(kind: str, rank: int, text: str) -> str:
    return f"{kind}{rank}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _article(kind: str, rank: int, title: str, description: str, text: str) -> Results:
    text = cut_html(text, MAX_CHARS)
    content = InputTextMessageContent(text, parse_mode=ParseMode.HTML)
    result = InlineQueryResultArticle(
        _result_id(kind, rank, text), shorten(title, 100), content, description=description
    )
    return [result]


def _strip(html_text: str) -> str:
    return re.sub(r"<[^>]+>", "", html_text).replace("&lt;", "<").replace("&gt;", ">")


def answer_results(question: str, hits: tuple[Hit, ...]) -> Results:
    """Up to INLINE_RESULTS passages, each a message of its own with the question above."""
    m, results = HTML, []
    for rank, hit in enumerate(hits[:INLINE_RESULTS]):
        article = hit.passage.article
        text = (
            f"{m.dim(m.escape('“' + shorten(question, 200) + '”'))}\n{passage_text(hit, m)}\n"
            f"— {m.escape(article.title)}, {human_date(article.date)}"
        )
        description = f"{human_date(article.date)}: {_strip(snippet(hit, m, 120))}"
        results += _article("a", rank, article.title, description, text)
    return results


def newest_results(articles: list[Article]) -> Results:
    """The newest articles, for an empty query: each its title, date and first paragraph."""
    m, results = HTML, []
    newest = sorted(articles, key=lambda a: (a.date, a.title), reverse=True)[:INLINE_RESULTS]
    for rank, article in enumerate(newest):
        lead = shorten(article.paragraphs[0], 600) if article.paragraphs else ""
        text = f"{m.bold(m.escape(article.title))}\n{human_date(article.date)}\n{m.escape(lead)}"
        description = f"{human_date(article.date)}: {shorten(lead, 100)}"
        results += _article("n", rank, article.title, description, text)
    return results


def note_result(title: str, text: str) -> Results:
    """One result that says why there is no answer (its message says it too)."""
    return _article("x", 0, title, text, HTML.escape(text))


class InlineAnswers:
    """The latest query per user, and the results of recent query texts."""

    def __init__(self) -> None:
        self.latest: dict[int, str] = {}
        self.cache: OrderedDict[str, Results] = OrderedDict()

    def remember(self, text: str, results: Results) -> None:
        self.cache[text] = results
        while len(self.cache) > CACHED_QUERIES:
            self.cache.popitem(last=False)


async def on_inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.inline_query
    shared = services(context)
    state: InlineAnswers = context.bot_data.setdefault("inline", InlineAnswers())
    user = query.from_user.id
    state.latest[user] = query.id
    await asyncio.sleep(DEBOUNCE)
    if state.latest.get(user) != query.id:
        return  # a newer keystroke's query will be answered instead
    results = await _results(update, context, state, clean_question(query.query))
    if results is None or state.latest.get(user) != query.id:
        return
    state.latest.pop(user, None)
    try:
        await query.answer(results, cache_time=shared.settings.inline_cache_seconds)
    except TelegramError as exc:  # too late (the user typed on), or the query expired
        log.info("inline query not answered: %s", exc)


async def _results(
    update: Update, context: ContextTypes.DEFAULT_TYPE, state: InlineAnswers, text: str
) -> Results | None:
    shared = services(context)
    # Keyed by the articles' version too: a reload swaps LiveRetriever.current.
    key = f"{id(getattr(shared.retriever, 'current', shared.retriever))}:{text}"
    if key in state.cache:
        state.cache.move_to_end(key)
        return state.cache[key]
    if not text:
        return newest_results(list(shared.retriever.articles))
    problem = question_problem(text, shared.settings.max_question_chars)
    if problem:
        return note_result("Cannot look that up", problem)
    limited = rate_refusal(shared, update)
    if limited:
        return note_result("Too many questions", limited)
    loop = asyncio.get_running_loop()
    answer = await loop.run_in_executor(shared.executor, shared.retriever.ask, text)
    if answer.answered:
        results = answer_results(text, answer.hits)
    else:
        results = note_result("Nothing found", NO_ANSWER)
    state.remember(key, results)
    log.info(
        "inline_query user_id=%s answered=%s results=%d chars=%d",
        update.inline_query.from_user.id,
        "true" if answer.answered else "false",
        len(results) if answer.answered else 0,
        len(text),
    )
    return results


async def on_chosen_result(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chosen = update.chosen_inline_result
    if RESULT_ID.fullmatch(chosen.result_id or ""):
        log.info("inline_chosen user_id=%s result_id=%s", chosen.from_user.id, chosen.result_id)
    else:
        log.warning(
            "inline_chosen user_id=%s: result id %r is not one of ours; ignored",
            chosen.from_user.id,
            shorten(chosen.result_id or "", 40),
        )
