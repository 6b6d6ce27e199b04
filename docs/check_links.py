"""Checks the links of README.md and docs/*.md: every relative link names a file that exists,
and every #anchor a heading of its target, as GitHub makes anchors from headings.

Run from the project root: `.venv/bin/python docs/check_links.py`; exit 1 with one line per
broken link, 0 when all resolve. External (http, mailto) links are not fetched.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")


def prose(text: str) -> list[str]:
    """The lines, with fenced code and inline code blanked (a link there is not a link)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            kept.append("")
        else:
            kept.append("" if fenced else INLINE_CODE.sub(lambda m: " " * len(m[0]), line))
    return kept


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: Counter[str] = Counter()
    found = set()
    for line in prose(path.read_text(encoding="utf-8")):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    return found


def check(path: Path, root: Path) -> list[str]:
    problems = []
    text = "\n".join(prose(path.read_text(encoding="utf-8")))
    for link in LINK.finditer(text):  # link text may run over a line break
        target = link.group(1)
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        number = text.count("\n", 0, link.start(1)) + 1
        where = f"{path.relative_to(root)}:{number}: {target}"
        if not dest.exists():
            problems.append(f"{where}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            problems.append(f"{where}: no heading with anchor #{anchor}")
    return problems


def main() -> int:
    root = Path.cwd()
    files = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    problems = [problem for path in files for problem in check(path, root)]
    print("\n".join(problems) or f"{len(files)} files, every link resolves")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
