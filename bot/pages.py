"""How a long list reaches a chat: the medium's sizes, and pages of passages or events.

A Medium says what differs between the console and Telegram (markup, sizes, a few words); a
Pager shows the passages of an answer (/more, the More button) or the events of a timeline a
page at a time, each page as many as fit in one message or screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.answer_format import Markup, render_more, render_timeline, shorten, shortest_passage
from retrieval.pipeline import Hit, TimelineEvent

TIMELINE_PAGE = 10  # events per page of a timeline
Item = TypeVar("Item", Hit, TimelineEvent)


@dataclass(frozen=True)
class Medium:
    """What differs between front ends: markup, sizes, and the words that name their ways."""

    markup: Markup
    shown: int  # passages in an answer: the best in full, the others shortened
    page_size: int  # passages per /more page
    snippet_chars: int
    max_question_chars: int
    commands: tuple[str, ...]  # the COMMANDS it offers, by name
    welcome: str  # the greeting's first line; {articles}: "3 articles"
    how_to_ask: str  # its last; {inline}: the examples in a line, {listed}: one a line
    help_intro: str  # /help before the commands; {example}: a question to try
    help_line: str  # one command in /help; {usage}, {summary}
    max_chars: int | None = None  # longest message; None: no limit
    fits: Callable[[str], bool] | None = None  # whether a timeline page fits the screen
    page_headings: bool = False  # each page says what it continues (a message of its own)
    admins_only: bool = False  # Command.admin ones are for admins: in their /help alone
    examples: tuple[str, ...] = ()  # questions to suggest; none: made from the articles
    timeline_page: int = TIMELINE_PAGE  # events on a page of a timeline
    title_chars: int | None = None  # a timeline's titles cut to this (a terminal's width)


class Pager(Generic[Item]):
    """Items shown a page at a time, each page as many as fit in a message."""

    timeline = False
    unit = "item"

    def __init__(self, items: Sequence[Item], medium: Medium, *, heading: str, shown: int = 0):
        self.items = items
        self.medium = medium
        self.heading = heading
        self.next_index = shown  # the first item not shown yet
        self.size = medium.page_size

    @property
    def remaining(self) -> int:
        return len(self.items) - self.next_index

    def turn(self) -> tuple[str, int]:
        """The next page and how many items it holds (none at the end); moves on past them."""
        if not self.remaining:
            return "", 0
        text, count = self._fit(self.next_index)
        self.next_index += count
        return text, count

    def next_count(self) -> int:
        """How many items the next page holds."""
        return self._fit(self.next_index)[1] if self.remaining else 0

    def _fit(self, start: int) -> tuple[str, int]:
        m, limit = self.medium.markup, self.medium.max_chars
        head = ""
        if self.medium.page_headings or start == 0:
            head = m.dim(m.escape(shorten(self.heading, 200))) + self.after_heading
        page = self.items[start : start + self.size]
        fits = (self.timeline and self.medium.fits) or (lambda _text: True)
        for count in range(len(page), 0, -1):
            text = head + self.render(page[:count], start + 1)
            if (limit is None or len(text) <= limit) and (count == 1 or fits(text)):
                return text, count
        return self.too_long(head, page[0], start + 1, limit or 0), 1

    after_heading = "\n"

    def render(self, items: Sequence[Item], first_number: int) -> str:
        raise NotImplementedError

    def too_long(self, head: str, item: Item, number: int, limit: int) -> str:
        """One item that does not fit in a message on its own, as much of it as can go."""
        raise NotImplementedError


class PassagePager(Pager[Hit]):
    """The passages of an answer after those it showed: /more, the More button."""

    unit = "passage"
    after_heading = "\n\n"

    def render(self, items: Sequence[Hit], first_number: int) -> str:
        return render_more(items, self.medium.markup, first_number=first_number)

    def too_long(self, head: str, item: Hit, number: int, limit: int) -> str:
        prefix = head + f"{number}. "
        return prefix + shortest_passage(item, self.medium.markup, limit - len(prefix), 250)


class TimelinePager(Pager[TimelineEvent]):
    """The dated events of a timeline, TIMELINE_PAGE at a time."""

    timeline = True
    unit = "event"

    def __init__(self, items: Sequence[TimelineEvent], medium: Medium, *, heading: str):
        super().__init__(items, medium, heading=heading)
        self.size = medium.timeline_page

    def render(self, items: Sequence[TimelineEvent], first_number: int) -> str:
        return render_timeline(
            items,
            self.medium.markup,
            first_number=first_number,
            title_chars=self.medium.title_chars,
        )

    def too_long(self, head: str, item: TimelineEvent, number: int, limit: int) -> str:
        return head + self.render([item], number)  # a line is short; the front end cuts it
