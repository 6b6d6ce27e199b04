"""What a generation of the index is on disk, in one place: its files, their types and columns,
how each is saved and loaded (side by side), and the record each generation keeps of its own
files so that it is checked, not trusted, when opened.

A generation is a folder of:
- meta.json: settings and counts (articles, passages, sentences, tokens, terms, pieces, tf
  entries) and, per other file, its size and CRC-32 (and that of sampled blocks for the mapped
  ones); written last, and holding a digest of itself;
- articles.json: per article its source, title, date, its seed file's stamp and paragraphs;
- sentences.json: per article, per paragraph, its sentences;
- dates.json: per sentence, its resolved time expressions;
- vocabulary.json: the BM25 terms (a term's column is its place) and the analyzer's state;
- the arrays of ARRAYS (.npy), read whole into memory;
- the large files, memory-mapped: tokens.i8 (each content word piece's unit vector in int8,
  one row of `dimension` bytes per piece, no header), sentence_codes.npy (each sentence's mean
  state in its paragraph's pass as a unit vector in int8, which windows are pooled from),
  match_codes.npy (each sentence's own vector, which questions are compared with, in int8) and
  ann.usearch (an HNSW graph over the sentences' own vectors).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.files import read_regular_file

FORMAT = 6  # bump when a generation's files change meaning (it is part of the index's key)

META = "meta.json"
ARTICLES = "articles.json"
SENTENCES = "sentences.json"
DATES = "dates.json"
VOCABULARY = "vocabulary.json"
JSON_FILES = (ARTICLES, SENTENCES, DATES, VOCABULARY)
TOKENS = "tokens.i8"
SENTENCE_CODES = "sentence_codes.npy"
MATCH_CODES = "match_codes.npy"
ANN = "ann.usearch"
MAPPED = (TOKENS, SENTENCE_CODES, MATCH_CODES, ANN)

# One row per passage (a window of consecutive sentences of one paragraph).
PASSAGE = np.dtype(
    [
        ("article", "<i4"),
        ("paragraph", "<i4"),  # within its article
        ("start", "<i4"),  # its first sentence's place within the paragraph
        ("sentence", "<i4"),  # its first sentence's id (index-wide)
        ("length", "<i4"),  # how many sentences
    ]
)


def passage_rows(table: np.ndarray) -> np.ndarray:
    """The passage table as (passages, 5) integers, in PASSAGE's column order: a view, and
    30 times as fast to turn into Python tuples as the structured array."""
    return table.view("<i4").reshape(-1, len(PASSAGE.names))


# The arrays read into memory: name -> (dtypes it may have, the meta count of its rows).
ARRAYS: dict[str, tuple[tuple[np.dtype, ...], str]] = {
    # Where each sentence's rows in tokens.i8 start, then the end: sentences + 1 values.
    "sentence_token_start": ((np.dtype("<i8"),), "sentences+1"),
    "sentence_counts": ((np.dtype("<i4"),), "sentences"),  # word pieces of each sentence
    "sentence_norms": ((np.dtype("<f4"),), "sentences"),  # length of its mean state
    "sentence_scales": ((np.dtype("<f4"),), "sentences"),  # of its int8 code
    "match_scales": ((np.dtype("<f4"),), "sentences"),  # of its own vector's int8 code
    # A key per sentence that stays with it from generation to generation (the graph's key).
    "sentence_keys": ((np.dtype("<i8"),), "sentences"),
    "passages": ((PASSAGE,), "passages"),
    "token_scales": ((np.dtype("<f4"),), "tokens"),
    "token_ids": ((np.dtype("<u2"), np.dtype("<i4")), "tokens"),  # tokenizer id of each piece
    "piece_df": ((np.dtype("<i4"),), "pieces"),  # per tokenizer id: passages holding it
    # BM25 term counts per sentence, a CSR matrix (sentences, terms).
    "sentence_tf_data": ((np.dtype("<u2"),), "entries"),
    "sentence_tf_indices": ((np.dtype("<i4"),), "entries"),
    "sentence_tf_indptr": ((np.dtype("<i8"),), "sentences+1"),
}
COUNTS = ("articles", "passages", "sentences", "tokens", "pieces", "entries", "terms")

# A mapped file up to this size is checked whole at open (3 ms); a larger one by SAMPLES blocks.
# CRC-32 rather than a cryptographic hash: it finds damage, and is 2-3 times as fast here.
FULL_CHECK_BYTES = 4 * 1024 * 1024
SAMPLES, SAMPLE_BYTES = 64, 4096
MAX_META_BYTES = 1024 * 1024


class Damaged(Exception):
    """A generation whose files are not what was written; str() is one line naming the file."""


@dataclass(frozen=True)
class Stored:
    """A generation as read from disk and checked against its record: all but the mapped files."""

    folder: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]
    articles: list[dict[str, Any]]
    sentences: list[list[list[str]]]
    dates: list[list[dict[str, Any]]]
    vocabulary: dict[str, Any]

    def count(self, name: str) -> int:
        return int(self.meta[name])


# ---------------------------------------------------------------- digests


def digest(data: bytes) -> str:
    return f"{zlib.crc32(data):08x}"


def file_digest(path: Path) -> str:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def sampled_digest(path: Path) -> str:
    """CRC-32 of SAMPLES blocks spread evenly over the file, the first and last included: a
    few page reads however large the file."""
    crc = 0
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        last = max(size - SAMPLE_BYTES, 0)
        for at in sorted({last * n // (SAMPLES - 1) for n in range(SAMPLES)}):
            crc = zlib.crc32(os.pread(fd, SAMPLE_BYTES, at), crc)
    finally:
        os.close(fd)
    return f"{crc:08x}"


def _meta_digest(meta: dict[str, Any]) -> str:
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------- saving


def save_array(folder: Path, name: str, array: np.ndarray) -> None:
    dtypes, _ = ARRAYS[name]
    np.save(folder / f"{name}.npy", array if array.dtype in dtypes else array.astype(dtypes[0]))


def save_json(folder: Path, name: str, value: object) -> None:
    (folder / name).write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")


def seal(folder: Path, meta: dict[str, Any]) -> None:
    """Writes meta.json, last: the settings and counts given, and every other file's record."""
    files = {}
    for path in sorted(folder.iterdir()):
        if path.name == META:
            continue
        entry = {"bytes": path.stat().st_size, "crc32": file_digest(path)}
        if path.name in MAPPED:
            entry["sampled"] = sampled_digest(path)
        files[path.name] = entry
    sealed = {"format": FORMAT, **meta, "files": files}
    sealed["checksum"] = _meta_digest(sealed)
    (folder / META).write_text(json.dumps(sealed, indent=1), encoding="utf-8")


# ---------------------------------------------------------------- loading


def read_meta(folder: Path) -> dict[str, Any]:
    """meta.json, checked against its own digest and for the fields everything else relies on."""
    try:
        meta = json.loads(read_regular_file(folder / META, MAX_META_BYTES))
    except OSError as exc:
        raise Damaged(f"{META}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:  # JSON and Unicode errors
        raise Damaged(f"{META}: not JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("checksum") != _meta_digest(meta):
        raise Damaged(f"{META}: its digest does not match its content")
    if meta.get("format") != FORMAT:
        raise Damaged(f"{META}: format {meta.get('format')!r}, this version reads {FORMAT}")
    for name in (*COUNTS, "dimension"):
        if not isinstance(meta.get(name), int) or meta[name] < 0:
            raise Damaged(f"{META}: {name} is not a count")
    if not isinstance(meta.get("files"), dict):
        raise Damaged(f"{META}: no record of the files")
    return meta


def _record(meta: dict[str, Any], name: str) -> dict[str, Any]:
    entry = meta["files"].get(name)
    if not isinstance(entry, dict) or not isinstance(entry.get("bytes"), int):
        raise Damaged(f"{name}: not in the generation's record")
    return entry


def read_checked(folder: Path, meta: dict[str, Any], name: str) -> bytes:
    """A small file's bytes, refused unless its size and digest are those recorded."""
    entry = _record(meta, name)
    try:
        data = read_regular_file(folder / name, entry["bytes"])
    except OSError as exc:
        raise Damaged(f"{name}: cannot read it ({exc.strerror or exc})") from None
    if len(data) != entry["bytes"] or digest(data) != entry.get("crc32"):
        raise Damaged(f"{name}: {len(data):,} bytes that differ from those written")
    return data


def check_mapped(folder: Path, meta: dict[str, Any], name: str, *, whole: bool = False) -> None:
    """A mapped file's size, and its digest: whole when asked or small, else sampled."""
    entry, path = _record(meta, name), folder / name
    try:
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise Damaged(f"{name}: {size:,} bytes, {entry['bytes']:,} written")
        if whole or size <= FULL_CHECK_BYTES:
            same = file_digest(path) == entry.get("crc32")
        else:
            same = sampled_digest(path) == entry.get("sampled")
    except OSError as exc:
        raise Damaged(f"{name}: cannot read it ({exc.strerror or exc})") from None
    if not same:
        raise Damaged(f"{name}: its bytes differ from those written")


def load_array(folder: Path, meta: dict[str, Any], name: str) -> np.ndarray:
    data = read_checked(folder, meta, f"{name}.npy")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise Damaged(f"{name}.npy: not an array ({exc})") from None
    dtypes, rows = ARRAYS[name]
    count = meta[rows.removesuffix("+1")] + rows.endswith("+1")
    if array.dtype not in dtypes or array.shape != (count,):
        raise Damaged(f"{name}.npy: {array.dtype} {array.shape}, expected {count:,} rows")
    return array


def load_json(folder: Path, meta: dict[str, Any], name: str) -> Any:  # noqa: ANN401 - JSON
    try:
        return json.loads(read_checked(folder, meta, name))
    except ValueError as exc:
        raise Damaged(f"{name}: not JSON ({exc})") from None


def load_stored(folder: Path) -> Stored:
    """Every file of a generation but the mapped ones, each checked against its record."""
    meta = read_meta(folder)
    arrays = {name: load_array(folder, meta, name) for name in ARRAYS}
    articles, sentences, dates, vocabulary = (load_json(folder, meta, n) for n in JSON_FILES)
    return Stored(folder, meta, arrays, articles, sentences, dates, vocabulary)


def map_sentence_codes(folder: Path, sentences: int, dimension: int, name: str) -> np.ndarray:
    """One int8 row per sentence: SENTENCE_CODES or MATCH_CODES."""
    codes = np.load(folder / name, mmap_mode="r")
    if codes.dtype != np.int8 or codes.shape != (sentences, dimension):
        raise Damaged(f"{name}: {codes.dtype} {codes.shape}, expected {sentences:,} rows")
    return codes.view(np.ndarray)


def map_tokens(folder: Path, tokens: int, dimension: int) -> np.ndarray:
    # numpy cannot map an empty file: articles of stop words alone have no content pieces.
    if not tokens:
        return np.zeros((0, dimension), np.int8)
    return np.memmap(folder / TOKENS, np.int8, "r", shape=(tokens, dimension)).view(np.ndarray)


__all__ = [
    "ANN",
    "ARRAYS",
    "FORMAT",
    "PASSAGE",
    "Damaged",
    "Stored",
    "check_mapped",
    "load_stored",
    "read_meta",
    "save_array",
    "save_json",
    "seal",
]
