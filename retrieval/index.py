"""The passage index on disk: built once, memory-mapped at start, updated when seeds change.

One folder per (model, passage settings, corpus) holds generations; `current` names the one in
use. A generation is written to a scratch folder and renamed into place when complete, then
`current` is replaced in one rename, so a reader sees the old index or the new one, never half
of either; a kill mid-build leaves the old generation in use and the embeddings already made
in the cache (retrieval.late_chunking), so a rerun resumes.

What a generation holds, each thing once:
- articles.json: each article's file stamp, title, date, paragraphs and their sentences;
- per sentence: its first token row, piece count and mean state (float16), its BM25 terms and
  its resolved time expressions;
- per passage (a window of consecutive sentences): its first sentence and length; its token rows
  are its sentences' rows, contiguous, so overlapping windows share them;
- tokens.i8: every content word piece's unit vector in int8 with one scale per row (token
  matching reads only the rows of the passages it scores, through the page cache);
- the BM25 term frequencies per passage (sparse) and each piece's document frequency;
- ann.usearch: an HNSW graph over the sentence vectors (usearch), memory-mapped.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from retrieval.analyzer import Analyzer
from retrieval.corpus import Article, SeedError, parse_article
from retrieval.event_dates import resolve_sentences
from retrieval.late_chunking import ParagraphStore, quantize
from retrieval.passages import Passage, window_starts
from retrieval.search import SentenceBlock
from retrieval.timex import Period, TimeExpression

log = logging.getLogger(__name__)

INDEX_FORMAT = 2  # bump when a generation's files change meaning
ANN_FILE = "ann.usearch"
# Paragraphs read from the cache per step of assembling a generation: bounds the memory it takes.
STEP = 512

# Index build progress: (stage, done, total). Stages: "embedding" (paragraphs), "dates"
# (sentences), "writing" (articles), "graph" (sentence vectors).
BuildProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Stamp:
    """What identifies a seed file's content without reading it: size and modification time,
    and the SHA-256 of its bytes for when the time changed but the content did not."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class SyncReport:
    articles: int
    passages: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    skipped: tuple[str, ...]  # broken files left out (or kept at their last good version)
    embedded: int  # paragraphs sent to the model
    seconds: float
    bytes: int  # size of the generation on disk
    rebuilt: bool  # False when nothing changed and the index was only opened

    def summary(self) -> str:
        return (
            f"{self.articles:,} articles, {self.passages:,} passages; "
            f"{len(self.added)} new, {len(self.changed)} changed, {len(self.removed)} removed"
            + (f", {len(self.skipped)} skipped (broken)" if self.skipped else "")
            + f"; {self.embedded:,} paragraphs embedded; {self.seconds:.1f} s;"
            f" index {self.bytes / 2**20:,.0f} MiB"
        )


def file_stamp(path: Path, data: bytes | None = None) -> Stamp:
    stat = path.stat()
    digest = hashlib.sha256(data if data is not None else path.read_bytes()).hexdigest()
    return Stamp(stat.st_size, stat.st_mtime_ns, digest)


# ---------------------------------------------------------------- the index as it is read


class LocalIndex:
    """A generation opened for questions: metadata in memory, vectors memory-mapped."""

    def __init__(self, folder: Path, dimension: int) -> None:
        self.folder = folder
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.meta = meta
        self.dimension = dimension
        records = json.loads((folder / "articles.json").read_text(encoding="utf-8"))
        self.stamps = {r["source"]: Stamp(*r["stamp"]) if r["stamp"] else None for r in records}
        self.articles = [
            Article(
                r["title"], dt.date.fromisoformat(r["date"]), r["source"], tuple(r["paragraphs"])
            )
            for r in records
        ]
        load = lambda name: np.load(folder / f"{name}.npy", mmap_mode="r")  # noqa: E731
        self.sentence_token_start = np.asarray(load("sentence_token_start"))
        self.sentence_counts = np.asarray(load("sentence_counts"))
        # Each sentence's mean state as a unit vector in int8 (one scale per row) and its norm.
        self.sentence_codes = load("sentence_codes").view(np.ndarray)  # memory-mapped
        self.sentence_scales = np.asarray(load("sentence_scales"))
        self.sentence_norms = np.asarray(load("sentence_norms"))
        passage_table = np.asarray(load("passages"))  # article, paragraph, first, first id, n
        self.passage_first = passage_table[:, 3].astype(np.int64)
        self.passage_length = passage_table[:, 4].astype(np.int64)
        self.passage_article = passage_table[:, 0].astype(np.int64)
        self.passage_dates = np.array(
            [self.articles[a].date.toordinal() for a in self.passage_article], dtype=np.int64
        )
        tokens = int(meta["tokens"])
        self.token_codes = np.memmap(
            folder / "tokens.i8", np.int8, "r", shape=(tokens, dimension)
        ).view(np.ndarray)
        self.token_scales = np.asarray(load("token_scales"))
        self.piece_df = np.asarray(load("piece_df"))
        self.sentence_expressions = [
            tuple(TimeExpression.from_json(e) for e in items)
            for items in json.loads((folder / "dates.json").read_text(encoding="utf-8"))
        ]
        self.vocabulary = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        self.terms = {t: n for n, t in enumerate(self.vocabulary["terms"])}
        shape = (len(self.passage_first), len(self.terms))
        self.term_frequency = sparse.csr_matrix(
            (load("tf_data"), load("tf_indices"), load("tf_indptr")), shape=shape
        )
        self.sentence_terms = sparse.csr_matrix(
            (
                np.ones(len(load("sentence_term_indices")), np.float32),
                load("sentence_term_indices"),
                load("sentence_term_indptr"),
            ),
            shape=(len(self.sentence_counts), len(self.terms)),
        )
        self.passages = self._passages(passage_table)
        # Which passages hold each sentence (a sentence is in up to max_sentences windows).
        holders = np.repeat(np.arange(len(self.passage_first)), self.passage_length)
        held = ranges(self.passage_first, self.passage_length)
        order = np.argsort(held, kind="stable")
        self._holders = holders[order]
        self._holder_count = np.bincount(held, minlength=len(self.sentence_counts))
        self._holder_start = np.concatenate([[0], np.cumsum(self._holder_count)[:-1]]).astype(
            np.int64
        )
        self._ann = None
        if (folder / ANN_FILE).exists() and len(self.sentence_counts):
            from usearch.index import Index

            self._ann = Index.restore(str(folder / ANN_FILE), view=True)

    def _passages(self, table: np.ndarray) -> list[Passage]:
        sentences = [
            [tuple(s) for s in r] for r in json.loads((self.folder / "sentences.json").read_text())
        ]
        passages = []
        for article, paragraph, first, first_id, length in table.tolist():
            text = sentences[article][paragraph][first : first + length]
            passages.append(Passage(self.articles[article], paragraph, first, text, first_id))
        return passages

    # -- what the retrieval pipeline asks of an index (see retrieval.search.PassageIndex)

    def _sentence_ranges(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sentence ids of passages, concatenated, and how many each passage has."""
        ids = np.asarray(ids, np.int64)
        return ranges(self.passage_first[ids], self.passage_length[ids]), self.passage_length[ids]

    def passage_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Unit pooled vectors of passages: the piece-count-weighted mean of their sentences'
        means, which is the mean over all the passage's pieces (late chunking)."""
        sentences, lengths = self._sentence_ranges(ids)
        weights = self.sentence_counts[sentences].astype(np.float32)
        owner = np.repeat(np.arange(len(lengths)), lengths)
        weights *= self.sentence_norms[sentences]
        combine = sparse.csr_matrix(
            (weights, (owner, np.arange(len(sentences)))), shape=(len(lengths), len(sentences))
        )
        return _unit(np.asarray(combine @ self.sentence_vectors(sentences)))

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        vectors = self.sentence_codes[ids].astype(np.float32).reshape(-1, self.dimension)
        return _unit(vectors * self.sentence_scales[ids, None])

    def read_tokens(self, rows: np.ndarray) -> np.ndarray:
        matrix = self.token_codes[rows].astype(np.float32)
        matrix *= self.token_scales[rows, None]
        return matrix

    def read_sentences(self, ids: np.ndarray, tokens: bool = True) -> SentenceBlock:
        """Vectors of the sentences (ascending ids) and, with tokens, their content pieces'."""
        ids = np.asarray(ids, np.int64)
        vectors = self.sentence_vectors(ids)
        weights = self.sentence_norms[ids] * self.sentence_counts[ids]
        counts = self.sentence_token_start[ids + 1] - self.sentence_token_start[ids]
        if tokens:
            matrix = self.read_tokens(ranges(self.sentence_token_start[ids], counts))
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        else:
            matrix, starts = None, self.sentence_token_start[ids]
        return SentenceBlock(ids, vectors, vectors * weights[:, None], matrix, starts, counts)

    def passages_of_sentences(self, sentence_ids: np.ndarray) -> np.ndarray:
        """Every passage holding any of the sentences."""
        sentence_ids = np.asarray(sentence_ids, np.int64)
        found = ranges(self._holder_start[sentence_ids], self._holder_count[sentence_ids])
        return np.unique(self._holders[found])

    def nearest_sentences(self, vector: np.ndarray, count: int) -> np.ndarray:
        if self._ann is None or count <= 0:
            return np.zeros(0, np.int64)
        matches = self._ann.search(vector.astype(np.float32), min(count, len(self._ann)))
        return np.asarray(matches.keys, np.int64)

    def size_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.folder.iterdir() if f.is_file())


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """np.arange(start, start + length) for each pair, concatenated, without a Python loop."""
    starts, lengths = np.asarray(starts, np.int64), np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.arange(total) - np.repeat(offsets - starts, lengths)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)


# ---------------------------------------------------------------- building


class IndexFolder:
    """Generations of one index in a folder: which one is current, making and swapping them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def current(self) -> Path | None:
        try:
            name = (self.folder / "current").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        path = self.folder / name
        return path if name and (path / "meta.json").is_file() else None

    def lock(self):  # noqa: ANN201 - a file object used as a context manager
        """One builder at a time per index; questions never take it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / "build.lock", "a+")  # noqa: SIM115
        fcntl.flock(handle, fcntl.LOCK_EX)
        return handle

    def scratch(self) -> Path:
        path = self.folder / f"building-{os.getpid()}-{time.time_ns()}"
        path.mkdir(parents=True)
        return path

    def publish(self, scratch: Path) -> Path:
        """Rename a complete generation into place and make it current, in that order."""
        for f in scratch.iterdir():
            with open(f, "rb") as handle:
                os.fsync(handle.fileno())
        final = self.folder / f"g-{time.time_ns()}"
        os.rename(scratch, final)
        pointer = self.folder / "current.tmp"
        pointer.write_text(final.name + "\n", encoding="utf-8")
        with open(pointer, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer, self.folder / "current")
        return final

    def remove_old(self) -> None:
        """Generations other than the current one, and scratch folders of dead builds. A process
        that still has an old one open keeps reading it: its files live until it closes them."""
        keep = self.current()
        for path in self.folder.iterdir():
            if path.is_dir() and path != keep and path.name.startswith(("g-", "building-")):
                if path.name.startswith("building-") and _alive(path.name.split("-")[1]):
                    continue
                shutil.rmtree(path, ignore_errors=True)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def build_generation(
    articles: Sequence[Article],
    stamps: dict[str, Stamp | None],
    store: ParagraphStore,
    cache_dir: Path | None,
    out: Path,
    *,
    max_sentences: int,
    stride: int,
    progress: BuildProgress | None = None,
) -> int:
    """Writes a complete generation of the index into the folder `out`; the paragraphs embedded."""
    tell = progress or (lambda stage, done, total: None)
    paragraphs = [p for a in articles for p in a.paragraphs]
    embedded = store.embed(paragraphs, lambda done, total: tell("embedding", done, total))
    dimension = store.model.dimension
    analyzer = Analyzer()
    titles, bodies = Counter(), Counter()
    records, sentence_lists = [], []
    token_start, counts, norms, passage_rows = [0], [], [], []
    term_ids: dict[str, int] = {}
    sentence_term_indices, sentence_term_indptr = [], [0]
    tf_rows: list[Counter] = []
    piece_df = np.zeros(store.model.tokenizer.get_vocab_size(), np.int64)
    dated: list[tuple[dt.date, str]] = []
    scales_parts = []
    sentence_id = 0
    means_path = out / "sentence_codes.i8"
    sentence_scales = []
    with open(out / "tokens.i8", "wb") as tokens_file, open(means_path, "wb") as means_file:
        flat = [
            (a_index, p_index)
            for a_index, a in enumerate(articles)
            for p_index in range(len(a.paragraphs))
        ]
        embeddings = store.get(paragraphs)
        per_article: list[list] = [[] for _ in articles]
        done_articles = 0
        for (a_index, p_index), embedding in zip(flat, embeddings, strict=True):
            article = articles[a_index]
            per_article[a_index].append(embedding)
            if p_index + 1 < len(article.paragraphs):
                continue
            # An article is complete: write its sentences, tokens and passages.
            analyzer.count_surface([article.title], titles)
            analyzer.count_surface(article.paragraphs, bodies)
            paragraph_sentences = []
            for p_index2, e in enumerate(per_article[a_index]):
                if not e.sentences:
                    paragraph_sentences.append([])
                    continue
                first_id = sentence_id
                paragraph_sentences.append(list(e.sentences))
                rows = np.bincount(e.piece_sentence, minlength=len(e.sentences))
                for n, sentence in enumerate(e.sentences):
                    token_start.append(token_start[-1] + int(rows[n]))
                    counts.append(int(e.counts[n]))
                    dated.append((article.date, sentence))
                    terms = analyzer.terms(sentence)
                    ids = [term_ids.setdefault(t, len(term_ids)) for t in terms]
                    sentence_term_indices.extend(sorted(set(ids)))
                    sentence_term_indptr.append(len(sentence_term_indices))
                    tf_rows.append(Counter(ids))
                means = e.means.astype(np.float32)
                lengths = np.linalg.norm(means, axis=1)
                norms.extend(lengths.tolist())
                codes, scales = quantize(means / np.where(lengths == 0, 1.0, lengths)[:, None])
                means_file.write(codes.tobytes())
                sentence_scales.append(scales)
                tokens_file.write(np.ascontiguousarray(e.codes).tobytes())
                scales_parts.append(np.asarray(e.scales, np.float32))
                for start in window_starts(len(e.sentences), max_sentences, stride):
                    length = min(max_sentences, len(e.sentences) - start)
                    passage_rows.append((a_index, p_index2, start, first_id + start, length))
                    owned = (e.piece_sentence >= start) & (e.piece_sentence < start + length)
                    piece_df[np.unique(e.piece_ids[owned])] += 1
                sentence_id += len(e.sentences)
            sentence_lists.append(paragraph_sentences)
            stamp = stamps.get(article.source)
            records.append(
                {
                    "source": article.source,
                    "title": article.title,
                    "date": article.date.isoformat(),
                    "stamp": [stamp.size, stamp.mtime_ns, stamp.sha256] if stamp else None,
                    "paragraphs": list(article.paragraphs),
                }
            )
            per_article[a_index] = []
            done_articles += 1
            if done_articles % 200 == 0 or done_articles == len(articles):
                tell("writing", done_articles, len(articles))
    total_tokens = token_start[-1]
    sentences = sentence_id
    expressions, resolved = resolve_sentences(
        dated, cache_dir, lambda done, total: tell("dates", done, total)
    )
    save = lambda name, array: np.save(out / f"{name}.npy", array)  # noqa: E731
    save("sentence_token_start", np.array(token_start, np.int64))
    save("sentence_counts", np.array(counts, np.int32))
    save("sentence_norms", np.array(norms, np.float32))
    codes = np.fromfile(means_path, np.int8).reshape(sentences, dimension)
    save("sentence_codes", codes)
    means_path.unlink()
    save(
        "sentence_scales",
        np.concatenate(sentence_scales) if sentence_scales else np.zeros(0, np.float32),
    )
    save("passages", np.array(passage_rows, np.int64).reshape(-1, 5))
    save("token_scales", np.concatenate(scales_parts) if scales_parts else np.zeros(0, np.float32))
    save("piece_df", piece_df.astype(np.int32))
    # Term frequencies per passage: the sum of its sentences'.
    sentence_tf = sparse.csr_matrix(
        (
            [c for row in tf_rows for c in row.values()],
            [t for row in tf_rows for t in row],
            np.cumsum([0] + [len(row) for row in tf_rows]),
        ),
        shape=(sentences, len(term_ids)),
        dtype=np.float32,
    )
    incidence = sparse.csr_matrix(
        (
            np.ones(sum(r[4] for r in passage_rows), np.float32),
            np.concatenate([np.arange(r[3], r[3] + r[4]) for r in passage_rows])
            if passage_rows
            else np.zeros(0, np.int64),
            np.cumsum([0] + [r[4] for r in passage_rows]),
        ),
        shape=(len(passage_rows), sentences),
    )
    tf = (incidence @ sentence_tf).tocsr()
    tf.sort_indices()
    save("tf_data", tf.data.astype(np.float32))
    save("tf_indices", tf.indices.astype(np.int32))
    save("tf_indptr", tf.indptr.astype(np.int64))
    save("sentence_term_indices", np.array(sentence_term_indices, np.int32))
    save("sentence_term_indptr", np.array(sentence_term_indptr, np.int64))
    analyzer.adopt(titles)
    analyzer.adopt(bodies)
    (out / "vocabulary.json").write_text(
        json.dumps({"terms": list(term_ids), **analyzer.vocabulary_state()}, ensure_ascii=False),
        encoding="utf-8",
    )
    (out / "dates.json").write_text(
        json.dumps(
            [[e.to_json() | {"explicit": e.explicit} for e in found] for found in expressions]
        ),
        encoding="utf-8",
    )
    (out / "articles.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    (out / "sentences.json").write_text(
        json.dumps(sentence_lists, ensure_ascii=False), encoding="utf-8"
    )
    if sentences:
        _build_graph(out / ANN_FILE, codes, np.load(out / "sentence_scales.npy"), tell)
    meta = {
        "format": INDEX_FORMAT,
        "model": store.model_key,
        "dimension": dimension,
        "max_sentences": max_sentences,
        "stride": stride,
        "articles": len(records),
        "passages": len(passage_rows),
        "sentences": sentences,
        "tokens": total_tokens,
        "dates_resolved": resolved,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return embedded


def _build_graph(path: Path, codes: np.ndarray, scales: np.ndarray, tell: BuildProgress) -> None:
    """The HNSW graph of the sentence vectors; usearch keeps them in int8 for the search only
    (the scores that count are computed from the index's own vectors)."""
    from usearch.index import Index

    index = Index(ndim=codes.shape[1], metric="cos", dtype="i8")
    step = 4096
    for start in range(0, len(codes), step):
        block = _unit(
            codes[start : start + step].astype(np.float32) * scales[start : start + step, None]
        )
        index.add(np.arange(start, start + len(block)), block, threads=os.cpu_count() or 1)
        tell("graph", min(start + step, len(codes)), len(codes))
    index.save(str(path))


# ---------------------------------------------------------------- keeping an index in step


def scan_seeds(
    seeds_dir: Path, known: dict[str, Stamp | None], articles: dict[str, Article], on_bad: str
) -> tuple[list[Article], dict[str, Stamp | None], list[str], list[str], list[str], list[str]]:
    """The folder's articles, reading only files whose size or time changed since `known`.

    on_bad: "raise" (a broken file stops everything), "skip" (left out, with a warning) or
    "keep" (its last good version stays, for live updates: a half-written file must not take
    an article away, let alone the index).
    """
    if not seeds_dir.is_dir():
        raise SeedError(seeds_dir, None, "seeds folder does not exist")
    result, stamps = [], {}
    added, changed, skipped = [], [], []
    present = set()
    for path in sorted(seeds_dir.glob("*.txt")):
        name = path.name
        present.add(name)
        try:
            stat = path.stat()
        except OSError:
            continue
        old = known.get(name)
        if (
            old
            and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
            and name in articles
        ):
            result.append(articles[name])
            stamps[name] = old
            continue
        try:
            data = path.read_bytes()
            stamp = Stamp(stat.st_size, stat.st_mtime_ns, hashlib.sha256(data).hexdigest())
            if old and old.sha256 == stamp.sha256 and name in articles:
                result.append(articles[name])  # touched, not changed
                stamps[name] = stamp
                continue
            article = parse_article(path, data)
        except (SeedError, OSError) as exc:
            problem = exc if isinstance(exc, SeedError) else SeedError(path, None, str(exc))
            if on_bad == "raise":
                raise problem from None
            skipped.append(name)
            if on_bad == "keep" and name in articles:
                log.warning("seed file %s: keeping its last good version", problem)
                result.append(articles[name])
                stamps[name] = known.get(name)
            else:
                log.warning("skipping bad seed file %s", problem)
            continue
        (changed if name in articles else added).append(name)
        result.append(article)
        stamps[name] = stamp
    removed = sorted(set(articles) - present)
    if not result:
        raise SeedError(seeds_dir, None, "no usable seed files (*.txt)")
    result.sort(key=lambda a: (a.date, a.source))
    return result, stamps, added, changed, removed, skipped


def index_key(model_key: str, corpus: str, max_sentences: int, stride: int) -> str:
    raw = json.dumps([INDEX_FORMAT, model_key, corpus, max_sentences, stride])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def sync_index(
    seeds_dir: Path,
    index_root: Path,
    store: ParagraphStore,
    cache_dir: Path | None,
    *,
    max_sentences: int,
    stride: int,
    on_bad: str = "raise",
    current: LocalIndex | None = None,
    progress: BuildProgress | None = None,
) -> tuple[LocalIndex, SyncReport]:
    """The index of a seeds folder, brought in step with it: opened as it is when no file
    changed, otherwise rebuilt (embedding only new paragraphs) and swapped in whole."""
    started = time.perf_counter()
    key = index_key(store.model_key, str(seeds_dir.resolve()), max_sentences, stride)
    folder = IndexFolder(index_root / key)
    dimension = store.model.dimension
    with folder.lock():
        path = folder.current()
        if current is not None and path == current.folder:
            index = current
        else:
            index = _open(path, dimension)
        known = dict(index.stamps) if index else {}
        by_source = {a.source: a for a in index.articles} if index else {}
        articles, stamps, added, changed, removed, skipped = scan_seeds(
            seeds_dir, known, by_source, on_bad
        )
        if index is not None and not (added or changed or removed):
            if stamps != known:  # only modification times moved: nothing to rebuild
                pass
            report = SyncReport(
                len(articles), len(index.passages), (), (), (), tuple(skipped), 0,
                time.perf_counter() - started, index.size_on_disk(), False,
            )  # fmt: skip
            return index, report
        scratch = folder.scratch()
        try:
            embedded = build_generation(
                articles, stamps, store, cache_dir, scratch,
                max_sentences=max_sentences, stride=stride, progress=progress,
            )  # fmt: skip
            final = folder.publish(scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        folder.remove_old()
        index = LocalIndex(final, dimension)
    report = SyncReport(
        len(articles), len(index.passages), tuple(added), tuple(changed), tuple(removed),
        tuple(skipped), embedded, time.perf_counter() - started, index.size_on_disk(), True,
    )  # fmt: skip
    return index, report


def _open(path: Path | None, dimension: int) -> LocalIndex | None:
    if path is None:
        return None
    try:
        index = LocalIndex(path, dimension)
    except (OSError, ValueError, KeyError) as exc:  # damaged: rebuilt from the cache
        log.warning("index %s unreadable (%s); rebuilding it", path, exc)
        return None
    if index.meta.get("format") != INDEX_FORMAT or index.dimension != index.meta.get("dimension"):
        return None
    return index


def build_transient(
    articles: Sequence[Article],
    store: ParagraphStore,
    cache_dir: Path | None,
    *,
    max_sentences: int,
    stride: int,
    progress: BuildProgress | None = None,
) -> LocalIndex:
    """An index of articles that come from no folder (tests, the evaluation's SQuAD set): built
    in a temporary folder that goes when the process ends."""
    import atexit
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="newsbot-index-"))
    atexit.register(shutil.rmtree, folder, True)
    build_generation(
        articles, {}, store, cache_dir, folder,
        max_sentences=max_sentences, stride=stride, progress=progress,
    )  # fmt: skip
    return LocalIndex(folder, store.model.dimension)


__all__ = [
    "BuildProgress",
    "IndexFolder",
    "LocalIndex",
    "Period",
    "Stamp",
    "SyncReport",
    "build_generation",
    "build_transient",
    "math",
    "scan_seeds",
    "sync_index",
]
