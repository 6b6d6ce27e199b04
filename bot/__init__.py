"""The bot's front ends: console chat, Telegram, the command line; a chat in either is a
bot.session.ChatSession."""

import os

# python-telegram-bot 22 warns that RetryAfter.retry_after becomes a timedelta in its next major
# version; opt in to that now (nothing here reads it as a number), so no warning is printed.
os.environ.setdefault("PTB_TIMEDELTA", "1")
