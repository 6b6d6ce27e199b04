"""Who a Telegram message is for, and what it asks: commands, @mentions and replies to the bot.

Telegram counts entity offsets in UTF-16 units. A forged update can hold a lone surrogate, which
UTF-16 cannot encode strictly, so text is cut here with "surrogatepass" (and cleaned later), not
with python-telegram-bot's parse_entities, which raised UnicodeEncodeError on it.
"""

from __future__ import annotations

import re

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _from_utf16(raw: bytes) -> str:
    return raw.decode("utf-16-le", "surrogatepass")


def entity_text(text: str, entity: MessageEntity) -> str:
    raw = _utf16(text)
    return _from_utf16(raw[2 * entity.offset : 2 * (entity.offset + entity.length)])


def tidy(text: str) -> str:
    """Without the punctuation a name is followed by: ", who won?" -> "who won?"."""
    return re.sub(r"^[\s,:;.!—–-]+", "", text).strip()


def without(text: str, entity: MessageEntity) -> str:
    """text without the entity, tidied: what is left of "@bot, who won?"."""
    raw = _utf16(text)
    before = _from_utf16(raw[: 2 * entity.offset])
    after = _from_utf16(raw[2 * (entity.offset + entity.length) :])
    return tidy(f"{before} {after}")


def command_entity(message: Message) -> MessageEntity | None:
    for entity in message.entities:
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            return entity
    return None


def command(message: Message) -> tuple[str, str | None] | None:
    """(command, @target or None) if the message starts with a bot command."""
    entity = command_entity(message)
    if entity is None:
        return None
    name, _, target = entity_text(message.text or "", entity)[1:].partition("@")
    return name.lower(), target or None


def command_argument(message: Message) -> str:
    """What follows the command at the start of the message ("/ask@bot who?" -> "who?")."""
    entity = command_entity(message)
    return without(message.text or "", entity) if entity else ""


def _mention_of_me(message: Message, username: str) -> MessageEntity | None:
    text = message.text or message.caption or ""
    entities = message.entities if message.text else message.caption_entities
    for entity in entities:
        mention = entity_text(text, entity)[1:] if entity.type == MessageEntity.MENTION else ""
        if mention.lower() == username.lower():
            return entity
    return None


def replies_to_me(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def question_in_group(message: Message, username: str, bot_id: int) -> str | None:
    """The question of a group message addressed to the bot, or None for ordinary chatter."""
    text = message.text or message.caption or ""
    mention = _mention_of_me(message, username)
    if mention is not None:
        return without(text, mention)
    if replies_to_me(message, bot_id):
        return tidy(text)
    return None


def is_for_me(update: Update, context: ContextTypes.DEFAULT_TYPE, commands: set[str]) -> bool:
    """Whether the bot would act on this update (so a refusal is due, not silence)."""
    if update.callback_query:
        return True
    message = update.effective_message
    if message is None:
        return False
    if message.chat.type == ChatType.PRIVATE:
        return True
    bot = context.bot
    found = command(message)
    if found:
        name, target = found
        return name in commands and (target is None or target.lower() == bot.username.lower())
    if message.text or message.caption:
        return question_in_group(message, bot.username, bot.id) is not None
    return replies_to_me(message, bot.id)
