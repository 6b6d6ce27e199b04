"""`logging.format` and `logging.level` for `newsbot telegram`: text lines as before, or one
JSON object a line (time, level, logger, message, and update_id, chat_id, latency_ms where a
line has them) for a log pipeline. Secrets are redacted as in text: the record factory of
bot.telegram.secrets cleans every record first, and each JSON line is passed through it again.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import sys
from typing import TextIO

from bot.config import LoggingSettings
from bot.telegram.secrets import REDACTOR

FIELDS = ("update_id", "chat_id", "latency_ms")  # given as `extra=` by the handlers


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return REDACTOR.redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(settings: LoggingSettings) -> None:
    """The bot's level; for json, the format of the root's plain stream handlers (the one
    `python -m bot` sets up; a stderr one is added if there is none). Text keeps the format
    bot.__main__ gave, and other handlers (a test runner's) keep theirs."""
    logging.getLogger("bot").setLevel(settings.level.upper())
    if settings.format != "json":
        return
    root = logging.getLogger()
    plain = [h for h in root.handlers if type(h) is logging.StreamHandler]
    if not plain:
        plain = [logging.StreamHandler()]
        root.addHandler(plain[0])
    for handler in plain:
        handler.setFormatter(JsonFormatter())


class _LogLines(io.TextIOBase):
    """A text stream whose lines are INFO records of a logger."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger, self._partial = logger, ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            if line.strip():
                self.logger.info("%s", line)
        return len(text)

    def isatty(self) -> bool:
        return False


def progress_stream(settings: LoggingSettings) -> TextIO:
    """Where the index build's progress lines go: standard error as text, or, with JSON logs,
    log records of "bot.index", so that every line on standard error is an object."""
    if settings.format == "json":
        return _LogLines(logging.getLogger("bot.index"))  # type: ignore[return-value]
    return sys.stderr
