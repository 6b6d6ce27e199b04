"""Does a generation hold together? The checks run at every open, after each file matched its
recorded digest: counts agree across files, and every number that indexes into another array
is in range, so that a generation written wrong (or damaged with its record) is refused with
one line instead of crashing a question (scipy, numpy and usearch do not check indices).

verify_generation runs them with the mapped files hashed whole (`newsbot index --verify`),
verify_index on every generation of an index folder.
"""

from __future__ import annotations

import datetime as dt
from itertools import chain
from pathlib import Path

import numpy as np

from retrieval.index.layout import (
    ANN,
    MAPPED,
    Damaged,
    Stored,
    check_mapped,
    load_stored,
)


def _require(ok: bool, problem: str) -> None:
    if not ok:
        raise Damaged(problem)


def _ascending_from(array: np.ndarray, first: int, last: int) -> bool:
    return (
        len(array) > 0 and array[0] == first and array[-1] == last and (np.diff(array) >= 0).all()
    )


def _within(array: np.ndarray, end: int) -> bool:
    return not len(array) or (int(array.min()) >= 0 and int(array.max()) < end)


def _all(values: object, kind: type) -> bool:
    """Whether every item is of the type: map(type) runs in C, 20,000 items in about 1 ms."""
    return isinstance(values, list) and set(map(type, values)) <= {kind}


def check_json(stored: Stored) -> list[int]:
    """The JSON files' shapes; the sentence count of every paragraph, in order."""
    articles, sentences = stored.articles, stored.sentences
    _require(_all(articles, dict) and len(articles) == stored.count("articles"),
             "articles.json: not a list of the articles counted")  # fmt: skip
    for record in articles:
        ok = _all(record.get("paragraphs"), str)
        ok = ok and all(isinstance(record.get(k), str) for k in ("source", "title", "date"))
        ok = ok and (record.get("stamp") is None or _stamp(record["stamp"]))
        _require(ok and _iso_date(record["date"]), "articles.json: an article is malformed")
    _require(_all(sentences, list) and len(sentences) == len(articles)
             and all(_all(p, list) and len(p) == len(r["paragraphs"])
                     for r, p in zip(articles, sentences, strict=True)),
             "sentences.json: not one list per article, of one list per paragraph")  # fmt: skip
    paragraphs = list(chain.from_iterable(sentences))
    _require(set(map(type, chain.from_iterable(paragraphs))) <= {str},
             "sentences.json: a sentence that is not text")  # fmt: skip
    lengths = list(map(len, paragraphs))
    _require(sum(lengths) == stored.count("sentences"), "sentences.json: not the sentences counted")
    _require(_all(stored.dates, list) and len(stored.dates) == stored.count("sentences"),
             "dates.json: not a list per sentence")  # fmt: skip
    vocabulary = stored.vocabulary
    _require(isinstance(vocabulary, dict) and _all(vocabulary.get("terms"), str)
             and len(vocabulary["terms"]) == stored.count("terms")
             and isinstance(vocabulary.get("vocabulary"), dict)
             and isinstance(vocabulary.get("stems"), list),
             "vocabulary.json: not the terms and analyzer state written")  # fmt: skip
    return lengths


def _stamp(value: object) -> bool:
    return isinstance(value, list) and len(value) == 3 and isinstance(value[2], str)


def _iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_arrays(stored: Stored, paragraph_lengths: list[int]) -> None:
    """Counts and cross-references of the arrays (vectorised: a few ms at 10,000 articles)."""
    a, count = stored.arrays, stored.count
    _require(_ascending_from(a["sentence_token_start"], 0, count("tokens")),
             "sentence_token_start.npy: rows that do not run from 0 to the tokens counted")  # fmt: skip
    _require(_ascending_from(a["sentence_tf_indptr"], 0, count("entries")),
             "sentence_tf_indptr.npy: offsets that do not run from 0 to the entries counted")  # fmt: skip
    _require(_within(a["sentence_tf_indices"], count("terms")),
             "sentence_tf_indices.npy: a term column out of range")  # fmt: skip
    _require(_within(a["token_ids"], count("pieces")), "token_ids.npy: a piece id out of range")
    _require(not len(a["sentence_counts"]) or int(a["sentence_counts"].min()) >= 0,
             "sentence_counts.npy: a negative count")  # fmt: skip
    for name in ("sentence_norms", "sentence_scales", "match_scales", "token_scales"):
        _require(bool(np.isfinite(a[name]).all()), f"{name}.npy: a value that is not a number")
    _check_passages(stored, np.asarray(paragraph_lengths, np.int64))


def _check_passages(stored: Stored, paragraph_lengths: np.ndarray) -> None:
    """Each passage: a run of sentences inside one paragraph of its article, whose ids are
    where that paragraph's sentences are; articles in order."""
    table = stored.arrays["passages"]
    article, paragraph = table["article"].astype(np.int64), table["paragraph"].astype(np.int64)
    start, length = table["start"].astype(np.int64), table["length"].astype(np.int64)
    sentence = table["sentence"].astype(np.int64)
    articles = stored.count("articles")
    _require(_within(article, articles) and (np.diff(article) >= 0).all(),
             "passages.npy: article numbers out of range or order")  # fmt: skip
    per_article = np.array([len(r["paragraphs"]) for r in stored.articles], np.int64)
    first_paragraph = np.cumsum(per_article) - per_article
    _require(bool((paragraph >= 0).all() and (paragraph < per_article[article]).all()),
             "passages.npy: a paragraph out of range")  # fmt: skip
    at = first_paragraph[article] + paragraph
    first_sentence = np.cumsum(paragraph_lengths) - paragraph_lengths
    ok = (length >= 1) & (start >= 0) & (start + length <= paragraph_lengths[at])
    ok &= sentence == first_sentence[at] + start
    _require(bool(ok.all()), "passages.npy: a passage outside its paragraph's sentences")


def check_stored(stored: Stored, dimension: int) -> None:
    _require(stored.count("dimension") == dimension,
             f"meta.json: vectors of {stored.count('dimension')} dimensions, the model has {dimension}")  # fmt: skip
    check_arrays(stored, check_json(stored))


def check_generation(folder: Path, dimension: int | None = None, *, whole: bool = False) -> Stored:
    """A generation read and checked (the mapped files by size and digest, whole or sampled);
    Damaged says the first problem."""
    stored = load_stored(folder)
    check_stored(stored, stored.count("dimension") if dimension is None else dimension)
    for name in MAPPED:
        if name != ANN or stored.count("sentences"):
            check_mapped(folder, stored.meta, name, whole=whole)
    return stored


def verify_generation(folder: Path) -> list[str]:
    """A generation with every file read whole (the mapped ones too, which the check at open
    only samples when large): one line per problem, [] when all is well."""
    try:
        stored = load_stored(folder)
    except (Damaged, OSError) as exc:  # without its record, nothing else can be checked
        return [f"{folder}: {exc}"]
    problems = []
    try:
        check_stored(stored, stored.count("dimension"))
    except Damaged as exc:
        problems.append(f"{folder}: {exc}")
    for name in MAPPED:
        if name != ANN or stored.count("sentences"):
            try:
                check_mapped(folder, stored.meta, name, whole=True)
            except Damaged as exc:
                problems.append(f"{folder}: {exc}")
    return problems


def verify_index(index_root: Path) -> list[str]:
    """Every generation under an index folder checked in full: one line per problem, [] when
    all is well (or there is no index yet)."""
    generations = sorted(index_root.glob("*/g-*")) if index_root.is_dir() else []
    return [problem for folder in generations for problem in verify_generation(folder)]


__all__ = ["check_generation", "check_stored", "verify_generation", "verify_index"]
