"""Reuters-21578 as published by UCI: 22 SGML files (reut2-000.sgm ... reut2-021.sgm), Latin-1,
one <REUTERS> element per story, packed in reuters21578.tar.gz (which UCI's download wraps in
a zip). A story becomes an item with its <TITLE>, its <DATE> and its <BODY>; a story without
a title or a body (the wire's one-line briefs) is a bad item like any other."""

from __future__ import annotations

import html
import io
import re
import tarfile
import zipfile
from collections.abc import Iterator

from bot.ingest.items import BadItem, NewsItem, parse_date

STORY = re.compile(r"<REUTERS\b([^>]*)>(.*?)</REUTERS>", re.S)
FIELD = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.S) for name in ("DATE", "TITLE", "BODY")}
NEWID = re.compile(r'NEWID="(\d+)"')
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SGM_NAME = re.compile(r"(^|/)reut2-\d{3}\.sgm$")
SIGN_OFFS = ("reuter", "reuters")  # the wire's last line
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # an SGML file is 1.5 MB; a bigger member is no Reuters file


def _clean(text: str) -> str:
    return CONTROL.sub("", html.unescape(text))


def _paragraphs(body: str) -> str:
    """A line indented by spaces starts a paragraph; other lines continue the one before."""
    paragraphs: list[list[str]] = []
    for line in _clean(body).split("\n"):
        if not line.strip() or line.strip().lower() in SIGN_OFFS:
            continue
        if line.startswith(" ") or not paragraphs:
            paragraphs.append([])
        paragraphs[-1].append(line.strip())
    return "\n\n".join(" ".join(" ".join(p).split()) for p in paragraphs)


def sgml_items(text: str, name: str) -> Iterator[NewsItem | BadItem]:
    """The stories of one SGML file; each is named by file and NEWID."""
    for attrs, inner in STORY.findall(text):
        newid = NEWID.search(attrs)
        where = f"{name}, NEWID {newid.group(1)}" if newid else f"{name}, a story without NEWID"
        fields = {key: pattern.search(inner) for key, pattern in FIELD.items()}
        missing = [key.lower() for key in ("TITLE", "BODY", "DATE") if not fields[key]]
        if missing:
            yield BadItem(where, f"no {' and no '.join(missing)}")
            continue
        try:
            date = parse_date(_clean(fields["DATE"].group(1)))
        except ValueError as exc:
            yield BadItem(where, str(exc))
            continue
        title = " ".join(_clean(fields["TITLE"].group(1)).split())
        # A story has no URL; its NEWID is what identifies it, and keeps its file name stable.
        url = f"reuters21578:{newid.group(1)}" if newid else None
        yield NewsItem(title, date, _paragraphs(fields["BODY"].group(1)), url, where)


def archive_members(data: bytes, name: str) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the reut2-*.sgm files in a .tar(.gz) or .zip, in name order, looking
    one archive deep (UCI's zip holds the tar.gz); other members are passed over.
    ValueError when the bytes are no archive."""
    for member, content in sorted(_members(data, name)):
        if SGM_NAME.search(member):
            yield f"{name}:{member.rsplit('/', 1)[-1]}", content
        elif member.endswith((".tar.gz", ".tgz", ".tar", ".zip")):
            yield from archive_members(content, f"{name}:{member.rsplit('/', 1)[-1]}")


def _members(data: bytes, name: str) -> list[tuple[str, bytes]]:
    wanted = (".sgm", ".tar.gz", ".tgz", ".tar", ".zip")
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = [i for i in archive.infolist() if i.filename.endswith(wanted)]
            return [(i.filename, archive.read(i)) for i in infos if i.file_size <= MAX_MEMBER_BYTES]
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            out = []
            for info in archive:
                if info.isfile() and info.name.endswith(wanted) and info.size <= MAX_MEMBER_BYTES:
                    out.append((info.name, archive.extractfile(info).read()))  # type: ignore[union-attr]
            return out
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ValueError(f"not a zip or tar archive ({exc})") from None
