"""The memory of the "More" buttons: which page of which answer or timeline each one shows
next, for the latest questions only (oldest forgotten first)."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

from bot.pages import PassagePager, TimelinePager


@dataclass
class PendingQuestion:
    """What a "More" button needs: its chat, and the pages of its answer or timeline."""

    chat_id: int
    pager: PassagePager | TimelinePager


class QuestionStore:
    """The latest questions that still have passages to show, oldest evicted first."""

    def __init__(self, max_size: int = 1000) -> None:
        self.max_size = max_size
        self._items: OrderedDict[str, PendingQuestion] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: PendingQuestion) -> str:
        key = secrets.token_urlsafe(6)
        while key in self._items:
            key = secrets.token_urlsafe(6)
        self._items[key] = item
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> PendingQuestion | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def discard(self, key: str) -> None:
        self._items.pop(key, None)
