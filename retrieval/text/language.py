"""Which script a question is written in: the embedding models read English, so a question in
another script (Cyrillic, Greek, Arabic, CJK...) would only meet noise in the articles."""

from __future__ import annotations

import unicodedata
from collections import Counter


def script_of(text: str) -> str | None:
    """The script most of the letters are written in ("LATIN", "CYRILLIC", "CJK"...), or None
    for text without letters."""
    scripts: Counter[str] = Counter()
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "")
            scripts[name.split(" ", 1)[0] if name else "UNKNOWN"] += 1
    return scripts.most_common(1)[0][0] if scripts else None


def unreadable_script(text: str) -> str | None:
    """The script's name in plain words ("Cyrillic") if most letters are not Latin."""
    script = script_of(text)
    if script is None or script == "LATIN":
        return None
    return {"CJK": "Chinese", "HIRAGANA": "Japanese", "KATAKANA": "Japanese"}.get(
        script, script.capitalize()
    )
