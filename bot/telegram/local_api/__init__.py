"""A Telegram Bot API server of our own on 127.0.0.1: the tests drive the bot through it, and
`newsbot try-telegram` lets a person try the bot without a token (bot.sandbox)."""

from bot.telegram.local_api.html import ApiError, parse_html
from bot.telegram.local_api.methods import Call, Sent
from bot.telegram.local_api.server import FakeBotApi

__all__ = ["ApiError", "Call", "FakeBotApi", "Sent", "parse_html"]
