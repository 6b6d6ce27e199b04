"""The passages in Milvus (`index.engine: milvus`): candidates from one hybrid search there.

Imported only when the configuration asks for Milvus: the bot without the `milvus` extra never
imports pymilvus. `milvus.uri` is a file path for Milvus Lite (the Milvus core as a child
process, no server to run) or `http://host:19530` for a Milvus standalone or cluster.

Two collections per `milvus.collection_prefix`:
- `<prefix>passages`: one row per passage: its text (english analyzer, stemmed) with Milvus's
  BM25 function, its pooled vector, its article's key and its number in the article, the
  article's date as a day number, and the first and last day its sentences mention;
- `<prefix>articles`: one row per article fully written (its fingerprint), and one row
  `settings` with the index's settings (model, passage windows, date resolver, vector size).
Writing goes by article: its record goes first when it is removed or changed, and comes last
when it is written, so a write cut short (kill -9) leaves the article invisible, and the next
sync writes it again. A question's candidates are one hybrid_search (BM25 on the text and the
vector, reciprocal rank fusion) with the time asked about as a filter; the full scoring,
no-answer rule, dates and highlights then run in the bot as with the local index, on the
passage data of the local index (retrieval.index.reader.LocalIndex).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymilvus import (
    AnnSearchRequest,
    DataType,
    Function,
    FunctionType,
    MilvusClient,
    MilvusException,
    RRFRanker,
)

from retrieval.corpus import Article
from retrieval.dates.timex import RESOLVER_VERSION, Period
from retrieval.index.reader import LocalIndex
from retrieval.index.search import CandidateQuery, EngineUnavailable

log = logging.getLogger(__name__)
# pymilvus logs each failed connection on its own (a line in its own format, with a stack for
# some); the bot says it once, in its words (EngineUnavailable), so its lines are kept out.
for _name in ("pymilvus", "pymilvus.milvus_client"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)
CONNECT_SECONDS = 10.0  # how long a server that does not answer is waited for
# Per call: pymilvus retries a failed call 75 times (3.5 minutes) unless given a whole number
# of seconds; a question waits this long at most before it is told the store is unreachable.
CALL_SECONDS = 8

SETTINGS_ROW = "settings"
ARTICLES_PER_WRITE = 50  # articles written (then made visible) together
BATCH = 256  # passages per insert: well under Milvus's 64 MB message limit at any text length
MAX_TEXT = 65535  # Milvus's VARCHAR limit, in bytes
RRF_K = 60
ProgressHook = Callable[[str, int, int], None]


class EngineMismatch(ValueError):
    """The collections were written with other index settings; str() says which, in one line."""


def article_key(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def fingerprint(article: Article) -> str:
    raw = json.dumps([article.title, article.date.isoformat(), list(article.paragraphs)])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class EngineConfig:
    uri: str
    token: str  # "" for none (Milvus Lite, a server without authentication)
    prefix: str


class MilvusStore:
    """The connection and the two collections; every call that fails is EngineUnavailable."""

    def __init__(self, config: EngineConfig, settings: dict[str, Any], dimension: int) -> None:
        """Raises EngineUnavailable (cannot reach it) or EngineMismatch (other settings)."""
        self.config, self.settings, self.dimension = config, settings, dimension
        self.passages_name = f"{config.prefix}passages"
        self.articles_name = f"{config.prefix}articles"
        self._lock = threading.Lock()
        self._client: MilvusClient | None = None
        with self._calling("open"):
            self._create()
        self._check_settings()

    @property
    def client(self) -> MilvusClient:
        """Connected on first use and again after a failure (the server restarted)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    kwargs = {"token": self.config.token} if self.config.token else {}
                    self._client = MilvusClient(
                        uri=self.config.uri, timeout=CONNECT_SECONDS, **kwargs
                    )
        return self._client

    def _calling(self, what: str) -> _Calling:
        return _Calling(self, what)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception as exc:  # closing a dead connection: nothing left to do
                log.debug("closing Milvus: %s", exc)

    def _create(self) -> None:
        client, wait = self.client, CALL_SECONDS
        if not client.has_collection(self.passages_name, timeout=wait):
            client.create_collection(
                self.passages_name,
                schema=self._passage_schema(),
                index_params=self._indexes(),
                timeout=wait,
            )
        if not client.has_collection(self.articles_name, timeout=wait):
            schema = MilvusClient.create_schema(auto_id=False)
            schema.add_field("key", DataType.VARCHAR, max_length=64, is_primary=True)
            schema.add_field("value", DataType.VARCHAR, max_length=4096)
            schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector
            index = MilvusClient.prepare_index_params()
            index.add_index("unused", index_type="FLAT", metric_type="L2")
            client.create_collection(
                self.articles_name, schema=schema, index_params=index, timeout=wait
            )
        client.load_collection(self.passages_name, timeout=wait)
        client.load_collection(self.articles_name, timeout=wait)

    def _passage_schema(self) -> Any:
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, max_length=64, is_primary=True)
        schema.add_field("article", DataType.VARCHAR, max_length=64)
        schema.add_field("number", DataType.INT64)
        analyzer = {"type": "english"}
        schema.add_field(
            "text", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
            analyzer_params=analyzer,
        )  # fmt: skip
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        for name in ("day", "event_first", "event_last"):
            schema.add_field(name, DataType.INT64)
        schema.add_function(
            Function(
                name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )  # fmt: skip
        return schema

    def _indexes(self) -> Any:
        index = MilvusClient.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        # AUTOINDEX: Milvus Lite has no HNSW; a server picks its own (docs/scaling.md).
        index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
        return index

    def _check_settings(self) -> None:
        wanted = json.dumps(self.settings, sort_keys=True)
        with self._calling("read the settings"):
            rows = self.client.get(
                self.articles_name,
                ids=[SETTINGS_ROW],
                output_fields=["value"],
                timeout=CALL_SECONDS,
            )
            if not rows:
                self._put_record(SETTINGS_ROW, wanted)
                return
        found = json.loads(rows[0]["value"])
        differ = sorted(k for k in self.settings.keys() | found.keys()
                        if self.settings.get(k) != found.get(k))  # fmt: skip
        if differ:
            said = ", ".join(
                f"{k} {found.get(k)!r} there, {self.settings.get(k)!r} here" for k in differ
            )
            raise EngineMismatch(
                f"Milvus collection {self.passages_name} at {self.config.uri} was written with"
                f" other index settings ({said}); set another milvus.collection_prefix or drop"
                " the collections"
            )

    def _put_record(self, key: str, value: str) -> None:
        row = {"key": key, "value": value, "unused": [0.0, 0.0]}
        self.client.upsert(self.articles_name, [row], timeout=CALL_SECONDS)

    def written(self) -> dict[str, str]:
        """Article key -> fingerprint, of every article fully written."""
        found: dict[str, str] = {}
        with self._calling("read the articles"):
            iterator = self.client.query_iterator(
                self.articles_name, batch_size=1000, filter=f'key != "{SETTINGS_ROW}"',
                output_fields=["key", "value"], timeout=CALL_SECONDS,
            )  # fmt: skip
            while batch := iterator.next():
                found.update((row["key"], row["value"]) for row in batch)
            iterator.close()
        return found

    def remove(self, keys: Sequence[str]) -> None:
        """The records first (the articles are invisible from then on), then their passages."""
        with self._calling("remove articles"):
            self.client.delete(self.articles_name, ids=list(keys), timeout=CALL_SECONDS)
            self._delete_passages(keys)

    def write(self, records: dict[str, str], rows: list[dict]) -> None:
        """Some articles' passages (what a write cut short left goes first), then their
        records (key -> fingerprint): an article is visible only once all of it is in."""
        with self._calling("write articles"):
            self._delete_passages(list(records))
            for start in range(0, len(rows), BATCH):
                batch = rows[start : start + BATCH]
                self.client.insert(self.passages_name, batch, timeout=CALL_SECONDS)
            made = [{"key": k, "value": v, "unused": [0.0, 0.0]} for k, v in records.items()]
            self.client.upsert(self.articles_name, made, timeout=CALL_SECONDS)

    def _delete_passages(self, keys: Sequence[str]) -> None:
        if keys:  # the keys are hex digests: nothing in them needs quoting
            listed = ", ".join(f'"{k}"' for k in keys)
            self.client.delete(
                self.passages_name, filter=f"article in [{listed}]", timeout=CALL_SECONDS
            )

    def search(self, query: CandidateQuery, k: int, within: str) -> list[tuple[str, int]]:
        """(article key, passage number) of the passages nearest to the question."""
        vector = [np.asarray(query.vector, np.float32).tolist()]
        requests = [AnnSearchRequest(vector, "vector", {"metric_type": "IP"}, k, expr=within)]
        if any(c.isalnum() for c in query.text):  # BM25 of an empty text is refused
            bm25 = {"metric_type": "BM25"}
            requests.append(AnnSearchRequest([query.text], "sparse", bm25, k, expr=within))
        with self._calling("search"):
            found = self.client.hybrid_search(
                self.passages_name, requests, RRFRanker(RRF_K), limit=min(2 * k, 16384),
                output_fields=["article", "number"], consistency_level="Strong",
                timeout=CALL_SECONDS,
            )  # fmt: skip
        return [(hit["entity"]["article"], int(hit["entity"]["number"])) for hit in found[0]]


class _Calling:
    """Around a call to Milvus: a failure becomes EngineUnavailable (one line) and drops the
    connection, so the next call connects again."""

    def __init__(self, store: MilvusStore, what: str) -> None:
        self.store, self.what = store, what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, _tb) -> bool:  # noqa: ANN001
        if exc is None or not isinstance(exc, MilvusException | OSError | RuntimeError):
            return False
        self.store.close()
        reason = getattr(exc, "message", None) or str(exc) or kind.__name__
        first = reason.strip().splitlines()[0] if reason.strip() else kind.__name__
        uri = self.store.config.uri
        raise EngineUnavailable(f"cannot {self.what} in Milvus at {uri}: {first}") from None


def passage_rows(index: LocalIndex, ids: np.ndarray, key: str) -> list[dict]:
    """The rows of one article's passages (ids in order)."""
    vectors = index.passage_vectors(ids) if len(ids) else np.zeros((0, index.dimension))
    rows = []
    for number, (i, vector) in enumerate(zip(ids, vectors, strict=True)):
        passage = index.passages[int(i)]
        days = [
            (e.period.start.toordinal(), e.period.end.toordinal())
            for s in range(len(passage.sentences))
            for e in index.sentence_expressions[passage.first_sentence_id + s]
        ]
        day = int(index.passage_dates[int(i)])
        text = passage.text.encode()[:MAX_TEXT].decode(errors="ignore")
        rows.append({
            "id": f"{key}:{number}", "article": key, "number": number, "text": text,
            "vector": vector.astype(np.float32).tolist(), "day": day,
            "event_first": min((d[0] for d in days), default=day),
            "event_last": max((d[1] for d in days), default=day),
        })  # fmt: skip
    return rows


def time_filter(period: Period | None) -> str:
    """Passages of an article of that time, or mentioning days around it: a superset of what
    the pipeline's date rule keeps, which the bot then applies exactly."""
    if period is None:
        return ""
    start, end = period.start.toordinal(), period.end.toordinal()
    return f"(day >= {start} and day <= {end}) or (event_first <= {end} and event_last >= {start})"


class MilvusSearch:
    """CandidateSearch over Milvus, with passage ids of the local index."""

    def __init__(
        self,
        store: MilvusStore,
        passage_of: dict[tuple[str, int], int],
        in_time: Callable[[Period], np.ndarray],
    ) -> None:
        self.store, self.passage_of, self.in_time = store, passage_of, in_time

    def candidates(self, query: CandidateQuery, k: int) -> np.ndarray:
        found = self.store.search(query, k, time_filter(query.period))
        # Hits of an article this process does not know (being written by another) are left.
        ids = np.array([self.passage_of[h] for h in found if h in self.passage_of], np.int64)
        if query.period is not None and len(ids):
            ids = ids[self.in_time(query.period)[ids]]
        return np.unique(ids)


class MilvusIndex:
    """A LocalIndex whose candidates come from Milvus: the passage data and corpus statistics
    are the local index's (retrieval.index.search.PassageIndex)."""

    def __init__(self, local: LocalIndex, store: MilvusStore) -> None:
        self.local, self.store = local, store
        self.keys = {a.source: article_key(a.source) for a in local.articles}
        self.passage_of: dict[tuple[str, int], int] = {}
        counts: dict[str, int] = {}
        for i, passage in enumerate(local.passages):
            key = self.keys[passage.article.source]
            number = counts.get(key, 0)
            counts[key] = number + 1
            self.passage_of[(key, number)] = i

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)

    def candidate_search(self, in_time: Callable[[Period], np.ndarray]) -> MilvusSearch:
        return MilvusSearch(self.store, self.passage_of, in_time)

    def by_article(self) -> Iterator[tuple[Article, str, np.ndarray]]:
        """Each article with its key and its passages' ids."""
        ids: dict[str, list[int]] = {}
        for (key, _number), i in sorted(self.passage_of.items(), key=lambda kv: kv[1]):
            ids.setdefault(key, []).append(i)
        for article in self.local.articles:
            key = self.keys[article.source]
            yield article, key, np.array(ids.get(key, []), np.int64)

    def sync(self, progress: ProgressHook | None = None) -> tuple[int, int]:
        """Bring Milvus in step with the local index, by article; (written, removed)."""
        written = self.store.written()
        wanted = {self.keys[a.source] for a in self.local.articles}
        stale = sorted(set(written) - wanted)
        for start in range(0, len(stale), ARTICLES_PER_WRITE):
            self.store.remove(stale[start : start + ARTICLES_PER_WRITE])
        todo = [(a, k, ids) for a, k, ids in self.by_article() if written.get(k) != fingerprint(a)]
        for start in range(0, len(todo), ARTICLES_PER_WRITE):
            chunk = todo[start : start + ARTICLES_PER_WRITE]
            rows = [row for _a, key, ids in chunk for row in passage_rows(self.local, ids, key)]
            self.store.write({key: fingerprint(a) for a, key, _ids in chunk}, rows)
            if progress is not None:
                progress("milvus", start + len(chunk), len(todo))
        return len(todo), len(stale)


class MilvusEngine:
    """Puts each local index the bot opens in Milvus (attach): the store opens on the first,
    and every later one (a reload) writes only the articles that changed."""

    def __init__(self, config: EngineConfig, model_key: str, max_sentences: int, stride: int):
        self.config = config
        self.settings = {
            "model": model_key, "max_sentences": max_sentences, "stride": stride,
            "resolver": RESOLVER_VERSION, "analyzer": "english",
        }  # fmt: skip
        self.store: MilvusStore | None = None

    def attach(self, local: LocalIndex, progress: ProgressHook | None = None) -> MilvusIndex:
        """Raises EngineUnavailable or EngineMismatch (one line each)."""
        if self.store is None:
            settings = {**self.settings, "dimension": local.dimension}
            self.store = MilvusStore(self.config, settings, local.dimension)
        index = MilvusIndex(local, self.store)
        index.sync(progress)
        return index


__all__: Sequence[str] = [
    "EngineConfig",
    "EngineMismatch",
    "MilvusIndex",
    "MilvusSearch",
    "MilvusEngine",
    "MilvusStore",
    "time_filter",
]
