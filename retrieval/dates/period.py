"""The values the dates package hands out: a Period of the calendar, and a TimeExpression (a
phrase of a text with the period it means)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Literal

Unit = Literal["day", "month", "year"]


@dataclass(frozen=True)
class Period:
    """A stretch of the calendar: first and last day, and the unit each end is stated in."""

    start: dt.date
    end: dt.date  # inclusive
    start_unit: Unit = "day"
    end_unit: Unit = "day"

    @classmethod
    def day(cls, date: dt.date) -> Period:
        return cls(date, date)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        last = calendar.monthrange(year, month)[1]
        return cls(dt.date(year, month, 1), dt.date(year, month, last), "month", "month")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31), "year", "year")

    @classmethod
    def week_of(cls, date: dt.date) -> Period:
        monday = date - dt.timedelta(days=date.weekday())
        return cls(monday, monday + dt.timedelta(days=6))

    @classmethod
    def span(cls, first: Period, last: Period) -> Period:
        return cls(first.start, last.end, first.start_unit, last.end_unit)

    @property
    def is_single(self) -> bool:
        """One day, one month or one year, not an interval."""
        if self.start_unit != self.end_unit:
            return False
        if self.start_unit == "day":
            return self.start == self.end
        if self.start_unit == "month":
            return (self.start.year, self.start.month) == (self.end.year, self.end.month)
        return self.start.year == self.end.year

    def iso(self) -> str:
        """ISO 8601: 2022-01-05, 2021-12, 2016, or an interval 2022-01-04/2022-01-05."""
        first = _iso(self.start, self.start_unit)
        return first if self.is_single else f"{first}/{_iso(self.end, self.end_unit)}"

    def label(self) -> str:
        """For people: 5 January 2022, December 2021, 2016, 4-5 January 2022."""
        if self.is_single:
            return _human(self.start, self.start_unit)
        a, b = self.start, self.end
        if self.start_unit == self.end_unit == "day" and (a.year, a.month) == (b.year, b.month):
            return f"{a.day}–{_human(b, 'day')}"
        if self.start_unit == self.end_unit == "day" and a.year == b.year:
            return f"{a.day} {a:%B}–{_human(b, 'day')}"
        return f"{_human(a, self.start_unit)}–{_human(b, self.end_unit)}"

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end

    def contains(self, date: dt.date) -> bool:
        return self.start <= date <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def falls_in(self, asked: Period) -> bool:
        """Whether something said to happen in this period answers a question about asked: it
        overlaps and is no vaguer than the question (or than two days, for "the night between
        Tuesday and Wednesday"). "In October" does not answer "on October 20"."""
        return self.overlaps(asked) and self.days <= max(asked.days, 2)

    @classmethod
    def from_iso(cls, value: str) -> Period:
        first, _, last = value.partition("/")
        a, b = _from_iso(first), _from_iso(last or first)
        return cls.span(a, b)


def _iso(date: dt.date, unit: Unit) -> str:
    return {"day": date.isoformat(), "month": f"{date:%Y-%m}", "year": f"{date:%Y}"}[unit]


def _human(date: dt.date, unit: Unit) -> str:
    return {"day": f"{date.day} {date:%B %Y}", "month": f"{date:%B %Y}", "year": f"{date:%Y}"}[unit]


def _from_iso(value: str) -> Period:
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        return Period.day(dt.date(*parts))
    if len(parts) == 2:
        return Period.month(*parts)
    return Period.year(parts[0])


@dataclass(frozen=True)
class TimeExpression:
    """A phrase of a text that names a time, with the period it means."""

    text: str
    start: int  # character offsets into the text it was found in
    end: int
    period: Period
    # False when the phrase alone does not say its date ("last Wednesday"): worth annotating.
    explicit: bool = False

    def shifted(self, offset: int) -> TimeExpression:
        return TimeExpression(
            self.text, self.start + offset, self.end + offset, self.period, self.explicit
        )

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "start": self.start, "end": self.end, "value": self.period.iso()}

    @classmethod
    def from_json(cls, data: dict) -> TimeExpression:
        return cls(
            data["text"],
            data["start"],
            data["end"],
            Period.from_iso(data["value"]),
            data.get("explicit", False),
        )
